/**
 * The processor behaviour suite, run unchanged on every Log backend:
 *
 * ```ts
 * runProcessorSuite('memory', async () => openEmbeddedLog({ mode: 'memory' }))
 * ```
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { TributaryError, codecs, createLogger } from '../../src/core/index.ts'
import type { Log } from '../../src/log/index.ts'
import { Emitter, Processor, View, defineGroup, input, join, lookup, loop, output, persist, type Context, type RebalanceEvent } from '../../src/processor/index.ts'
import { lmdbStore, memoryStore } from '../../src/state/index.ts'
import { CommitTracker, Events, capturingLogger, faultyLog, lagOf, rejectsWith, uid } from './helpers.ts'

const str = codecs.string()
const num = codecs.json<number>()
/** For processors that are expected to fail: the failure is asserted, not logged. */
const quiet = createLogger({ level: 'silent' })

export interface SuiteOptions {
  /** Timeout for waits (ms). */
  timeoutMs?: number
}

/** Reads a whole table with a fresh view (memory store) and returns it as an object. */
export async function readTable(log: Log, table: string): Promise<{ [key: string]: number }> {
  const view = new View(log, table, num, { storage: memoryStore() })
  const run = view.run()
  await view.waitRunning()
  const out = Object.fromEntries(view.iterator())
  await view.stop()
  await run
  return out
}

/** Counts per key with an idempotent update: each input offset is applied once per partition. */
export function idempotentCounter(group: string, topic: string) {
  return defineGroup(
    group,
    input(topic, str, (ctx: Context<{ n: number; seen: { [p: string]: number } }>) => {
      const row = ctx.value() ?? { n: 0, seen: {} }
      const last = row.seen[`${ctx.partition}`] ?? -1
      if (ctx.offset <= last) return
      row.seen[`${ctx.partition}`] = ctx.offset
      row.n++
      ctx.setValue(row)
    }),
    persist(codecs.json<{ n: number; seen: { [p: string]: number } }>()),
  )
}

export function runProcessorSuite(name: string, open: () => Promise<Log>, options: SuiteOptions = {}): void {
  const timeout = options.timeoutMs ?? 30_000
  describe(`Processor: ${name}`, { timeout: 240_000 }, () => {
    let log: Log
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-processor-'))

    before(async () => {
      log = await open()
    })
    after(async () => {
      await log?.close()
      fs.rmSync(dir, { recursive: true, force: true })
    })

    const topic = async (partitions = 3, prefix = 'in'): Promise<string> => {
      const t = `${prefix}-${uid()}`
      await log.admin.createTopic({ name: t, partitions })
      return t
    }
    const produce = async (t: string, keys: string[], value = 'x'): Promise<void> => {
      const producer = log.producer()
      await producer.send(keys.map((key) => ({ topic: t, key, value })))
      await producer.close()
    }
    const counter = (group: string, t: string) =>
      defineGroup(group, input(t, str, (ctx: Context<number>) => ctx.setValue((ctx.value() ?? 0) + 1)), persist(num))

    it('counts per key, creates its table, and commits inputs only after the table writes', async () => {
      const t = await topic(3)
      const group = `count-${uid()}`
      const keys = Array.from({ length: 300 }, (_, i) => `user-${i % 7}`)
      await produce(t, keys)
      const tracker = new CommitTracker()
      const processor = new Processor(log, counter(group, t), { storage: memoryStore(), commitIntervalMs: 50, onCommit: tracker.onCommit })
      const run = processor.run()
      await processor.waitForReady()
      await tracker.caughtUp(log, t, timeout)
      const table = await log.admin.describeTopic(`${group}-table`)
      assert.equal(table.partitions, 3)
      assert.equal(table.cleanupPolicy, 'compact')
      const counted = await readTable(log, `${group}-table`)
      const expected: { [k: string]: number } = {}
      for (const k of keys) expected[k] = (expected[k] ?? 0) + 1
      assert.deepEqual(counted, expected)
      assert.equal(processor.get('user-3'), expected['user-3'])
      assert.equal(await lagOf(log, group, t), 0)
      const stats = await processor.stats()
      assert.equal(stats.partitions.length, 3)
      assert.equal(stats.partitions.reduce((n, p) => n + (p.input[t]?.count ?? 0), 0), 300)
      assert.ok(stats.partitions.every((p) => p.state === 'running' && (p.input[t]?.lag ?? 0) === 0))
      await processor.stop()
      await run
      assert.equal(processor.state, 'stopped')
    })

    it('rejects non-co-partitioned topics at start, naming topics and partition counts', async () => {
      const a = await topic(2, 'a')
      const b = await topic(3, 'b')
      const group = `copart-${uid()}`
      const processor = new Processor(log, defineGroup(group, input(a, str, () => {}), input(b, str, () => {}), persist(str)), { storage: memoryStore(), logger: quiet })
      await rejectsWith(processor.run(), 'TRIB_PROCESSOR_COPARTITIONING', new RegExp(`${a}: 2 partitions`), new RegExp(`${b}: 3 partitions`))
      assert.equal(processor.state, 'failed')
      assert.deepEqual((await log.admin.listTopics()).filter((n) => n.startsWith(group)), [], 'nothing was created')
    })

    it('rejects a missing input topic at start', async () => {
      const processor = new Processor(log, defineGroup(`missing-${uid()}`, input(`nope-${uid()}`, str, () => {})), { storage: memoryStore(), logger: quiet })
      await rejectsWith(processor.run(), 'TRIB_LOG_UNKNOWN_TOPIC', /input topic "nope-.*" does not exist/)
    })

    it('emits to outputs and loops back through the co-partitioned loop topic', async () => {
      const t = await topic(2)
      const out = await topic(1, 'out')
      const group = `loop-${uid()}`
      const graph = defineGroup(
        group,
        input(t, str, (ctx, sentence: string) => {
          for (const word of sentence.split(' ')) ctx.loopback(word, 1)
        }),
        loop(num, (ctx: Context<number>, n: number) => {
          const total = (ctx.value() ?? 0) + n
          ctx.setValue(total)
          ctx.emit(out, ctx.key, total)
        }),
        output(out, num),
        persist(num),
      )
      const tracker = new CommitTracker()
      const processor = new Processor(log, graph, { storage: memoryStore(), commitIntervalMs: 50, onCommit: tracker.onCommit })
      const run = processor.run()
      await processor.waitForReady()
      assert.equal((await log.admin.describeTopic(`${group}-loop`)).partitions, 2)
      const emitter = new Emitter(log, t, str)
      await emitter.emitSync('s1', 'a b a')
      await emitter.emitSync('s2', 'b a')
      await emitter.close()
      await tracker.caughtUp(log, t, timeout)
      await tracker.caughtUp(log, `${group}-loop`, timeout)
      assert.deepEqual(await readTable(log, `${group}-table`), { a: 3, b: 2 })
      const emitted = new View(log, out, num, { storage: memoryStore() })
      // `out` is a plain stream: a view replays it; the last value per key is the final count.
      const viewRun = emitted.run()
      await emitted.waitRunning()
      assert.deepEqual(Object.fromEntries(emitted.iterator()), { a: 3, b: 2 })
      await emitted.stop()
      await viewRun
      await processor.stop()
      await run
    })

    it('joins a co-partitioned table and looks up another, once both are recovered', async () => {
      const orders = await topic(2, 'orders')
      const users = `users-${uid()}-table`
      const rates = `rates-${uid()}-table`
      await log.admin.createTopic({ name: users, partitions: 2, cleanupPolicy: 'compact' })
      await log.admin.createTopic({ name: rates, partitions: 1, cleanupPolicy: 'compact' })
      const userEmitter = new Emitter(log, users, codecs.json<{ country: string }>())
      await userEmitter.emitSync('alice', { country: 'fr' })
      await userEmitter.emitSync('bob', { country: 'de' })
      await userEmitter.close()
      const rateEmitter = new Emitter(log, rates, num)
      await rateEmitter.emitSync('fr', 2)
      await rateEmitter.emitSync('de', 3)
      await rateEmitter.close()
      const group = `join-${uid()}`
      const graph = defineGroup(
        group,
        input(orders, num, (ctx: Context<number>, amount: number) => {
          const user = ctx.join<{ country: string }>(users)
          const rate = ctx.lookup<number>(rates, user?.country ?? '') ?? 0
          ctx.setValue((ctx.value() ?? 0) + amount * rate)
        }),
        join(users, codecs.json<{ country: string }>()),
        lookup(rates, num),
        persist(num),
      )
      await produce(orders, [], '')
      const emitter = new Emitter(log, orders, num)
      await emitter.emitSync('alice', 10)
      await emitter.emitSync('bob', 10)
      await emitter.emitSync('carol', 10)
      await emitter.close()
      const tracker = new CommitTracker()
      const processor = new Processor(log, graph, { storage: memoryStore(), viewStorage: memoryStore(), commitIntervalMs: 50, onCommit: tracker.onCommit })
      const run = processor.run()
      await tracker.caughtUp(log, orders, timeout)
      assert.deepEqual(await readTable(log, `${group}-table`), { alice: 20, bob: 30, carol: 0 })
      const stats = await processor.stats()
      assert.deepEqual(stats.views.map((v) => v.table).sort(), [rates, users].sort())
      await processor.stop()
      await run
    })

    it('replicates only the assigned partitions of a joined table, and follows the assignment on takeover', async () => {
      const t = await topic(4, 'visits')
      const users = `users-${uid()}-table`
      await log.admin.createTopic({ name: users, partitions: 4, cleanupPolicy: 'compact' })
      const names = Array.from({ length: 40 }, (_, i) => `u${i}`)
      const userEmitter = new Emitter(log, users, str)
      for (const name of names) userEmitter.emit(name, `name of ${name}`)
      await userEmitter.close()
      const group = `joinsplit-${uid()}`
      const graph = defineGroup(
        group,
        input(t, str, (ctx: Context<string>) => ctx.setValue(ctx.join<string>(users) ?? 'missing')),
        join(users, str),
        persist(codecs.json<string>()),
      )
      const rebalances: RebalanceEvent[][] = [[], []]
      const trackers = [new CommitTracker(), new CommitTracker()]
      const make = (i: number) =>
        new Processor(log, graph, {
          storage: memoryStore(),
          viewStorage: memoryStore(),
          commitIntervalMs: 50,
          onCommit: trackers[i].onCommit,
          onRebalance: (e) => rebalances[i].push(e),
          clientId: `joiner-${i}`,
        })
      const owned = (i: number): number[] => {
        const set = new Set<number>()
        for (const e of rebalances[i]) for (const p of e.partitions) (e.type === 'assigned' ? set.add(p) : set.delete(p))
        return [...set].sort()
      }
      const replicated = async (p: Processor): Promise<number[]> => (await p.stats()).views[0].partitions.map((s) => s.partition)
      const a = make(0)
      const b = make(1)
      const ra = a.run()
      const rb = b.run()
      const split = new Events()
      const stop = [a, b].map((p) => p.observeStateChanges(split.emit))
      await split.until(() => a.state === 'running' && b.state === 'running' && owned(0).length === 2 && owned(1).length === 2, timeout, 'a 2/2 split')
      stop.forEach((s) => s())
      await produce(t, names)
      await trackers[0].caughtUp(log, t, timeout, [trackers[1]])
      assert.deepEqual(await replicated(a), owned(0), 'instance a replicates its own partitions of the join')
      assert.deepEqual(await replicated(b), owned(1), 'instance b replicates its own partitions of the join')
      let table = await readTable(log, `${group}-table`)
      for (const name of names) assert.equal(table[name], `name of ${name}`)
      // Renamed before the takeover: the survivor must join against the current rows of b's partitions too.
      const renamer = new Emitter(log, users, str)
      for (const name of names) renamer.emit(name, `new name of ${name}`)
      await renamer.close()
      await b.stop()
      await rb
      await produce(t, names)
      await trackers[0].caughtUp(log, t, timeout)
      assert.deepEqual(owned(0), [0, 1, 2, 3])
      assert.deepEqual(await replicated(a), [0, 1, 2, 3], 'the survivor now replicates every partition of the join')
      table = await readTable(log, `${group}-table`)
      for (const name of names) assert.equal(table[name], `new name of ${name}`)
      await a.stop()
      await ra
    })

    it('rejects a join table that is not co-partitioned', async () => {
      const t = await topic(2)
      const table = `t-${uid()}-table`
      await log.admin.createTopic({ name: table, partitions: 4, cleanupPolicy: 'compact' })
      const processor = new Processor(log, defineGroup(`jc-${uid()}`, input(t, str, () => {}), join(table, str)), { storage: memoryStore(), logger: quiet })
      await rejectsWith(processor.run(), 'TRIB_PROCESSOR_COPARTITIONING', new RegExp(`${table}: 4 partitions`))
    })

    it('stops on an undecodable message with an error naming topic, partition and offset', async () => {
      const t = await topic(1)
      const producer = log.producer()
      await producer.send([{ topic: t, key: 'k', value: '1' }, { topic: t, key: 'k', value: '{broken' }, { topic: t, key: 'k', value: '2' }])
      await producer.close()
      const group = `bad-${uid()}`
      const processor = new Processor(log, defineGroup(group, input(t, num, (ctx: Context<number>, n: number) => ctx.setValue(n)), persist(num)), { storage: memoryStore(), logger: quiet })
      await rejectsWith(processor.run(), 'TRIB_CODEC', new RegExp(`${t}/0 offset 1`))
      assert.equal(processor.state, 'failed')
      assert.ok((await lagOf(log, group, t)) >= 2, 'the bad message and what follows were not committed')
    })

    it('skips an undecodable message when told to, counting and logging it', async () => {
      const t = await topic(1)
      const producer = log.producer()
      await producer.send([{ topic: t, key: 'k', value: '1' }, { topic: t, key: 'k', value: '{broken' }, { topic: t, key: 'k', value: '2' }])
      await producer.close()
      const { logger, lines } = capturingLogger()
      const tracker = new CommitTracker()
      const group = `skip-${uid()}`
      const processor = new Processor(log, defineGroup(group, input(t, num, (ctx: Context<number>, n: number) => ctx.setValue(n)), persist(num)), {
        storage: memoryStore(),
        badInput: 'skip',
        logger,
        commitIntervalMs: 50,
        onCommit: tracker.onCommit,
      })
      const run = processor.run()
      await tracker.caughtUp(log, t, timeout)
      assert.equal(processor.get('k'), 2)
      assert.equal((await processor.stats()).partitions[0].skipped, 1)
      assert.ok(lines.some((l) => l.offset === 1 && /skipped/.test(String(l.msg))))
      await processor.stop()
      await run
    })

    it('stops with the error when a callback throws, without committing that input', async () => {
      const t = await topic(1)
      await produce(t, ['a', 'b', 'boom', 'c'])
      const group = `throw-${uid()}`
      const processor = new Processor(
        log,
        defineGroup(group, input(t, str, (ctx: Context<number>) => {
          if (ctx.key === 'boom') throw new Error('kaput')
          ctx.setValue(1)
        }), persist(num)),
        { storage: memoryStore(), logger: quiet },
      )
      await rejectsWith(processor.run(), 'TRIB_PROCESSOR_CALLBACK', new RegExp(`${t}/0 offset 2 threw: kaput`))
      assert.equal(processor.state, 'failed')
      assert.ok(processor.error instanceof TributaryError)
      const committed = (await log.offsets.committed(group, t)).find((o) => o.partition === 0)?.offset ?? 0
      assert.ok(committed <= 2, `offset ${committed} does not pass the failed message`)
    })

    it('resumes from its stored offset after a restart (lmdb), and a memory store recovers the whole changelog', async () => {
      const t = await topic(2)
      const group = `restart-${uid()}`
      await produce(t, Array.from({ length: 100 }, (_, i) => `k${i % 5}`))
      const storage = lmdbStore({ dir: path.join(dir, group) })
      const first = new CommitTracker()
      const p1 = new Processor(log, counter(group, t), { storage, commitIntervalMs: 50, onCommit: first.onCommit })
      const r1 = p1.run()
      await first.caughtUp(log, t, timeout)
      await p1.stop()
      await r1
      await produce(t, Array.from({ length: 50 }, (_, i) => `k${i % 5}`))
      const second = new CommitTracker()
      const p2 = new Processor(log, counter(group, t), { storage, commitIntervalMs: 50, onCommit: second.onCommit })
      const r2 = p2.run()
      await second.caughtUp(log, t, timeout)
      const stats = await p2.stats()
      const tableEnds = await log.offsets.endOffsets(`${group}-table`)
      for (const p of stats.partitions) {
        assert.equal(p.recovery.records, 0, 'nothing to replay: the store was at the changelog end')
        assert.ok(p.recovery.startOffset > 0 && p.recovery.startOffset <= tableEnds[p.partition])
      }
      for (let i = 0; i < 5; i++) assert.equal(p2.get(`k${i}`), 30)
      await p2.stop()
      await r2
      const third = new CommitTracker()
      const p3 = new Processor(log, counter(group, t), { storage: memoryStore(), commitIntervalMs: 50, onCommit: third.onCommit })
      const r3 = p3.run()
      await p3.waitForReady()
      const recovered = (await p3.stats()).partitions.reduce((n, p) => n + p.recovery.records, 0)
      const changelog = (await log.offsets.endOffsets(`${group}-table`)).reduce((a, b) => a + b, 0)
      assert.equal(recovered, changelog, 'a fresh store replays every changelog record')
      for (let i = 0; i < 5; i++) assert.equal(p3.get(`k${i}`), 30)
      await p3.stop()
      await r3
    })

    it('discards a corrupt local store with a warning and rebuilds it from the changelog', async () => {
      const t = await topic(1)
      const group = `corrupt-${uid()}`
      await produce(t, Array.from({ length: 2_000 }, (_, i) => `key-${i % 500}`))
      const stateDir = path.join(dir, group)
      const tracker = new CommitTracker()
      const p1 = new Processor(log, counter(group, t), { storage: lmdbStore({ dir: stateDir }), commitIntervalMs: 50, onCommit: tracker.onCommit })
      const r1 = p1.run()
      await tracker.caughtUp(log, t, timeout)
      await p1.stop()
      await r1
      const file = path.join(stateDir, 'processor', `${group}-table`, '0', 'data.mdb')
      const bytes = fs.readFileSync(file)
      bytes.fill(0x41, 8_192, Math.min(bytes.length, 65_536))
      fs.writeFileSync(file, bytes)
      const { logger, lines } = capturingLogger()
      const p2 = new Processor(log, counter(group, t), { storage: lmdbStore({ dir: stateDir, logger }), commitIntervalMs: 50 })
      const r2 = p2.run()
      await p2.waitForReady()
      assert.ok(lines.some((l) => /corrupt/.test(String(l.msg))), 'a warning was logged')
      const [changelog] = await log.offsets.endOffsets(`${group}-table`)
      assert.ok(changelog >= 500, `every key reached the changelog (${changelog} records)`)
      assert.equal((await p2.stats()).partitions[0].recovery.records, changelog, 'the whole changelog was replayed')
      for (let i = 0; i < 500; i += 97) assert.equal(p2.get(`key-${i}`), 4)
      await p2.stop()
      await r2
    })

    it('splits partitions between two instances; when one stops mid-stream the other takes over with the table intact', async () => {
      const t = await topic(4)
      const group = `split-${uid()}`
      const rebalances: RebalanceEvent[][] = [[], []]
      const trackers = [new CommitTracker(), new CommitTracker()]
      // Every input each instance processed, as partition:offset. A plain (not idempotent) counter:
      // an input processed twice across the hand-over shows as a count of 21 and a repeated entry.
      const processed: string[][] = [[], []]
      const STOP_B_AFTER = 40
      let stoppingB: Promise<void> | undefined
      const make = (i: number): Processor =>
        new Processor(
          log,
          defineGroup(
            group,
            input(t, str, (ctx: Context<number>) => {
              processed[i].push(`${ctx.partition}:${ctx.offset}`)
              ctx.setValue((ctx.value() ?? 0) + 1)
              // b stops in the middle of its inputs, with more of them waiting in its partitions.
              if (i === 1 && processed[1].length === STOP_B_AFTER) stoppingB = b.stop()
            }),
            persist(num),
          ),
          {
            storage: memoryStore(),
            commitIntervalMs: 50,
            // Small polls, so that the stop lands with inputs of b's partitions not yet fetched.
            maxPollRecords: 10,
            onCommit: trackers[i].onCommit,
            onRebalance: (e) => rebalances[i].push(e),
            clientId: `instance-${i}`,
          },
        )
      const a = make(0)
      const b = make(1)
      const ra = a.run()
      const rb = b.run()
      const split = new Events()
      const owned = (i: number): number[] => {
        const set = new Set<number>()
        for (const e of rebalances[i]) for (const p of e.partitions) (e.type === 'assigned' ? set.add(p) : set.delete(p))
        return [...set].sort()
      }
      const stop = [a, b].map((p) => p.observeStateChanges(split.emit))
      await split.until(() => a.state === 'running' && b.state === 'running' && owned(0).length === 2 && owned(1).length === 2, timeout, 'a 2/2 split')
      stop.forEach((s) => s())
      const ofB = owned(1)
      assert.deepEqual([...owned(0), ...owned(1)].sort(), [0, 1, 2, 3])
      const keys = Array.from({ length: 800 }, (_, i) => `k${i % 40}`)
      await produce(t, keys)
      await trackers[0].caughtUp(log, t, timeout, [trackers[1]])
      await stoppingB
      await rb
      const ends = await log.offsets.endOffsets(t)
      const inputsOfB = ofB.reduce((sum, p) => sum + ends[p], 0)
      assert.ok(processed[1].length < inputsOfB, `b stopped mid-stream (${processed[1].length} of its ${inputsOfB} inputs)`)
      assert.deepEqual(owned(0), [0, 1, 2, 3], 'the remaining instance took every partition')
      assert.ok(
        processed[0].some((id) => ofB.includes(Number(id.split(':')[0]))),
        'a processed the rest of b’s partitions',
      )
      const all = [...processed[0], ...processed[1]]
      const twice = all.filter((id, i) => all.indexOf(id) !== i)
      assert.deepEqual(twice, [], 'no input was processed by both instances (b committed what it processed before it left)')
      assert.equal(all.length, 800, 'and none was skipped')
      for (let i = 0; i < 40; i++) assert.equal(a.get<number>(`k${i}`), 20, `k${i}: the table holds every count exactly once`)
      await a.stop()
      await ra
    })

    it('restarts itself after a transient error and loses nothing', async () => {
      const t = await topic(2)
      const group = `transient-${uid()}`
      const faulty = faultyLog(log)
      const tracker = new CommitTracker()
      const states: string[] = []
      const processor = new Processor(faulty.log, idempotentCounter(group, t), {
        storage: memoryStore(),
        commitIntervalMs: 50,
        onCommit: tracker.onCommit,
        backoff: { initialMs: 10, maxMs: 50 },
        logger: quiet,
      })
      processor.observeStateChanges((s) => states.push(s))
      const run = processor.run()
      await processor.waitForReady()
      faulty.failSends(2, () => new TributaryError('TRIB_LOG_BROKER_UNREACHABLE', 'injected: broker down', { retriable: true }))
      const keys = Array.from({ length: 100 }, (_, i) => `k${i % 10}`)
      await produce(t, keys)
      await tracker.caughtUp(log, t, timeout)
      assert.ok(states.includes('reconnecting'), `went through reconnecting: ${states.join(' → ')}`)
      assert.ok((await processor.stats()).restarts >= 1)
      for (let i = 0; i < 10; i++) assert.equal(processor.get<{ n: number }>(`k${i}`)?.n, 10)
      await processor.stop()
      await run
    })

    it('a view of some partitions serves those, refuses the others by name, and changes its set', async () => {
      const table = `partial-${uid()}-table`
      await log.admin.createTopic({ name: table, partitions: 2, cleanupPolicy: 'compact' })
      const emitter = new Emitter(log, table, num)
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`)
      const partitionOf = new Map<string, number>()
      for (const [i, key] of keys.entries()) partitionOf.set(key, (await emitter.emitSync(key, i)).partition)
      await emitter.close()
      const inOne = keys.filter((k) => partitionOf.get(k) === 1)
      const inZero = keys.filter((k) => partitionOf.get(k) === 0)
      assert.ok(inOne.length > 0 && inZero.length > 0)
      const view = new View(log, table, num, { storage: memoryStore(), partitions: [1] })
      const run = view.run()
      await view.waitRunning()
      assert.equal(view.get(inOne[0]), keys.indexOf(inOne[0]))
      assert.throws(
        () => view.get(inZero[0]),
        (err) => err instanceof TributaryError && err.code === 'TRIB_INVALID_ARGUMENT' && /partition 0, which this view does not replicate/.test(err.message),
      )
      assert.deepEqual([...view.iterator()].map(([k]) => k).sort(), [...inOne].sort())
      assert.deepEqual(view.stats().partitions.map((p) => p.partition), [1])
      view.replicate([0])
      assert.equal(view.state, 'connecting', 'a new set leaves running at once')
      await view.waitRunning()
      assert.equal(view.get(inZero[0]), keys.indexOf(inZero[0]))
      assert.throws(() => view.get(inOne[0]), (err) => err instanceof TributaryError && err.code === 'TRIB_INVALID_ARGUMENT')
      view.replicate('all')
      await view.waitRunning()
      assert.deepEqual([...view.iterator()].map(([k]) => k).sort(), [...keys].sort())
      assert.throws(() => view.replicate([-1]), (err) => err instanceof TributaryError && err.code === 'TRIB_INVALID_ARGUMENT')
      await view.stop()
      await run
    })

    it('a view serves get/has/iterator/range and reports its state changes', async () => {
      const table = `view-${uid()}-table`
      await log.admin.createTopic({ name: table, partitions: 2, cleanupPolicy: 'compact' })
      const emitter = new Emitter(log, table, num)
      for (const [k, v] of [['a', 1], ['b', 2], ['c', 3]] as const) emitter.emit(k, v)
      await emitter.flush()
      const states: string[] = []
      const updates = new Events()
      let applied = 0
      const view = new View(log, table, num, { storage: memoryStore(), onUpdate: () => { applied++; updates.emit() } })
      view.observeStateChanges((s) => states.push(s))
      assert.throws(() => view.get('a'), (err) => err instanceof TributaryError && err.code === 'TRIB_VIEW_NOT_READY')
      const run = view.run()
      await view.waitRunning()
      assert.equal(view.get('b'), 2)
      assert.equal(view.has('z'), false)
      assert.deepEqual([...view.iterator()].map(([k]) => k).sort(), ['a', 'b', 'c'])
      assert.deepEqual([...view.range('b', 'c')].map(([k]) => k), ['b'])
      await emitter.emitSync('a', 10)
      await emitter.emitSync('c', null)
      await updates.until(() => applied >= 5, timeout, 'live updates')
      assert.equal(view.get('a'), 10)
      assert.equal(view.has('c'), false)
      await emitter.close()
      await view.stop()
      await run
      assert.deepEqual(states.slice(0, 4), ['initializing', 'connecting', 'catching-up', 'running'])
      assert.equal(view.state, 'stopped')
    })
  })
}
