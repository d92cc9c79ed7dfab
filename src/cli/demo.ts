/**
 * `tributary demo`: the main job for now. A producer writes click events keyed by user while a
 * two-member consumer group splits the partitions, rebalances as the second member joins, counts
 * clicks per member and commits; it exits 0 once the group has caught up (lag 0).
 * @module
 */
import type { TopicPartition } from '../core/record.ts'
import { openLog, type GroupConsumer, type Log } from '../log/index.ts'

/** Options of {@link runDemo}. */
export interface DemoOptions {
  log: string
  records: number
  /** Where lines go (console.log by default). */
  print?: (line: string) => void
  /** Give up after this long (ms). */
  timeoutMs?: number
}

/** What the demo did. */
export interface DemoResult {
  produced: number
  consumed: { member: string; records: number; partitions: number[] }[]
}

const TOPIC = 'demo-clicks'
const GROUP = 'demo-click-counter'
const PARTITIONS = 4

const fmt = (tps: TopicPartition[]): string => `[${tps.map((tp) => tp.partition).sort().join(',')}]`

async function ensureTopic(log: Log, print: (line: string) => void): Promise<void> {
  if ((await log.admin.listTopics()).includes(TOPIC)) return
  await log.admin.createTopic({ name: TOPIC, partitions: PARTITIONS })
  print(`created topic ${TOPIC} with ${PARTITIONS} partitions`)
}

/** Runs the demo and returns what happened. */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => console.log(line))
  const deadline = Date.now() + (options.timeoutMs ?? 120_000)
  const log = await openLog(options.log, { cleanerIntervalMs: 0 })
  try {
    print(`log: ${options.log} (${log.backend})`)
    await ensureTopic(log, print)
    const members = ['member-1', 'member-2'].map((name) => {
      const counted = { name, records: 0, partitions: new Set<number>() }
      const consumer: GroupConsumer = log.consumer({
        groupId: GROUP,
        topics: [TOPIC],
        clientId: name,
        onAssign: (tps) => print(`${name}: assigned partitions ${fmt(tps)}`),
        onRevoke: async (tps) => {
          // Hand over cleanly: commit what was processed before the partitions move.
          await consumer.commit()
          print(`${name}: committed and revoked partitions ${fmt(tps)}`)
        },
      })
      return { counted, consumer }
    })
    const pollAll = (): Promise<void[]> =>
      Promise.all(
        members.map(async ({ counted, consumer }) => {
          const records = await consumer.poll({ timeoutMs: 200 })
          for (const r of records) counted.partitions.add(r.partition)
          counted.records += records.length
          if (records.length > 0) await consumer.commit()
        }),
      )

    // The first member joins alone and owns every partition; the second joins and the group rebalances.
    await members[0].consumer.poll({ timeoutMs: 200 })
    while (members.some((m) => m.consumer.assignment().length === 0)) {
      if (Date.now() > deadline) throw new Error('demo: the group did not settle in time')
      await pollAll()
    }

    const producer = log.producer()
    const users = 50
    let produced = 0
    while (produced < options.records) {
      const n = Math.min(1_000, options.records - produced)
      const batch = Array.from({ length: n }, (_, i) => {
        const user = `user-${(produced + i) % users}`
        return { topic: TOPIC, key: user, value: JSON.stringify({ user, page: `/page/${(produced + i) % 7}`, at: Date.now() }) }
      })
      await producer.send(batch)
      produced += n
      await pollAll()
    }
    print(`producer: appended ${produced} click events keyed by user to ${TOPIC}`)

    for (;;) {
      await pollAll()
      const lag = (await log.offsets.lag(GROUP, TOPIC)).reduce((sum, p) => sum + p.lag, 0)
      if (lag === 0) break
      if (Date.now() > deadline) throw new Error(`demo: the group did not catch up in time (lag ${lag})`)
    }
    const consumed = members.map(({ counted }) => ({ member: counted.name, records: counted.records, partitions: [...counted.partitions].sort() }))
    for (const c of consumed) print(`${c.member}: consumed ${c.records} records from partitions [${c.partitions.join(',')}]`)
    print(`group ${GROUP}: caught up, lag 0; committed offsets ${JSON.stringify((await log.offsets.committed(GROUP, TOPIC)).map((o) => o.offset))}`)
    for (const { consumer } of members) await consumer.close()
    return { produced, consumed }
  } finally {
    await log.close()
  }
}
