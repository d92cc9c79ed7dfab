/**
 * `tributary demo` (also `npm start`): the clicks example end to end on the embedded log.
 *
 * An emitter writes click events keyed by user; two processor instances of the `demo-click-counter`
 * group split the partitions (the second joins and the group rebalances), count clicks per user in
 * the group table with LMDB stores and commit; a view replicates the table and serves it over HTTP;
 * the demo fetches a few users' counts, checks that the table holds exactly the clicks in the topic,
 * and exits 0.
 * @module
 */
import path from 'node:path'
import { codecs } from '../core/codec.ts'
import { createLogger } from '../core/logger.ts'
import type { TopicPartitionOffset } from '../core/record.ts'
import { openLog, parseLogUrl, type Log } from '../log/index.ts'
import type { Context, RebalanceEvent } from '../processor/index.ts'
import type { StoreBuilder } from '../state/index.ts'

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
  /** Clicks per user fetched over HTTP. */
  fetched: { user: string; clicks: number }[]
  /** Sum of the table's counts; equals the events in the topic. */
  tableTotal: number
}

interface Click {
  user: string
  page: string
  at: number
}

const TOPIC = 'demo-clicks'
const GROUP = 'demo-click-counter'
const PARTITIONS = 4
const USERS = 50

const fmt = (partitions: readonly number[]): string => `[${[...partitions].sort((a, b) => a - b).join(',')}]`

async function ensureTopic(log: Log, print: (line: string) => void): Promise<void> {
  if ((await log.admin.listTopics()).includes(TOPIC)) return
  await log.admin.createTopic({ name: TOPIC, partitions: PARTITIONS })
  print(`created topic ${TOPIC} with ${PARTITIONS} partitions`)
}

/** Resolves when `check()` holds, re-checked on every `notify()`; rejects at `deadline`. */
function until(check: () => boolean, listeners: Set<() => void>, deadline: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`demo: ${what} did not happen in time`)), Math.max(0, deadline - Date.now()))
    const done = (err?: Error): void => {
      clearTimeout(timer)
      listeners.delete(listener)
      if (err) reject(err)
      else resolve()
    }
    const listener = (): void => {
      if (check()) done()
    }
    listeners.add(listener)
    listener()
  })
}

/** Runs the demo and returns what happened. */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  // Loaded here so that other commands start without LMDB and fastify.
  const [{ default: Fastify }, { Emitter, Processor, View, defineGroup, input, persist }, { lmdbStore, memoryStore }] = await Promise.all([
    import('fastify'),
    import('../processor/index.ts'),
    import('../state/index.ts'),
  ])
  const print = options.print ?? ((line: string) => console.log(line))
  const deadline = Date.now() + (options.timeoutMs ?? 120_000)
  const location = parseLogUrl(options.log)
  const log = await openLog(options.log, { cleanerIntervalMs: 0 })
  const logger = createLogger({ level: process.env.TRIBUTARY_LOG_LEVEL ?? 'warn' })
  const stores = (name: string): StoreBuilder =>
    location.backend === 'file' ? lmdbStore({ dir: path.join(location.dir, 'state', name), logger }) : memoryStore()
  const listeners = new Set<() => void>()
  const notify = (): void => {
    for (const l of [...listeners]) l()
  }
  const committed = new Map<number, number>()
  let closing = false
  try {
    print(`log: ${options.log} (${log.backend})`)
    await ensureTopic(log, print)

    // Two instances of one processor group: each counts clicks per user in the group table.
    const members = ['member-1', 'member-2'].map((name) => {
      const counted = { name, records: 0, partitions: new Set<number>(), owned: new Set<number>() }
      const graph = defineGroup(
        GROUP,
        input(TOPIC, codecs.json<Click>(), (ctx: Context<number>) => {
          counted.records++
          counted.partitions.add(ctx.partition)
          ctx.setValue((ctx.value() ?? 0) + 1)
        }),
        persist(codecs.json<number>()),
      )
      const processor = new Processor(log, graph, {
        storage: stores(name),
        clientId: name,
        commitIntervalMs: 100,
        logger,
        onRebalance: (e: RebalanceEvent) => {
          for (const p of e.partitions) (e.type === 'assigned' ? counted.owned.add(p) : counted.owned.delete(p))
          if (!closing) print(`${name}: ${e.type === 'assigned' ? 'assigned' : 'committed and revoked'} partitions ${fmt(e.partitions)}`)
          notify()
        },
        onCommit: (offsets: readonly TopicPartitionOffset[]) => {
          for (const o of offsets) if (o.topic === TOPIC) committed.set(o.partition, Math.max(committed.get(o.partition) ?? 0, o.offset))
          notify()
        },
      })
      processor.observeStateChanges(notify)
      return { counted, processor, run: processor.run() }
    })
    for (const m of members) m.run.catch(notify)
    const failed = (): void => {
      for (const m of members) if (m.processor.state === 'failed') throw m.processor.error
    }

    // The first instance owns every partition; the second joins and the group rebalances.
    await until(() => (failed(), members.every((m) => m.processor.state === 'running' && m.counted.owned.size > 0)), listeners, deadline, 'the group split')

    const emitter = new Emitter(log, TOPIC, codecs.json<Click>())
    for (let i = 0; i < options.records; i++) {
      const user = `user-${i % USERS}`
      emitter.emit(user, { user, page: `/page/${i % 7}`, at: Date.now() })
      if (i % 1_000 === 999) await emitter.flush()
    }
    await emitter.close()
    print(`emitter: appended ${options.records} click events keyed by user to ${TOPIC}`)

    const ends = await log.offsets.endOffsets(TOPIC)
    await until(() => (failed(), ends.every((end, p) => end === 0 || (committed.get(p) ?? 0) >= end)), listeners, deadline, 'the group catching up')
    const consumed = members.map(({ counted }) => ({ member: counted.name, records: counted.records, partitions: [...counted.partitions].sort() }))
    for (const c of consumed) print(`${c.member}: counted ${c.records} records from partitions ${fmt(c.partitions)}`)
    const lag = (await log.offsets.lag(GROUP, TOPIC)).reduce((sum, p) => sum + p.lag, 0)
    print(`group ${GROUP}: caught up, lag ${lag}; committed offsets ${JSON.stringify((await log.offsets.committed(GROUP, TOPIC)).map((o) => o.offset))}`)

    // A view replicates the table; HTTP serves it.
    const view = new View(log, `${GROUP}-table`, codecs.json<number>(), { storage: stores('view'), logger, onUpdate: notify })
    const viewRun = view.run()
    viewRun.catch(notify)
    await view.waitRunning()
    const events = ends.reduce((a, b) => a + b, 0)
    const total = (): number => [...view.iterator()].reduce((sum, [, n]) => sum + n, 0)
    await until(() => total() >= events, listeners, deadline, 'the view catching up')
    const server = Fastify()
    server.get<{ Params: { user: string } }>('/users/:user', async (request) => ({ user: request.params.user, clicks: view.get(request.params.user) ?? 0 }))
    const url = await server.listen({ port: 0, host: '127.0.0.1' })
    print(`view: ${GROUP}-table replicated, serving ${url}/users/:user`)
    const fetched: { user: string; clicks: number }[] = []
    for (const user of ['user-0', 'user-7', 'user-42']) {
      const res = await fetch(`${url}/users/${user}`)
      const body = (await res.json()) as { user: string; clicks: number }
      fetched.push(body)
      print(`GET /users/${user} → ${res.status} ${JSON.stringify(body)}`)
    }
    const tableTotal = total()
    const users = [...view.iterator()].length
    if (tableTotal !== events) throw new Error(`demo: the table counts ${tableTotal} clicks but ${TOPIC} holds ${events}`)
    print(`table ${GROUP}-table: ${users} users, ${tableTotal} clicks = the ${events} events in ${TOPIC}`)

    closing = true
    await server.close()
    await Promise.all(members.map((m) => m.processor.stop()))
    await Promise.all(members.map((m) => m.run))
    await view.stop()
    await viewRun
    await (await import('./demo-pipeline.ts')).runDemoPipeline({ print }) // a pipeline with a dead-letter queue beside the processors
    return { produced: options.records, consumed, fetched, tableTotal }
  } finally {
    await log.close()
  }
}
