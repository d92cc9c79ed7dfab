#!/usr/bin/env node
/**
 * The `tributary` command.
 * @module
 */
import { Command, CommanderError } from 'commander'
import { isTributaryError } from '../core/errors.ts'
import { benchCommand } from './bench-command.ts'
import { runDemo } from './demo.ts'
import { kinesisCommand } from './kinesis-command.ts'
import { ingestCommand } from './ingest-command.ts'
import { logCommand } from './log-command.ts'
import { monitorCommand } from './monitor-command.ts'
import { logOption, positiveInt } from './options.ts'
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
    .description('run the demo job on the embedded log: click events counted per user by two processor instances, served by a view over HTTP')
    .addOption(logOption())
    .option('-n, --records <n>', 'click events to produce', positiveInt, 10_000)
    .action(async (opts: { log: string; records: number }) => {
      await runDemo({ log: opts.log, records: opts.records })
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
