/**
 * The project logger: pino, JSON lines on stderr by default, level from `TRIBUTARY_LOG_LEVEL`.
 *
 * @example
 * ```ts
 * const log = createLogger({ name: 'embedded-log' })
 * log.warn({ file, position }, 'truncated torn tail')
 * ```
 * @module
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'

export type { Logger } from 'pino'

/**
 * Creates a pino logger writing to `destination`, by default stderr (stdout stays free for a
 * command's output).
 */
export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const level = options.level ?? process.env.TRIBUTARY_LOG_LEVEL ?? 'info'
  return pino({ ...options, level }, destination ?? pino.destination({ fd: 2, sync: true }))
}

let root: Logger | undefined

/** The shared root logger; children are cheap (`rootLogger().child({ component: 'x' })`). */
export function rootLogger(): Logger {
  root ??= createLogger({ name: 'tributary' })
  return root
}
