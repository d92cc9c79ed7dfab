/**
 * Burrow's evaluation rules as pure functions: one partition's commit ring (oldest first; see
 * `commit-ring.ts`, `ringOf` adapts an array) and its
 * broker offsets in, a status code out. No clocks, no storage — `now` is an argument — so every
 * rule is tested with tables.
 *
 * For a partition whose current lag exceeds `allowedLag`, in order:
 * 1. **STOP** when the consumer stopped committing (the time since the last commit exceeds the span
 *    of the ring) and it was not recently caught up (no broker offset in the broker ring is ≤ the
 *    last committed offset);
 * 2. **REWIND** when an offset went below its predecessor and never came back up to it;
 * 3. when no commit had a lag ≤ `allowedLag`: **STALL** if every offset is the same, else **WARN**
 *    if the lag never decreased.
 * Otherwise, or with a lag within `allowedLag`, **OK**.
 *
 * @example
 * ```ts
 * partitionStatus(ring, brokerOffsets, currentLag, Date.now(), 0) // Status.WARN
 * ```
 * @module
 */
import type { CommitRing } from './commit-ring.ts'
import { Status, type StatusCode } from './status.ts'

/** The consumer stopped: the time since the last commit is longer than the ring's span. */
export function isStopped(ring: CommitRing, nowMs: number): boolean {
  if (ring.length === 0) return false
  const first = ring.timestamp(0)
  const last = ring.timestamp(ring.length - 1)
  return nowMs - last > last - first
}

/** Some broker offset in the broker ring is ≤ the last committed offset: the consumer was caught up recently. */
export function wasRecentlyCaughtUp(ring: CommitRing, brokerOffsets: readonly number[]): boolean {
  if (ring.length === 0) return false
  const lastOffset = ring.offset(ring.length - 1)
  for (let i = 0; i < brokerOffsets.length; i++) if (brokerOffsets[i] <= lastOffset) return true
  return false
}

/** An offset went below its predecessor, and no later offset came back up to that predecessor. */
export function hasRewound(ring: CommitRing): boolean {
  for (let i = 1; i < ring.length; i++) {
    const before = ring.offset(i - 1)
    if (ring.offset(i) >= before) continue
    let recovered = false
    for (let j = i + 1; j < ring.length; j++) {
      if (ring.offset(j) >= before) {
        recovered = true
        break
      }
    }
    if (!recovered) return true
  }
  return false
}

/** No commit had a known lag within `allowedLag`. */
export function lagAlwaysAboveAllowed(ring: CommitRing, allowedLag: number): boolean {
  for (let i = 0; i < ring.length; i++) {
    const lag = ring.lag(i)
    if (lag !== null && lag <= allowedLag) return false
  }
  return true
}

/** Every commit has the same offset. */
export function isStalled(ring: CommitRing): boolean {
  for (let i = 1; i < ring.length; i++) if (ring.offset(i) !== ring.offset(i - 1)) return false
  return ring.length > 0
}

/** The (known) lag never went down from one commit to the next. */
export function lagNeverDecreases(ring: CommitRing): boolean {
  let previous: number | null = null
  for (let i = 0; i < ring.length; i++) {
    const lag = ring.lag(i)
    if (lag === null) continue
    if (previous !== null && lag < previous) return false
    previous = lag
  }
  return true
}

/** The status of one partition from its commit ring (oldest first), broker ring and current lag. */
export function partitionStatus(ring: CommitRing, brokerOffsets: readonly number[], currentLag: number, nowMs: number, allowedLag: number): StatusCode {
  if (ring.length === 0 || currentLag <= allowedLag) return Status.OK
  if (isStopped(ring, nowMs) && !wasRecentlyCaughtUp(ring, brokerOffsets)) return Status.STOP
  if (hasRewound(ring)) return Status.REWIND
  if (lagAlwaysAboveAllowed(ring, allowedLag)) {
    if (isStalled(ring)) return Status.STALL
    if (lagNeverDecreases(ring)) return Status.WARN
  }
  return Status.OK
}

/** A group's status from its partitions' statuses: the worst, with STOP, STALL and REWIND shown as ERR. */
export function groupStatusCode(partitionCodes: Iterable<StatusCode>): StatusCode {
  let worst: StatusCode = Status.OK
  for (const code of partitionCodes) {
    const shown = code > Status.ERR ? Status.ERR : code
    if (shown > worst) worst = shown
  }
  return worst
}

/** Orders partitions for `maxlag`: highest lag first, then topic, then partition (deterministic, unlike Burrow). */
export function compareForMaxLag(
  a: { current_lag: number; topic: string; partition: number },
  b: { current_lag: number; topic: string; partition: number },
): number {
  if (a.current_lag !== b.current_lag) return b.current_lag - a.current_lag
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1
  return a.partition - b.partition
}
