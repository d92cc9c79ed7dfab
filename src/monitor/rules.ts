/**
 * Burrow's evaluation rules as pure functions: one partition's commit ring (oldest first) and its
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
 * partitionStatus(entries, brokerOffsets, currentLag, Date.now(), 0) // Status.WARN
 * ```
 * @module
 */
import { Status, type CommitEntry, type StatusCode } from './status.ts'

/** The consumer stopped: the time since the last commit is longer than the ring's span. */
export function isStopped(entries: readonly CommitEntry[], nowMs: number): boolean {
  if (entries.length === 0) return false
  const first = entries[0].timestamp
  const last = entries[entries.length - 1].timestamp
  return nowMs - last > last - first
}

/** Some broker offset in the broker ring is ≤ the last committed offset: the consumer was caught up recently. */
export function wasRecentlyCaughtUp(entries: readonly CommitEntry[], brokerOffsets: readonly number[]): boolean {
  if (entries.length === 0) return false
  const lastOffset = entries[entries.length - 1].offset
  for (let i = 0; i < brokerOffsets.length; i++) if (brokerOffsets[i] <= lastOffset) return true
  return false
}

/** An offset went below its predecessor, and no later offset came back up to that predecessor. */
export function hasRewound(entries: readonly CommitEntry[]): boolean {
  for (let i = 1; i < entries.length; i++) {
    const before = entries[i - 1].offset
    if (entries[i].offset >= before) continue
    let recovered = false
    for (let j = i + 1; j < entries.length; j++) {
      if (entries[j].offset >= before) {
        recovered = true
        break
      }
    }
    if (!recovered) return true
  }
  return false
}

/** No commit had a known lag within `allowedLag`. */
export function lagAlwaysAboveAllowed(entries: readonly CommitEntry[], allowedLag: number): boolean {
  for (let i = 0; i < entries.length; i++) {
    const lag = entries[i].lag
    if (lag !== null && lag <= allowedLag) return false
  }
  return true
}

/** Every commit has the same offset. */
export function isStalled(entries: readonly CommitEntry[]): boolean {
  for (let i = 1; i < entries.length; i++) if (entries[i].offset !== entries[i - 1].offset) return false
  return entries.length > 0
}

/** The (known) lag never went down from one commit to the next. */
export function lagNeverDecreases(entries: readonly CommitEntry[]): boolean {
  let previous: number | null = null
  for (let i = 0; i < entries.length; i++) {
    const lag = entries[i].lag
    if (lag === null) continue
    if (previous !== null && lag < previous) return false
    previous = lag
  }
  return true
}

/** The status of one partition from its commit ring (oldest first), broker ring and current lag. */
export function partitionStatus(
  entries: readonly CommitEntry[],
  brokerOffsets: readonly number[],
  currentLag: number,
  nowMs: number,
  allowedLag: number,
): StatusCode {
  if (entries.length === 0 || currentLag <= allowedLag) return Status.OK
  if (isStopped(entries, nowMs) && !wasRecentlyCaughtUp(entries, brokerOffsets)) return Status.STOP
  if (hasRewound(entries)) return Status.REWIND
  if (lagAlwaysAboveAllowed(entries, allowedLag)) {
    if (isStalled(entries)) return Status.STALL
    if (lagNeverDecreases(entries)) return Status.WARN
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
