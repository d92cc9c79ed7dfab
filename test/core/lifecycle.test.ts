import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Backoff, Lifecycle, sleep, whenAborted } from '../../src/core/index.ts'

describe('Backoff', () => {
  it('grows exponentially up to the cap, with jitter inside the ceiling, and resets', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1_000, jitter: 0, random: () => 0.5 })
    assert.deepEqual([1, 2, 3, 4, 5].map(() => backoff.next()), [100, 200, 400, 800, 1_000])
    backoff.reset()
    assert.equal(backoff.next(), 100)
    const jittered = new Backoff({ initialMs: 100, jitter: 1, random: () => 0.25 })
    assert.equal(jittered.next(), 25)
  })
})

describe('whenAborted', () => {
  it('resolves when the signal aborts, and at once for one that already has', async () => {
    const controller = new AbortController()
    let resolved = false
    const waiting = whenAborted(controller.signal).then(() => (resolved = true))
    await sleep(10)
    assert.equal(resolved, false, 'still waiting before the abort')
    controller.abort()
    await waiting
    assert.equal(resolved, true)
    await whenAborted(AbortSignal.abort())
  })
})

describe('Lifecycle', () => {
  it('goes idle → running → stopped, and stop() aborts the body and waits for it', async () => {
    let cleanedUp = false
    const service = new Lifecycle('svc', async (signal) => {
      await sleep(60_000, signal).catch(() => {})
      cleanedUp = true
    })
    assert.equal(service.state, 'idle')
    const run = service.start()
    await service.waitFor('running')
    await service.stop()
    await run
    assert.equal(service.state, 'stopped')
    assert.ok(cleanedUp)
    await service.stop()
  })

  it('waits for ready() when the body takes it, and stops on an external signal', async () => {
    const controller = new AbortController()
    const service = new Lifecycle('svc', async (signal, ready) => {
      await sleep(10)
      ready()
      await sleep(60_000, signal).catch(() => {})
    })
    service.start(controller.signal)
    assert.equal(service.state, 'starting')
    await service.waitFor('running')
    controller.abort()
    await service.waitFor('stopped')
  })

  it('reports a failing body as failed, and waiters see its error', async () => {
    const service = new Lifecycle('svc', async () => {
      throw new Error('boom')
    })
    await assert.rejects(service.start(), /boom/)
    assert.equal(service.state, 'failed')
    await assert.rejects(service.waitFor('running'), /boom/)
  })
})
