#!/usr/bin/env node
/**
 * The `tributary` command.
 * @module
 */
import { Command, CommanderError } from 'commander'
import { isTributaryError } from '../core/errors.ts'
import { benchCommand } from './bench-command.ts'
import { kinesisCommand } from './kinesis-command.ts'
import { ingestCommand } from './ingest-command.ts'
import { logCommand } from './log-command.ts'
import { monitorCommand } from './monitor-command.ts'
import { DEMO_PORT, logOption, nonNegativeInt, port, positiveInt } from './options.ts'
import { runCommand } from './run-command.ts'

/** Builds the command tree (exported for tests). */
export function program(): Command {
  const root = new Command('tributary')
    .description('Stream processing for TypeScript on an embedded log or Apache Kafka')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
  root.addCommand(logCommand())
  root
    .command('demo')
    .description(
      'the main job (npm start): click events counted per user by two processor instances on the embedded log, a view and the lag monitor, ' +
        `served with live traffic on http://127.0.0.1:${DEMO_PORT} until Ctrl-C`,
    )
    .addOption(logOption())
    .option('-n, --records <n>', 'click events in the first batch', positiveInt, 10_000)
    .option('-p, --port <port>', `serve on this port exactly (default ${DEMO_PORT}, or the next free one)`, port)
    .option('--host <host>', 'serve on this interface', '127.0.0.1')
    .option('--rate <n>', 'live click events per second while serving', nonNegativeInt, 20)
    .option('--once', 'run the first batch, check it over HTTP and exit (for scripts and tests)')
    .action(async (opts: { log: string; records: number; port?: number; host: string; rate: number; once?: boolean }) => {
      const controller = new AbortController()
      const stop = (): void => {
        if (controller.signal.aborted) process.exit(130) // a second Ctrl-C: do not wait
        controller.abort()
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
      try {
        const { runDemo } = await import('./demo.ts') // the processor and LMDB load only for the demo
        await runDemo({ log: opts.log, records: opts.records, port: opts.port, host: opts.host, rate: opts.rate, once: opts.once, signal: controller.signal })
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
      }
    })
  root.addCommand(benchCommand())
  root.addCommand(monitorCommand())
  root.addCommand(runCommand())
  root.addCommand(kinesisCommand())
  root.addCommand(ingestCommand())
  return root
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const cli = program()
  const override = (cmd: Command): void => {
    cmd.exitOverride()
    cmd.commands.forEach(override)
  }
  override(cli)
  try {
    await cli.parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode
    if (isTributaryError(err)) {
      console.error(`error: ${err.message} (${err.code})`)
      return 1
    }
    console.error(err)
    return 1
  }
}

if (import.meta.main) process.exitCode = await main(process.argv)
