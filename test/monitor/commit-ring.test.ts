import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RingSlab } from '../../src/monitor/index.ts'

const offsets = (ring: { entries(): { offset: number }[] }): number[] => ring.entries().map((e) => e.offset)

describe('commit rings', () => {
  it('append in order and drop the oldest when full, across the wrap-around', () => {
    const ring = new RingSlab(3).alloc()
    for (let i = 1; i <= 7; i++) ring.push(i * 10, i, i * 1000, i * 1000 + 1, i % 2 === 0 ? null : i)
    assert.deepEqual(offsets(ring), [50, 60, 70])
    assert.deepEqual(ring.entries()[1], { offset: 60, order: 6, timestamp: 6000, observedAt: 6001, lag: null })
    assert.deepEqual([ring.length, ring.order(0), ring.timestamp(2), ring.observedAt(0), ring.lag(0), ring.lag(1)], [3, 5, 7000, 5001, 5, null])
  })

  it('insert in the middle, shifting newer commits; a full ring drops its oldest', () => {
    const ring = new RingSlab(4).alloc()
    ring.push(10, 1, 0, 0, 0)
    ring.push(30, 3, 0, 0, 0)
    ring.insert(1, 20, 2, 0, 0, 0)
    assert.deepEqual(offsets(ring), [10, 20, 30])
    ring.push(50, 5, 0, 0, 0)
    ring.insert(3, 40, 4, 0, 0, 0)
    assert.deepEqual(offsets(ring), [20, 30, 40, 50], 'full: 10 fell off')
    ring.push(60, 6, 0, 0, 0)
    ring.insert(1, 35, 3.5, 0, 0, 0)
    assert.deepEqual(offsets(ring), [35, 40, 50, 60], 'wrapped and full: 30 fell off, 35 went in front')
  })

  it('overwrite the newest commit, keeping its timestamp', () => {
    const ring = new RingSlab(2).alloc()
    ring.push(10, 1, 1000, 1000, 5)
    ring.overwriteLast(12, 2, 1500, null)
    assert.deepEqual(ring.entries(), [{ offset: 12, order: 2, timestamp: 1000, observedAt: 1500, lag: null }])
  })

  it('grow the slab without losing data, and reuse freed slots', () => {
    const slab = new RingSlab(2, 1)
    const rings = Array.from({ length: 50 }, (_, i) => {
      const r = slab.alloc()
      r.push(i, 1, 0, 0, 0)
      r.push(i + 1000, 2, 0, 0, 0)
      return r
    })
    assert.deepEqual(offsets(rings[0]), [0, 1000])
    assert.deepEqual(offsets(rings[49]), [49, 1049])
    assert.equal(slab.size, 50)
    const slot = rings[7].slot
    slab.free(rings[7])
    slab.free(rings[7])
    assert.equal(slab.size, 49, 'freeing twice is harmless')
    const reused = slab.alloc()
    assert.equal(reused.slot, slot)
    assert.equal(reused.length, 0)
    assert.deepEqual(offsets(rings[8]), [8, 1008], 'neighbours untouched')
  })
})
