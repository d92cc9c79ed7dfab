/**
 * `tributary log ...`: topic admin, produce, consume and lag against any backend.
 * @module
 */
import { createInterface } from 'node:readline'
import { Command, Option } from 'commander'
import { isTributaryError, TributaryError } from '../core/errors.ts'
import type { ProduceRecord } from '../core/record.ts'
import { openLog, type Log } from '../log/index.ts'
import { keyValue, logOption, nonNegativeInt, positiveInt } from './options.ts'

/**
 * Opens the log for one command. `readOnly` (commands that only look) opens a `file:` log without
 * taking it over — no lock, nothing created — so they work beside the process that owns the
 * directory; a directory without a log is an error that says what to do.
 */
async function withLog<T>(url: string, body: (log: Log) => Promise<T>, readOnly = false): Promise<T> {
  let log: Log
  try {
    log = await openLog(url, { cleanerIntervalMs: 0, readOnly })
  } catch (err) {
    if (!isTributaryError(err, 'TRIB_LOG_NOT_FOUND')) throw err
    const dir = String(err.details?.dir ?? url)
    throw new TributaryError('TRIB_LOG_NOT_FOUND', `no log at ${dir}; run \`npm start\` first or point --log at one`, { details: { dir } })
  }
  try {
    return await body(log)
  } finally {
    await log.close()
  }
}

const show = (b: Buffer | null): string => (b === null ? 'null' : b.toString())

/** Builds the `log` command group. */
export function logCommand(): Command {
  const log = new Command('log').description('manage topics, produce and consume records')

  log
    .command('topics')
    .description('list topics with partition counts and end offsets')
    .addOption(logOption())
    .action(async (opts: { log: string }) => {
      await withLog(opts.log, async (l) => {
        for (const name of await l.admin.listTopics()) {
          const d = await l.admin.describeTopic(name)
          const end = await l.offsets.endOffsets(name)
          console.log(`${name}\tpartitions=${d.partitions}\tcleanup=${d.cleanupPolicy}\trecords=${end.reduce((a, b) => a + b, 0)}`)
        }
      }, true)
    })

  log
    .command('create <topic>')
    .description('create a topic')
    .addOption(logOption())
    .option('-p, --partitions <n>', 'number of partitions', positiveInt, 1)
    .option('--compact', 'cleanup.policy=compact (keep the latest value per key)')
    .option('--retention-ms <ms>', 'drop data older than this', nonNegativeInt)
    .option('--config <key=value>', 'extra topic config (repeatable)', keyValue)
    .action(async (topic: string, opts: { log: string; partitions: number; compact?: boolean; retentionMs?: number; config?: { [k: string]: string } }) => {
      await withLog(opts.log, (l) =>
        l.admin.createTopic({
          name: topic,
          partitions: opts.partitions,
          cleanupPolicy: opts.compact ? 'compact' : 'delete',
          retentionMs: opts.retentionMs,
          configs: opts.config,
        }),
      )
      console.log(`created ${topic} with ${opts.partitions} partition(s)`)
    })

  log
    .command('describe <topic>')
    .description('show a topic: partitions, policy, start and end offsets')
    .addOption(logOption())
    .action(async (topic: string, opts: { log: string }) => {
      await withLog(opts.log, async (l) => {
        const d = await l.admin.describeTopic(topic)
        const [start, end] = [await l.offsets.startOffsets(topic), await l.offsets.endOffsets(topic)]
        console.log(JSON.stringify({ ...d, startOffsets: start, endOffsets: end }, null, 2))
      }, true)
    })

  log
    .command('delete <topic>')
    .description('delete a topic and its data')
    .addOption(logOption())
    .action(async (topic: string, opts: { log: string }) => {
      // Looked up read-only first, so that deleting from a missing log creates nothing.
      const exists = await withLog(opts.log, async (l) => (await l.admin.listTopics()).includes(topic), true)
      if (!exists) {
        throw new TributaryError('TRIB_LOG_UNKNOWN_TOPIC', `topic ${JSON.stringify(topic)} does not exist; nothing deleted (tributary log topics lists the topics)`, { details: { topic } })
      }
      await withLog(opts.log, (l) => l.admin.deleteTopic(topic))
      console.log(`deleted ${topic}`)
    })

  log
    .command('produce <topic>')
    .description('append records: --value (repeatable), or one record per line of stdin ("key<TAB>value" with --keyed)')
    .addOption(logOption())
    .option('-k, --key <key>', 'key for --value records')
    .option('-v, --value <value>', 'a record value (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--keyed', 'stdin lines are "key<TAB>value"')
    .option('--partition <n>', 'write to this partition', nonNegativeInt)
    .option('-H, --header <name=value>', 'a header for every record (repeatable)', keyValue)
    .addOption(new Option('--partitioner <name>', 'partitioner for keyed records').choices(['murmur2', 'fnv1a']).default('murmur2'))
    .action(async (topic: string, opts: { log: string; key?: string; value?: string[]; keyed?: boolean; partition?: number; header?: { [k: string]: string }; partitioner: 'murmur2' | 'fnv1a' }) => {
      await withLog(opts.log, async (l) => {
        const producer = l.producer({ partitioner: opts.partitioner })
        const make = (key: string | undefined, value: string): ProduceRecord => ({ topic, key: key ?? null, value, partition: opts.partition, headers: opts.header })
        let count = 0
        if (opts.value) {
          const meta = await producer.send(opts.value.map((v) => make(opts.key, v)))
          for (const m of meta) console.log(`${m.topic}/${m.partition}@${m.offset}`)
          count = meta.length
        } else {
          let batch: ProduceRecord[] = []
          const lines = createInterface({ input: process.stdin })
          for await (const line of lines) {
            if (line === '') continue
            const tab = line.indexOf('\t')
            batch.push(opts.keyed && tab >= 0 ? make(line.slice(0, tab), line.slice(tab + 1)) : make(opts.key, line))
            if (batch.length >= 1_000) {
              count += (await producer.send(batch)).length
              batch = []
            }
          }
          if (batch.length > 0) count += (await producer.send(batch)).length
          console.error(`produced ${count} record(s) to ${topic}`)
        }
        await producer.close()
      })
    })

  log
    .command('consume <topic>')
    .description('print records as "partition offset key value" (or JSON lines); stops when idle')
    .addOption(logOption())
    .option('-g, --group <group>', 'consumer group (commits what it printed with --commit; default: a group of its own per run)')
    .option('--commit', 'commit the printed records for the group')
    .option('--latest', 'start at the end when the group has no committed offset')
    .option('-n, --max <n>', 'stop after this many records', positiveInt)
    .option('--idle-ms <ms>', 'stop after this long without records', positiveInt, 2_000)
    .option('--json', 'print one JSON object per record')
    .action(async (topic: string, opts: { log: string; group?: string; commit?: boolean; latest?: boolean; max?: number; idleMs: number; json?: boolean }) => {
      await withLog(opts.log, async (l) => {
        const consumer = l.consumer({ groupId: opts.group ?? `tributary-cli-${process.pid}`, topics: [topic], autoOffsetReset: opts.latest ? 'latest' : 'earliest' })
        let printed = 0
        let idleSince = Date.now()
        const max = opts.max ?? Number.POSITIVE_INFINITY
        while (printed < max && Date.now() - idleSince < opts.idleMs) {
          const records = await consumer.poll({ timeoutMs: Math.min(500, opts.idleMs), maxRecords: Math.min(10_000, max - printed) })
          if (records.length > 0) idleSince = Date.now()
          for (const r of records) {
            if (opts.json) {
              console.log(JSON.stringify({ partition: r.partition, offset: r.offset, timestamp: r.timestamp, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, headers: Object.fromEntries(r.headers.map(([k, v]) => [k, v.toString()])) }))
            } else {
              console.log(`${r.partition}\t${r.offset}\t${show(r.key)}\t${show(r.value)}`)
            }
          }
          printed += records.length
          if (opts.commit && records.length > 0) {
            const last = new Map<number, number>()
            for (const r of records) last.set(r.partition, r.offset + 1)
            await consumer.commit([...last].map(([partition, offset]) => ({ topic, partition, offset })))
          }
        }
        await consumer.close()
        console.error(`consumed ${printed} record(s) from ${topic}`)
      }, !opts.commit)
    })

  log
    .command('lag <group> <topic>')
    .description("show a group's committed offsets, end offsets and lag per partition")
    .addOption(logOption())
    .action(async (group: string, topic: string, opts: { log: string }) => {
      await withLog(opts.log, async (l) => {
        let total = 0
        for (const p of await l.offsets.lag(group, topic)) {
          total += p.lag
          console.log(`${topic}\t${p.partition}\tcommitted=${p.committed}\tend=${p.end}\tlag=${p.lag}`)
        }
        console.log(`total lag ${total}`)
      }, true)
    })

  return log
}
