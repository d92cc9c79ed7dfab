/**
 * `tributary bench <name>` (also `npm run bench -- <name>`).
 * @module
 */
import { Command, Option } from 'commander'
import { positiveInt } from './options.ts'

/** The machine description; the bench modules load only when a bench runs. */
async function machineLine(): Promise<string> {
  return (await import('../bench/report.ts')).machine()
}

/** Builds the `bench` command group. */
export function benchCommand(): Command {
  const bench = new Command('bench').description('run a benchmark: ours beside the ceiling, with the ratio')
  bench
    .command('log')
    .description('produce then consume N records of 100-byte values with 16-byte keys')
    .addOption(new Option('--backend <name>', 'which log').choices(['memory', 'file', 'kafka']).default('file'))
    .option('--records <n>', 'records to produce and consume', positiveInt, 1_000_000)
    .option('--batch <n>', 'records per send call', positiveInt, 1_000)
    .option('--rounds <n>', 'alternating rounds of ours and the ceiling (default 2; kafka 3, reporting medians and spread)', positiveInt)
    .option('--json', 'print one JSON object per phase')
    .action(async (opts: { backend: 'memory' | 'file' | 'kafka'; records: number; batch: number; rounds?: number; json?: boolean }) => {
      if (!opts.json) console.log(`# machine: ${await machineLine()}`)
      const { runLogBench } = await import('../bench/log-bench.ts')
      await runLogBench({ backend: opts.backend, records: opts.records, batch: opts.batch, rounds: opts.rounds, json: opts.json ?? false })
    })
  bench
    .command('count')
    .description('count per key over 10,000 Zipf keys (100-byte values) with a processor, beside a stateless consume-produce ceiling')
    .addOption(new Option('--backend <name>', 'which log').choices(['memory', 'file', 'kafka']).default('file'))
    .option('--records <n>', 'input records', positiveInt, 1_000_000)
    .option('--partitions <n>', 'partitions of the input topic', positiveInt, 4)
    .option('--json', 'print one JSON object')
    .action(async (opts: { backend: 'memory' | 'file' | 'kafka'; records: number; partitions: number; json?: boolean }) => {
      if (!opts.json) console.log(`# machine: ${await machineLine()}`)
      const { runCountBench } = await import('../bench/count-bench.ts') // loads LMDB only when used
      await runCountBench({ backend: opts.backend, records: opts.records, partitions: opts.partitions, json: opts.json ?? false })
    })
  bench
    .command('monitor')
    .description('consumer-lag monitor: ingest G groups x P partitions x C commits, evaluate every group, decode real __consumer_offsets records, RSS')
    .option('--groups <n>', 'consumer groups', positiveInt, 1_000)
    .option('--partitions <n>', 'partitions per group', positiveInt, 100)
    .option('--commits <n>', 'commits per partition (= the ring size)', positiveInt, 10)
    .option('--decode <n>', '__consumer_offsets records to decode', positiveInt, 1_000_000)
    .option('--json', 'print one JSON object')
    .option('--no-rss', 'skip the RSS of running monitor processes (10 groups x 50 partitions; Kafka too when KAFKA_BROKERS is set)')
    .action(async (opts: { groups: number; partitions: number; commits: number; decode: number; json?: boolean; rss: boolean }) => {
      if (!opts.json) console.log(`# machine: ${await machineLine()}`)
      const { runMonitorBench } = await import('../bench/monitor-bench.ts')
      runMonitorBench({ groups: opts.groups, partitions: opts.partitions, commits: opts.commits, decodeRecords: opts.decode, json: opts.json ?? false })
      if (opts.rss) {
        const { measureMonitorRss } = await import('../bench/monitor-rss.ts')
        const results = await measureMonitorRss({ kafkaBrokers: process.env.KAFKA_BROKERS, print: opts.json ? () => {} : undefined })
        if (opts.json) console.log(JSON.stringify({ bench: 'monitor-rss', results }))
      }
    })
  bench
    .command('pipeline')
    .description('pipeline runtime end to end beside a ceiling without it: generator-file, log-log (embedded file log), kafka-kafka, kafka-postgres, postgres-cdc')
    .option('--case <name...>', 'cases to run (default all): generator-file, log-log, kafka-kafka, kafka-postgres, postgres-cdc')
    .option('--records <n>', 'records per case (default 1,000,000; kafka-kafka 500,000)', positiveInt)
    .option('--json', 'print one JSON object per case')
    .action(async (opts: { case?: string[]; records?: number; json?: boolean }) => {
      if (!opts.json) console.log(`# machine: ${await machineLine()}`)
      const { runPipelineBench, addPipelineBenchCase } = await import('../bench/pipeline-bench.ts')
      const { postgresBenchCases } = await import('../bench/pipeline-postgres-bench.ts')
      for (const [name, c] of Object.entries(postgresBenchCases)) addPipelineBenchCase(name, c)
      await runPipelineBench({ cases: opts.case, records: opts.records, json: opts.json ?? false })
    })
  bench
    .command('kinesis')
    .description('KinesisWorker with a no-op consumer beside a raw GetRecords loop on kinesalite, then kill -9 failover time')
    .option('--records <n>', 'records in the stream', positiveInt, 200_000)
    .option('--shards <n>', 'shards of the stream (even)', positiveInt, 4)
    .option('--rounds <n>', 'alternating rounds of ours and the ceiling; the best of each is reported', positiveInt, 2)
    .option('--lease-duration <ms>', 'lease duration of the failover phase', positiveInt, 3_000)
    .option('--tick <ms>', 'balancing tick of the failover phase', positiveInt, 500)
    .option('--json', 'print one JSON object')
    .action(async (opts: { records: number; shards: number; rounds: number; leaseDuration: number; tick: number; json?: boolean }) => {
      if (!opts.json) console.log(`# machine: ${await machineLine()}`)
      const { runKinesisBench } = await import('../bench/kinesis-bench.ts')
      await runKinesisBench({ records: opts.records, shards: opts.shards, rounds: opts.rounds, leaseDurationMs: opts.leaseDuration, balanceIntervalMs: opts.tick, json: opts.json ?? false })
    })
  bench
    .command('ingest')
    .description('an ingestion job from Kafka into PostgreSQL with upserts (8 JSON columns) beside a raw read + COPY-then-upsert ceiling')
    .option('--records <n>', 'messages', positiveInt, 1_000_000)
    .addOption(new Option('--processors <n...>', 'processor counts to measure').choices(['1', '2', '4', '8']).default(['1', '4']))
    .option('--batch <n>', "rows per batch (the job's batchSize and the ceiling's)", positiveInt, 32_768)
    .option('--rounds <n>', 'alternating rounds of the ceiling and ours; the best of each is reported', positiveInt, 2)
    .option('--json', 'print one JSON object per processor count')
    .action(async (opts: { records: number; processors: string[]; batch: number; rounds: number; json?: boolean }) => {
      if (!opts.json) console.log(`# machine: ${await machineLine()}`)
      const { runIngestBench } = await import('../bench/ingest-bench.ts')
      await runIngestBench({ records: opts.records, processors: opts.processors.map(Number), batch: opts.batch, rounds: opts.rounds, json: opts.json ?? false })
    })
  return bench
}
