/**
 * Shared command-line handling of the examples: `--log <url>` picks any log, `--kafka [brokers]` is
 * the one flag that moves an example from the embedded log to Kafka.
 *
 *   npm run example -- word-count                          embedded log in memory
 *   npm run example -- word-count --log file:./.wc         embedded log in files (state survives)
 *   npm run example -- word-count --kafka                  Kafka on KAFKA_BROKERS or 127.0.0.1:9092
 */
import { parseArgs } from 'node:util'

/** Parsed example options. */
export interface ExampleArgs {
  /** The log URL. */
  log: string
  /** Remaining positional arguments. */
  rest: string[]
  /** Other `--name value` options. */
  values: { [name: string]: string | boolean | undefined }
}

/** Parses `argv` with the shared `--log`/`--kafka` options plus `extra` string options. */
export function exampleArgs(argv: string[], defaultLog: string, extra: string[] = [], flags: string[] = []): ExampleArgs {
  // `--kafka` may be followed by a broker list or by nothing.
  const args = [...argv]
  let kafka: string | undefined
  const at = args.indexOf('--kafka')
  if (at >= 0) {
    const next = args[at + 1]
    kafka = next !== undefined && /^[\w.-]+:\d+(,[\w.-]+:\d+)*$/.test(next) ? next : (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092')
    args.splice(at, next === kafka ? 2 : 1)
  }
  const options: { [name: string]: { type: 'string' | 'boolean' } } = { log: { type: 'string' } }
  for (const name of extra) options[name] = { type: 'string' }
  for (const name of flags) options[name] = { type: 'boolean' }
  const { values, positionals } = parseArgs({ args, options, allowPositionals: true })
  const log = kafka !== undefined ? `kafka://${kafka}` : ((values.log as string | undefined) ?? defaultLog)
  return { log, rest: positionals, values }
}
