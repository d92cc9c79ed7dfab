/**
 * `tributary bench <name>` (also `npm run bench -- <name>`).
 * @module
 */
import { Command, Option } from 'commander'
import { runLogBench } from '../bench/log-bench.ts'
import { machine } from '../bench/report.ts'
import { positiveInt } from './options.ts'

/** Builds the `bench` command group. */
export function benchCommand(): Command {
  const bench = new Command('bench').description('run a benchmark: ours beside the ceiling, with the ratio')
  bench
    .command('log')
    .description('produce then consume N records of 100-byte values with 16-byte keys')
    .addOption(new Option('--backend <name>', 'which log').choices(['memory', 'file', 'kafka']).default('file'))
    .option('--records <n>', 'records to produce and consume', positiveInt, 1_000_000)
    .option('--batch <n>', 'records per send call', positiveInt, 1_000)
    .option('--json', 'print one JSON object per phase')
    .action(async (opts: { backend: 'memory' | 'file' | 'kafka'; records: number; batch: number; json?: boolean }) => {
      if (!opts.json) console.log(`# machine: ${machine()}`)
      await runLogBench({ backend: opts.backend, records: opts.records, batch: opts.batch, json: opts.json ?? false })
    })
  return bench
}
