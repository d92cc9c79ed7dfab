/**
 * The lease conformance suite: every {@link LeaseStore} runs it unchanged (embedded LMDB, DynamoDB on
 * dynalite, PostgreSQL). It specifies the conditional writes and, through {@link LeaseCoordinator},
 * expiry by counter, balancing, claim and hand-over, and fenced checkpoints.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/index.ts'
import { LeaseCoordinator, type Lease, type LeaseCoordinatorOptions, type LeaseStore } from '../../src/lease/index.ts'

/** Opens a store on a fresh table; `second` opens another client on the same table (another connection). */
export interface StoreFactory {
  open(table: string): Promise<LeaseStore>
}

/** Resolves once `check` returns true, polling every 20 ms; fails after `timeoutMs` naming `what`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const table = (): string => `leases-${randomUUID().slice(0, 8)}`

export function leaseStoreConformance(name: string, factory: StoreFactory): void {
  describe(`lease store conformance: ${name}`, () => {
    /** Coordinators a test started; stopped before its stores close, also when the test fails. */
    const running = new Set<LeaseCoordinator>()
    const withStores = async (n: number, body: (stores: LeaseStore[]) => Promise<void>): Promise<void> => {
      const t = table()
      const stores: LeaseStore[] = []
      try {
        for (let i = 0; i < n; i++) {
          const s = await factory.open(t)
          await s.init()
          stores.push(s)
        }
        await body(stores)
      } finally {
        for (const c of running) await c.stop({ release: false }).catch(() => {})
        running.clear()
        for (const s of stores) await s.close()
      }
    }

    it('init is idempotent; create makes a free row once; get and list read it back with parents and checkpoint', () =>
      withStores(1, async ([store]) => {
        await store.init()
        assert.equal(await store.create('a', { parents: ['p1', 'p2'], checkpoint: 'TRIM' }), true)
        assert.equal(await store.create('a'), false)
        assert.equal(await store.create('b'), true)
        const a = await store.get('a')
        assert.deepEqual({ ...a, parents: [...(a?.parents ?? [])].sort() }, {
          key: 'a', owner: undefined, counter: 0, timeout: undefined, checkpoint: 'TRIM', parents: ['p1', 'p2'], claim: undefined, closed: false,
        })
        assert.equal(await store.get('missing'), undefined)
        assert.deepEqual((await store.list()).map((l) => l.key).sort(), ['a', 'b'])
        await store.delete('b')
        assert.deepEqual((await store.list()).map((l) => l.key), ['a'])
      }))

    it('concurrent takes of one observed row: exactly one wins, over separate connections', () =>
      withStores(4, async (stores) => {
        await stores[0].create('k')
        const observed = (await stores[0].get('k')) as Lease
        const results = await Promise.all(stores.flatMap((s, i) => [s.take(observed, `w${i}`, 1000), s.take(observed, `w${i}b`, 1000)]))
        const winners = results.filter((r) => r !== undefined)
        assert.equal(winners.length, 1)
        const row = (await stores[0].get('k')) as Lease
        assert.equal(row.owner, winners[0]?.owner)
        assert.equal(row.counter, 1)
        assert.match(row.timeout ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
      }))

    it('renew moves the counter; a renewal from a stale view fails and changes nothing', () =>
      withStores(1, async ([store]) => {
        await store.create('k')
        const held = (await store.take((await store.get('k')) as Lease, 'a', 1000)) as Lease
        const renewed = (await store.renew(held, 1000)) as Lease
        assert.equal(renewed.counter, held.counter + 1)
        assert.equal(renewed.owner, 'a')
        assert.equal(await store.renew(held, 1000), undefined)
        assert.deepEqual(await store.get('k'), renewed)
      }))

    it('a claim blocks renewal; release keeps the claim; the claimer takes it and the claim is cleared', () =>
      withStores(2, async ([a, b]) => {
        await a.create('k')
        const held = (await a.take((await a.get('k')) as Lease, 'owner', 1000)) as Lease
        const claimed = (await b.claim(held, 'claimer')) as Lease
        assert.equal(claimed.claim, 'claimer')
        assert.equal(claimed.counter, held.counter, 'a claim does not move the counter')
        assert.equal(await b.claim(held, 'other'), undefined, 'a second claim fails')
        assert.equal(await a.renew(held, 1000), undefined, 'renewal of a claimed lease fails')
        const released = (await a.release(held)) as Lease
        assert.equal(released.owner, undefined)
        assert.equal(released.claim, 'claimer')
        const taken = (await b.take(released, 'claimer', 1000)) as Lease
        assert.equal(taken.owner, 'claimer')
        assert.equal(taken.claim, undefined)
      }))

    it('fenced checkpoint: the owner writes; a zombie (stale owner or counter) changes nothing; a checkpoint never clears a claim', () =>
      withStores(2, async ([a, b]) => {
        await a.create('k')
        const mine = (await a.take((await a.get('k')) as Lease, 'a', 1000)) as Lease
        const written = (await a.checkpoint(mine, '100')) as Lease
        assert.equal(written.checkpoint, '100')
        assert.equal(written.counter, mine.counter, 'a checkpoint does not move the counter')
        // b takes it over (as after expiry); a is now a zombie
        const theirs = (await b.take(written, 'b', 1000)) as Lease
        assert.equal(await a.checkpoint(written, '200'), undefined)
        assert.deepEqual(await a.get('k'), theirs)
        // a claim pending on b's lease survives b's checkpoint
        await a.claim(theirs, 'a')
        const cp = (await b.checkpoint(theirs, '300')) as Lease
        assert.equal(cp.claim, 'a')
        assert.equal(cp.checkpoint, '300')
        const closed = (await b.checkpoint(cp, 'SHARD_END', { close: true })) as Lease
        assert.equal(closed.closed, true)
        assert.equal(closed.checkpoint, 'SHARD_END')
        assert.equal(await b.checkpoint({ ...closed, owner: undefined }, 'x'), undefined, 'an unowned view cannot checkpoint')
      }))

    it('release by a non-owner fails', () =>
      withStores(1, async ([store]) => {
        await store.create('k')
        const held = (await store.take((await store.get('k')) as Lease, 'a', 1000)) as Lease
        assert.equal(await store.release({ ...held, owner: 'b' }), undefined)
        assert.equal(await store.release({ ...held, counter: held.counter + 5 }), undefined)
        assert.equal((await store.get('k'))?.owner, 'a')
      }))

    describe('coordinator on this store', () => {
      const coordinator = (store: LeaseStore, workerId: string, extra: Partial<LeaseCoordinatorOptions> = {}): LeaseCoordinator => {
        const c = new LeaseCoordinator({ store, workerId, leaseDurationMs: 400, renewIntervalMs: 100, takeIntervalMs: 100, ...extra })
        running.add(c)
        return c
      }

      it('a lease whose counter stops moving expires after the lease duration as the taker observed it, and not before', () =>
        withStores(2, async ([s1, s2]) => {
          await s1.create('job')
          const a = coordinator(s1, 'a')
          await a.start()
          assert.deepEqual(a.heldKeys(), ['job'])
          const lost: string[] = []
          const b = coordinator(s2, 'b', { onLost: (key, reason) => void lost.push(`${key}:${reason}`) })
          await b.start()
          // a renews: b never takes it
          await new Promise((r) => setTimeout(r, 700))
          assert.deepEqual(b.heldKeys(), [])
          // a stops renewing without releasing (a crash): b takes it once the counter sat still for 400 ms
          await a.stop({ release: false })
          const stoppedAt = Date.now()
          await waitFor('b takes the expired lease', () => b.heldKeys().includes('job'), 5_000)
          const took = Date.now() - stoppedAt
          assert.ok(took >= 300, `taken after ${took} ms, not before the lease duration`)
          assert.ok(took <= 400 + 100 + 400, `taken after ${took} ms, within duration + tick (+ slack)`)
          await b.stop()
          assert.equal((await s1.get('job'))?.owner, undefined, 'stop releases')
        }))

      it('a zombie checkpoint throws TRIB_LEASE_LOST, reports the loss, and leaves the row as the new owner wrote it', () =>
        withStores(2, async ([s1, s2]) => {
          await s1.create('job')
          const lost: string[] = []
          const a = coordinator(s1, 'a', { onLost: (key, reason) => void lost.push(`${key}:${reason}`) })
          await a.start()
          await a.checkpoint('job', '10')
          await a.stop({ release: false })
          // a paused zombie still believes it holds the lease
          const zombie = coordinator(s1, 'a', { onLost: (key, reason) => void lost.push(`${key}:${reason}`) })
          const b = coordinator(s2, 'b')
          await b.start()
          await waitFor('b takes the lease', () => b.heldKeys().includes('job'), 5_000)
          await b.checkpoint('job', '20')
          // the zombie writes with the row as it last knew it
          const row = (await s2.get('job')) as Lease
          await assert.rejects(s1.checkpoint({ ...row, owner: 'a', counter: 1 }, '15').then((r) => {
            if (r === undefined) throw Object.assign(new Error('fenced'), { fenced: true })
          }), { fenced: true })
          await assert.rejects(zombie.checkpoint('job', '15'), (err: unknown) => isTributaryError(err, 'TRIB_LEASE_LOST') && /job/.test((err as Error).message))
          assert.equal((await s2.get('job'))?.checkpoint, '20')
          await b.stop()
        }))

      it('three workers over eight leases end up balanced within one lease, then the leaves\' leases spread over the rest', () =>
        withStores(3, async (stores) => {
          for (let i = 0; i < 8; i++) await stores[0].create(`job-${i}`)
          const workers = stores.map((s, i) => coordinator(s, `w${i}`, { takeIntervalMs: 60 + i * 10 }))
          for (const w of workers) await w.start()
          const balanced = (ws: LeaseCoordinator[], total: number): boolean => {
            const counts = ws.map((w) => w.heldKeys().length)
            return counts.reduce((x, y) => x + y, 0) === total && Math.max(...counts) - Math.min(...counts) <= 1
          }
          await waitFor('8 leases balanced over 3 workers', () => balanced(workers, 8), 10_000)
          const all = workers.flatMap((w) => w.heldKeys()).sort()
          assert.equal(new Set(all).size, 8, 'no lease is held twice')
          await workers[2].stop()
          await waitFor('8 leases balanced over 2 workers', () => balanced(workers.slice(0, 2), 8), 10_000)
          for (const w of workers) await w.stop()
        }))

      it('stealing: a new worker claims from the loaded one, which checkpoints in onLost(claimed) and hands over', () =>
        withStores(2, async ([s1, s2]) => {
          for (let i = 0; i < 4; i++) await s1.create(`job-${i}`)
          const handed: string[] = []
          const a: LeaseCoordinator = coordinator(s1, 'a', {
            onLost: async (key, reason) => {
              if (reason === 'claimed') {
                await a.checkpoint(key, `final-${key}`)
                handed.push(key)
              }
            },
          })
          await a.start()
          assert.equal(a.heldKeys().length, 4)
          const b = coordinator(s2, 'b')
          await b.start()
          await waitFor('2 and 2', () => a.heldKeys().length === 2 && b.heldKeys().length === 2, 10_000)
          assert.equal(handed.length, 2)
          for (const key of b.heldKeys()) assert.equal((await s2.get(key))?.checkpoint, `final-${key}`, 'the final checkpoint of the old owner is kept')
          await a.stop()
          await b.stop()
        }))

      it('no stealing when disabled; eligibility rules hold leases back', () =>
        withStores(2, async ([s1, s2]) => {
          for (let i = 0; i < 4; i++) await s1.create(`job-${i}`)
          await s1.create('child', { parents: ['job-0'] })
          const eligible = (l: Lease, all: ReadonlyMap<string, Lease>): boolean => !l.closed && l.parents.every((p) => all.get(p)?.closed === true)
          const a = coordinator(s1, 'a', { enableStealing: false, eligible })
          await a.start()
          assert.deepEqual(a.heldKeys(), ['job-0', 'job-1', 'job-2', 'job-3'])
          const b = coordinator(s2, 'b', { enableStealing: false, eligible })
          await b.start()
          await new Promise((r) => setTimeout(r, 500))
          assert.deepEqual(b.heldKeys(), [])
          await a.checkpoint('job-0', 'END', { close: true })
          await a.release('job-0')
          await waitFor('child taken once its parent closed', () => [...a.heldKeys(), ...b.heldKeys()].includes('child'), 5_000)
          assert.ok(![...a.heldKeys(), ...b.heldKeys()].includes('job-0'), 'a closed lease is never taken')
          await a.stop()
          await b.stop()
        }))

      it('a checkpoint from an earlier acquisition of the same key is refused after the worker took the lease again', () =>
        withStores(1, async ([store]) => {
          await store.create('job')
          const a = coordinator(store, 'a', { enableStealing: false })
          await a.start()
          const first = a.epoch('job') as number
          await a.checkpoint('job', '1', { epoch: first })
          await a.release('job')
          assert.equal(a.epoch('job'), undefined)
          await waitFor('a takes it again', () => a.epoch('job') !== undefined, 5_000)
          const second = a.epoch('job') as number
          assert.notEqual(second, first)
          await assert.rejects(a.checkpoint('job', '0', { epoch: first }), (err: unknown) => isTributaryError(err, 'TRIB_LEASE_LOST'))
          assert.equal((await store.get('job'))?.checkpoint, '1')
          await a.checkpoint('job', '2', { epoch: second })
          assert.deepEqual(a.heldKeys(), ['job'], 'the refused stale write does not drop the current acquisition')
          await a.stop()
        }))

      it('rejects a bad workerId and lease duration', () =>
        withStores(1, async ([store]) => {
          assert.throws(() => coordinator(store, ''), (err: unknown) => isTributaryError(err, 'TRIB_INVALID_ARGUMENT') && /workerId/.test((err as Error).message))
          assert.throws(() => coordinator(store, 'x', { leaseDurationMs: 0 }), /leaseDurationMs/)
        }))
    })
  })
}
