import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RateLimiter } from '../../src/ingest/rate-limiter.ts'
import { RetryFailureHandler } from '../../src/ingest/retry-handler.ts'

describe('ingest retry failure handler', () => {
  const recordSleeps = (): { waits: number[]; sleep: (ms: number) => Promise<void> } => {
    const waits: number[] = []
    return { waits, sleep: async (ms: number) => void waits.push(ms) }
  }

  it('waits initial × multiplier^n while the next wait fits in maxRetryMinutes, then returns the last error', async () => {
    const { waits, sleep } = recordSleeps()
    const handler = new RetryFailureHandler({ initRetryIntervalInSeconds: 60, multiplier: 2, maxRetryMinutes: 15 }, sleep)
    let calls = 0
    const out = await handler.handle(new Error('first'), async () => {
      calls++
      throw new Error(`attempt ${calls}`)
    })
    // 60 + 120 + 240 = 420 s; the next wait (480 s) would end at 900 s, not before 15 min.
    assert.deepEqual(waits, [60_000, 120_000, 240_000])
    assert.deepEqual(out.ok ? null : [out.attempts, (out.error as Error).message], [3, 'attempt 3'])
  })

  it('starts from the initial interval on every call (AresDB never reset it)', async () => {
    const { waits, sleep } = recordSleeps()
    const handler = new RetryFailureHandler({ initRetryIntervalInSeconds: 1, multiplier: 3, maxRetryMinutes: 1 }, sleep)
    let fail = 1
    await handler.handle(new Error('x'), async () => {
      if (fail-- > 0) throw new Error('again')
    })
    await handler.handle(new Error('y'), async () => {})
    assert.deepEqual(waits, [1000, 3000, 1000])
  })

  it('returns the original error when not one retry fits (AresDB returned nil and the batch was committed)', async () => {
    const { waits, sleep } = recordSleeps()
    const handler = new RetryFailureHandler({ initRetryIntervalInSeconds: 120, multiplier: 1, maxRetryMinutes: 1 }, sleep)
    const original = new Error('sink down')
    const out = await handler.handle(original, async () => {})
    assert.deepEqual(waits, [])
    assert.equal(out.ok, false)
    assert.equal(!out.ok && out.error, original)
  })

  it('succeeds as soon as a retry succeeds', async () => {
    const { sleep } = recordSleeps()
    const handler = new RetryFailureHandler({ initRetryIntervalInSeconds: 1, multiplier: 1, maxRetryMinutes: 10 }, sleep)
    let n = 0
    const out = await handler.handle(new Error('x'), async () => {
      if (++n < 4) throw new Error('not yet')
    })
    assert.deepEqual(out, { ok: true, attempts: 4 })
  })

  it('rejects when aborted while waiting', async () => {
    const handler = new RetryFailureHandler({ initRetryIntervalInSeconds: 60, multiplier: 1, maxRetryMinutes: 10 })
    const ac = new AbortController()
    const pending = handler.handle(new Error('x'), async () => {}, ac.signal)
    ac.abort(new Error('stopping'))
    await assert.rejects(pending, /stopping/)
  })
})

describe('ingest rate limiter', () => {
  it('passes a burst up to one second of budget at once, then holds the stream to the rate', () => {
    let now = 0
    const limiter = new RateLimiter(1000, () => now)
    assert.equal(limiter.delayFor(1000), 0)
    void limiter.take(1000)
    assert.equal(limiter.delayFor(500), 500)
    now = 250
    assert.equal(limiter.delayFor(500), 250)
    now = 2000
    assert.equal(limiter.delayFor(5000), 0) // larger than a second's budget: waits for a full bucket only
  })

  it('takes about bytes / rate seconds for a stream larger than the budget', async () => {
    const limiter = new RateLimiter(200_000)
    const start = performance.now()
    for (let i = 0; i < 30; i++) await limiter.take(10_000) // 300 kB at 200 kB/s: first 200 kB free, then ~0.5 s
    const took = performance.now() - start
    assert.ok(took >= 400 && took < 3000, `took ${took} ms`)
  })
})
