/**
 * When a notifier sends, as a pure function (Burrow's coordinator rules, one fix):
 *
 * 1. (the caller applies the notifier's group allow/deny lists first);
 * 2. `send-close` and the group is back to OK after an incident → **close** — only when this
 *    notifier sent the incident's open notification (Burrow also closes incidents it never opened);
 * 3. status below `threshold` → skip;
 * 4. `send-once` and this incident was already notified → skip;
 * 5. **open** when `send-interval` has passed since this notifier's last notification for the group.
 *
 * @example
 * ```ts
 * decideNotification(rules, Status.WARN, { lastNotify: 0, sentOpen: false }, true, Date.now()) // 'open'
 * ```
 * @module
 */
import { Status, type StatusCode } from './status.ts'

/** The rule settings of one notifier. */
export interface NotifyRules {
  readonly threshold: StatusCode
  readonly sendOnce: boolean
  readonly sendClose: boolean
  readonly sendIntervalMs: number
}

/** What one notifier remembers about one group. */
export interface NotifyState {
  /** When it last notified about the group (ms; 0 = never). */
  lastNotify: number
  /** Whether it sent an open notification for the current incident. */
  sentOpen: boolean
}

/** What to do. */
export type NotifyDecision = 'open' | 'close' | 'skip'

/** Decides for one notifier and one group. `incidentOpen`: the group was above OK before this evaluation. */
export function decideNotification(rules: NotifyRules, status: StatusCode, state: NotifyState, incidentOpen: boolean, nowMs: number): NotifyDecision {
  if (status === Status.OK && incidentOpen) return rules.sendClose && state.sentOpen ? 'close' : 'skip'
  if (status < rules.threshold) return 'skip'
  if (rules.sendOnce && state.sentOpen) return 'skip'
  if (state.lastNotify !== 0 && nowMs - state.lastNotify < rules.sendIntervalMs) return 'skip'
  return 'open'
}
