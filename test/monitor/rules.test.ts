import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  compareForMaxLag,
  groupStatusCode,
  hasRewound,
  isStalled,
  isStopped,
  lagAlwaysAboveAllowed,
  lagNeverDecreases,
  partitionStatus,
  Status,
  statusName,
  parseStatus,
  wasRecentlyCaughtUp,
  ringOf,
  type CommitRing,
} from '../../src/monitor/index.ts'

/** Commits as [offset, timestamp (s), lag | null]. */
const ring = (...rows: [number, number, number | null][]): CommitRing =>
  ringOf(rows.map(([offset, ts, lag], i) => ({ offset, order: i, timestamp: ts * 1000, observedAt: ts * 1000, lag })))
const EMPTY = ringOf([])

describe('evaluation rules', () => {
  it('isStopped: the time since the last commit exceeds the span of the ring', () => {
    const cases: [string, CommitRing, number, boolean][] = [
      ['recent commit', ring([10, 0, 1], [20, 10, 1]), 15, false],
      ['exactly the span', ring([10, 0, 1], [20, 10, 1]), 20, false],
      ['longer than the span', ring([10, 0, 1], [20, 10, 1]), 21, true],
      ['single commit, any time later', ring([10, 100, 1]), 100.001, true],
      ['empty ring', EMPTY, 1000, false],
    ]
    for (const [name, entries, nowSec, expected] of cases) assert.equal(isStopped(entries, nowSec * 1000), expected, name)
  })

  it('wasRecentlyCaughtUp: some broker offset in the ring is ≤ the last committed offset', () => {
    assert.equal(wasRecentlyCaughtUp(ring([10, 0, 0], [20, 1, 5]), [15, 20, 25]), true)
    assert.equal(wasRecentlyCaughtUp(ring([10, 0, 0], [20, 1, 5]), [21, 25]), false)
    assert.equal(wasRecentlyCaughtUp(EMPTY, [0]), false)
  })

  it('hasRewound: an offset below its predecessor that never recovers to it', () => {
    const cases: [string, number[], boolean][] = [
      ['increasing', [1, 2, 3], false],
      ['equal', [5, 5, 5], false],
      ['went back and stayed', [10, 20, 5, 6], true],
      ['went back and recovered', [10, 20, 5, 20, 30], false],
      ['went back at the end', [10, 20, 30, 29], true],
      ['single', [7], false],
    ]
    for (const [name, offsets, expected] of cases) assert.equal(hasRewound(ring(...offsets.map((o, i): [number, number, number] => [o, i, 1]))), expected, name)
  })

  it('lagAlwaysAboveAllowed ignores unknown (null) lags', () => {
    assert.equal(lagAlwaysAboveAllowed(ring([1, 0, 5], [2, 1, 6]), 0), true)
    assert.equal(lagAlwaysAboveAllowed(ring([1, 0, 5], [2, 1, 0]), 0), false)
    assert.equal(lagAlwaysAboveAllowed(ring([1, 0, 5], [2, 1, 3]), 3), false)
    assert.equal(lagAlwaysAboveAllowed(ring([1, 0, null], [2, 1, 4]), 3), true)
  })

  it('isStalled and lagNeverDecreases', () => {
    assert.equal(isStalled(ring([5, 0, 1], [5, 1, 2], [5, 2, 3])), true)
    assert.equal(isStalled(ring([5, 0, 1], [6, 1, 2])), false)
    assert.equal(isStalled(EMPTY), false)
    assert.equal(lagNeverDecreases(ring([1, 0, 5], [2, 1, 5], [3, 2, 9])), true)
    assert.equal(lagNeverDecreases(ring([1, 0, 5], [2, 1, 4], [3, 2, 9])), false)
    assert.equal(lagNeverDecreases(ring([1, 0, 5], [2, 1, null], [3, 2, 6])), true, 'null lags are skipped')
  })

  it('partitionStatus follows Burrow’s order: STOP, REWIND, then STALL / WARN when never caught up', () => {
    type Case = [name: string, entries: CommitRing, broker: number[], currentLag: number, nowSec: number, allowedLag: number, expected: keyof typeof Status]
    const cases: Case[] = [
      ['no commits', EMPTY, [100], 100, 10, 0, 'OK'],
      ['caught up (lag 0)', ring([10, 0, 5], [20, 1, 0]), [20], 0, 2, 0, 'OK'],
      ['lag within allowed-lag', ring([10, 0, 50], [20, 1, 60]), [80], 60, 2, 100, 'OK'],
      ['keeping up, lag goes down', ring([10, 0, 50], [40, 1, 30], [70, 2, 10]), [80], 10, 2.5, 0, 'OK'],
      ['falling behind: lag never decreases', ring([10, 0, 10], [20, 1, 20], [30, 2, 30]), [60], 30, 2.5, 0, 'WARN'],
      ['lag equal every time still warns', ring([10, 0, 10], [20, 1, 10], [30, 2, 10]), [40], 10, 2.5, 0, 'WARN'],
      ['was caught up once in the window: OK', ring([10, 0, 0], [20, 1, 20], [30, 2, 30]), [60], 30, 2.5, 0, 'OK'],
      ['stalled on one offset while lag grows', ring([10, 0, 10], [10, 1, 20], [10, 2, 30]), [40], 30, 2.5, 0, 'STALL'],
      ['stopped committing with lag', ring([10, 0, 10], [20, 1, 10], [30, 2, 10]), [40, 45], 15, 10, 0, 'STOP'],
      ['stopped but caught up recently: not STOP', ring([10, 0, 10], [20, 1, 10], [30, 2, 0]), [30, 45], 15, 10, 0, 'OK'],
      ['rewound and stayed behind', ring([100, 0, 10], [110, 1, 20], [50, 2, 90]), [140], 90, 2.5, 0, 'REWIND'],
      ['rewind outranks stall/warn even when caught up once', ring([100, 0, 0], [110, 1, 20], [50, 2, 90]), [140], 90, 2.5, 0, 'REWIND'],
      ['stop outranks rewind', ring([100, 0, 10], [50, 1, 90]), [140], 90, 10, 0, 'STOP'],
    ]
    for (const [name, entries, broker, currentLag, nowSec, allowedLag, expected] of cases) {
      assert.equal(statusName(partitionStatus(entries, broker, currentLag, nowSec * 1000, allowedLag)), expected, name)
    }
  })

  it('groupStatusCode: the worst partition, STOP/STALL/REWIND shown as ERR', () => {
    assert.equal(groupStatusCode([]), Status.OK)
    assert.equal(groupStatusCode([Status.OK, Status.WARN]), Status.WARN)
    assert.equal(groupStatusCode([Status.OK, Status.STOP]), Status.ERR)
    assert.equal(groupStatusCode([Status.STALL, Status.WARN]), Status.ERR)
    assert.equal(groupStatusCode([Status.REWIND]), Status.ERR)
  })

  it('compareForMaxLag: highest lag, then topic, then partition', () => {
    const parts = [
      { topic: 'b', partition: 1, current_lag: 5 },
      { topic: 'a', partition: 2, current_lag: 5 },
      { topic: 'a', partition: 1, current_lag: 5 },
      { topic: 'c', partition: 0, current_lag: 9 },
    ]
    assert.deepEqual([...parts].sort(compareForMaxLag).map((p) => `${p.topic}/${p.partition}`), ['c/0', 'a/1', 'a/2', 'b/1'])
  })

  it('status names and codes are Burrow’s', () => {
    assert.deepEqual(Status, { NOTFOUND: 0, OK: 1, WARN: 2, ERR: 3, STOP: 4, STALL: 5, REWIND: 6 })
    assert.equal(parseStatus('warn'), Status.WARN)
    assert.equal(parseStatus(3), Status.ERR)
    assert.equal(parseStatus('nope'), undefined)
    assert.equal(parseStatus(9), undefined)
  })
})
