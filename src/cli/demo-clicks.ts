/**
 * The demo's click counter: an emitter writes click events keyed by user to `demo-clicks`; two
 * processor instances of the `demo-click-counter` group split its partitions (the second joins and
 * the group rebalances) and count clicks per user in the group table (LMDB stores beside a file
 * log); a view replicates the table and answers `GET /users` and `GET /users/:user`.
 *
 * `startClickCounter` does the first batch and checks it: every event counted once, the group
 * caught up, the view's table total equal to the events in the topic. `traffic()` then keeps clicks
 * flowing so that the start page moves.
 * @module
 */
import { codecs } from '../core/codec.ts'
import type { TopicPartitionOffset } from '../core/record.ts'
import type { Log } from '../log/index.ts'
import type { Context, Emitter, RebalanceEvent, View } from '../processor/index.ts'
import type { RouteModule } from '../server/index.ts'
import type { DemoContext, DemoPart } from './demo-part.ts'

/** The topic, group and table of the click counter. */
export const CLICKS_TOPIC = 'demo-clicks'
export const CLICKS_GROUP = 'demo-click-counter'
export const CLICKS_TABLE = `${CLICKS_GROUP}-table`
const PARTITIONS = 4
const USERS = 50

interface Click {
  user: string
  page: string
  at: number
}

/** What the first batch did. */
export interface ClickBatchResult {
  produced: number
  consumed: { member: string; records: number; partitions: number[] }[]
  /** Sum of the table's counts; equals the events in the topic. */
  tableTotal: number
  /** Users in the table. */
  users: number
}

/** The running click counter. */
export interface ClickCounter extends DemoPart {
  readonly batch: ClickBatchResult
  readonly view: View<number>
  /** Keeps emitting about `perSecond` clicks until the demo stops. */
  traffic(perSecond: number): void
}

const fmt = (partitions: readonly number[]): string => `[${[...partitions].sort((a, b) => a - b).join(',')}]`

async function ensureTopic(log: Log, print: (line: string) => void): Promise<void> {
  if ((await log.admin.listTopics()).includes(CLICKS_TOPIC)) return
  await log.admin.createTopic({ name: CLICKS_TOPIC, partitions: PARTITIONS })
  print(`created topic ${CLICKS_TOPIC} with ${PARTITIONS} partitions`)
}

/** A click of user `i % USERS`; live traffic favours the first users so the ranking has a shape. */
const click = (i: number): Click => {
  const user = `user-${i % USERS}`
  return { user, page: `/page/${i % 7}`, at: Date.now() }
}

/** Starts the processors, emits `records` clicks, waits until they are counted and replicated. */
export async function startClickCounter(ctx: DemoContext, records: number): Promise<ClickCounter> {
  // Loaded here so that other commands start without LMDB.
  const { Emitter, Processor, View, defineGroup, input, persist } = await import('../processor/index.ts')
  const { log, print } = ctx
  await ensureTopic(log, print)
  const committed = new Map<number, number>()
  let stopping = false

  // Two instances of one processor group: each counts clicks per user in the group table.
  const members = ['member-1', 'member-2'].map((name) => {
    const counted = { name, records: 0, partitions: new Set<number>(), owned: new Set<number>() }
    const graph = defineGroup(
      CLICKS_GROUP,
      input(CLICKS_TOPIC, codecs.json<Click>(), (c: Context<number>) => {
        counted.records++
        counted.partitions.add(c.partition)
        c.setValue((c.value() ?? 0) + 1)
      }),
      persist(codecs.json<number>()),
    )
    const processor = new Processor(log, graph, {
      storage: ctx.stores(name),
      clientId: name,
      commitIntervalMs: 100,
      logger: ctx.logger,
      onRebalance: (e: RebalanceEvent) => {
        for (const p of e.partitions) (e.type === 'assigned' ? counted.owned.add(p) : counted.owned.delete(p))
        if (!stopping) print(`${name}: ${e.type === 'assigned' ? 'assigned' : 'committed and revoked'} partitions ${fmt(e.partitions)}`)
        ctx.notify()
      },
      onCommit: (offsets: readonly TopicPartitionOffset[]) => {
        for (const o of offsets) if (o.topic === CLICKS_TOPIC) committed.set(o.partition, Math.max(committed.get(o.partition) ?? 0, o.offset))
        ctx.notify()
      },
    })
    processor.observeStateChanges(ctx.notify)
    const run = processor.run()
    run.catch(ctx.notify)
    return { counted, processor, run }
  })
  const failed = (): void => {
    for (const m of members) if (m.processor.state === 'failed') throw m.processor.error
  }
  let emitter: Emitter<Click> | undefined
  let view: View<number> | undefined
  let viewRun: Promise<void> | undefined
  let traffic: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping = true
    await traffic
    await emitter?.close()
    await Promise.all(members.map((m) => m.processor.stop()))
    await Promise.allSettled(members.map((m) => m.run))
    await view?.stop()
    await viewRun?.catch(() => {})
  }

  try {
    // The first instance owns every partition; the second joins and the group rebalances.
    await ctx.until(() => (failed(), members.every((m) => m.processor.state === 'running' && m.counted.owned.size > 0)), 'the group split')

    const e = new Emitter(log, CLICKS_TOPIC, codecs.json<Click>())
    emitter = e
    for (let i = 0; i < records; i++) {
      const c = click(i)
      e.emit(c.user, c)
      if (i % 1_000 === 999) await e.flush()
    }
    await e.flush()
    print(`emitter: appended ${records} click events keyed by user to ${CLICKS_TOPIC}`)

    const ends = await log.offsets.endOffsets(CLICKS_TOPIC)
    await ctx.until(() => (failed(), ends.every((end, p) => end === 0 || (committed.get(p) ?? 0) >= end)), 'the group catching up')
    const consumed = members.map(({ counted }) => ({ member: counted.name, records: counted.records, partitions: [...counted.partitions].sort() }))
    for (const c of consumed) print(`${c.member}: counted ${c.records} records from partitions ${fmt(c.partitions)}`)
    const lag = (await log.offsets.lag(CLICKS_GROUP, CLICKS_TOPIC)).reduce((sum, p) => sum + p.lag, 0)
    print(`group ${CLICKS_GROUP}: caught up, lag ${lag}; committed offsets ${JSON.stringify((await log.offsets.committed(CLICKS_GROUP, CLICKS_TOPIC)).map((o) => o.offset))}`)

    // A view replicates the table; the HTTP server serves it.
    const v = new View(log, CLICKS_TABLE, codecs.json<number>(), { storage: ctx.stores('view'), logger: ctx.logger, onUpdate: ctx.notify })
    view = v
    viewRun = v.run()
    viewRun.catch(ctx.notify)
    await v.waitRunning()
    const events = ends.reduce((a, b) => a + b, 0)
    const total = (): number => [...v.iterator()].reduce((sum, [, n]) => sum + n, 0)
    await ctx.until(() => total() >= events, 'the view catching up')
    const tableTotal = total()
    const users = [...v.iterator()].length
    if (tableTotal !== events) throw new Error(`demo: the table counts ${tableTotal} clicks but ${CLICKS_TOPIC} holds ${events}`)
    print(`view: ${CLICKS_TABLE} replicated: ${users} users, ${tableTotal} clicks = the ${events} events in ${CLICKS_TOPIC}`)

    let inTopic = events
    let rate = 0
    const routes: RouteModule = (app) => {
      app.get('/users', async () => Object.fromEntries(v.iterator()))
      app.get<{ Params: { user: string } }>('/users/:user', async (request) => ({ user: request.params.user, clicks: v.get(request.params.user) ?? 0 }))
    }
    return {
      name: 'clicks',
      batch: { produced: records, consumed, tableTotal, users },
      view: v,
      routes: [routes],
      status() {
        const rows = [...v.iterator()]
        const top = rows.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10)
        return {
          topic: CLICKS_TOPIC,
          table: CLICKS_TABLE,
          events: inTopic,
          rate,
          users: rows.length,
          clicks: rows.reduce((sum, [, n]) => sum + n, 0),
          top: top.map(([user, clicks]) => ({ user, clicks })),
          members: members.map((m) => ({ name: m.counted.name, state: m.processor.state, partitions: [...m.counted.owned].sort((a, b) => a - b), counted: m.counted.records })),
        }
      },
      traffic(perSecond: number) {
        rate = perSecond
        const tickMs = 100
        traffic = (async () => {
          let carry = 0
          while (!ctx.signal.aborted && !stopping) {
            carry += (perSecond * tickMs) / 1000
            for (; carry >= 1; carry--) {
              // Skewed towards low user numbers: a few heavy users, a long tail.
              const n = Math.floor(USERS * Math.random() ** 2)
              const c = click(n)
              e.emit(c.user, c)
              inTopic++
            }
            await e.flush().catch((err: unknown) => ctx.logger.warn({ err }, 'demo traffic: emit failed'))
            await new Promise((resolve) => setTimeout(resolve, tickMs))
          }
        })()
      },
      stop,
    }
  } catch (err) {
    await stop().catch(() => {})
    throw err
  }
}
