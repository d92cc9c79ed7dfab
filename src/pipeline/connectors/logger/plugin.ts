/**
 * The `log` connector plugin: Conduit's `builtin:log` destination, which writes every record to the
 * logger (pino here, zerolog in Conduit) at the `level` setting (`trace`, `debug`, `info` — the
 * default —, `warn`, `error`), as the field `record` holding the record's OpenCDC JSON, with the
 * `message` setting as the log message. It keeps nothing, so every record is acked at once.
 *
 * This is not Tributary's Log (topics and consumer groups): that connector is `tributary-log`.
 *
 * @example
 * ```yaml
 * - { id: out, type: destination, plugin: builtin:log, settings: { level: warn, message: delivered } }
 * ```
 * @module
 */
import type { ZodType } from 'zod'
import type { Logger } from '../../../core/logger.ts'
import type { ConnectorContext, ConnectorPlugin, Destination, DestinationAck } from '../../connector.ts'
import type { PipelineRecord } from '../../record.ts'
import { conduitRecordJson } from '../opencdc-json.ts'
import { connectorSettings } from '../settings.ts'

/** The levels Conduit's log destination accepts. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface LogDestinationSettings {
  readonly level: LogLevel
  readonly message: string
}

/** The zod schema of the log destination's settings. */
export const logDestinationSettings: ZodType<LogDestinationSettings> = connectorSettings((s) => {
  const raw = s.string('level', 'info')
  const level = raw.toLowerCase()
  if (!(LOG_LEVELS as readonly string[]).includes(level)) s.fail('level', `is ${JSON.stringify(raw)}; use one of ${LOG_LEVELS.join(', ')}`)
  s.accept('sdk.record.format', 'sdk.record.format.options', 'sdk.batch.size', 'sdk.batch.delay')
  return { level: level as LogLevel, message: s.string('message', '') }
})

/** Writes records to a logger. */
export class LogDestination implements Destination {
  readonly #settings: LogDestinationSettings
  readonly #logger: Logger

  constructor(settings: LogDestinationSettings, ctx: ConnectorContext) {
    this.#settings = settings
    this.#logger = ctx.logger
  }

  async open(_signal: AbortSignal): Promise<void> {}

  async write(records: readonly PipelineRecord[], _signal: AbortSignal): Promise<DestinationAck[]> {
    const { level, message } = this.#settings
    const logger = this.#logger
    const enabled = logger.isLevelEnabled(level)
    const acks: DestinationAck[] = new Array(records.length)
    for (let i = 0; i < records.length; i++) {
      const record = records[i]
      if (enabled) logger[level]({ record: JSON.parse(conduitRecordJson(record)) }, message)
      acks[i] = { position: record.position }
    }
    return acks
  }

  async teardown(): Promise<void> {}
}

/** The log plugin (Conduit's `builtin:log`). */
export const logConnector: ConnectorPlugin<LogDestinationSettings> = {
  name: 'log',
  summary: "writes every record to the logger at a level (Conduit's builtin:log)",
  settings: logDestinationSettings,
  destination: (settings, ctx) => new LogDestination(settings, ctx),
}
