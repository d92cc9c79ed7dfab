/**
 * The notifier coordinator: on the leading monitor only, evaluates every group and hands each
 * notifier the notifications {@link decideNotification} calls for.
 *
 * A group going above OK opens an **incident** with a UUID and a start time; the incident closes
 * when the group is OK again (after the close notifications went out). Each notifier checks groups
 * every `interval`; closes go out at the next tick whatever the interval. Sending never blocks a
 * tick (see `notifiers.ts`).
 *
 * @example
 * ```ts
 * const coordinator = new NotifyCoordinator({ evaluator, notifiers, logger })
 * coordinator.tick(Date.now())   // called by the monitor's loop while it leads
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from '../core/logger.ts'
import type { Evaluator } from './evaluator.ts'
import type { Notifier } from './notifiers.ts'
import { decideNotification, type NotifyState } from './notify-rules.ts'
import { Status, type StatusCode } from './status.ts'

interface Incident {
  readonly id: string
  readonly start: Date
}

/** Dependencies of the {@link NotifyCoordinator}. */
export interface NotifyCoordinatorOptions {
  readonly evaluator: Evaluator
  readonly notifiers: readonly Notifier[]
  readonly logger: Logger
}

/** Incidents and per-notifier state, advanced by `tick`. */
export class NotifyCoordinator {
  readonly #o: NotifyCoordinatorOptions
  readonly #incidents = new Map<string, Incident>()
  /** notifier name → cluster NUL group → state */
  readonly #states = new Map<string, Map<string, NotifyState>>()
  readonly #lastRun = new Map<string, number>()

  constructor(options: NotifyCoordinatorOptions) {
    this.#o = options
    for (const n of options.notifiers) this.#states.set(n.config.name, new Map())
  }

  /** The tick period: the smallest notifier interval (undefined without notifiers). */
  get tickMs(): number | undefined {
    if (this.#o.notifiers.length === 0) return undefined
    return Math.min(...this.#o.notifiers.map((n) => n.config.intervalMs))
  }

  /** Open incidents (for tests and the API). */
  incidents(): { cluster: string; group: string; id: string; start: Date }[] {
    return [...this.#incidents].map(([key, i]) => {
      const [cluster, group] = key.split('\u0000')
      return { cluster, group, id: i.id, start: i.start }
    })
  }

  /** Evaluates every group once and sends what is due. */
  tick(nowMs: number): void {
    const statuses = this.#o.evaluator.evaluateAll(nowMs)
    const seen = new Set<string>()
    const due = new Map(this.#o.notifiers.map((n) => [n.config.name, nowMs - (this.#lastRun.get(n.config.name) ?? -Infinity) >= n.config.intervalMs]))
    for (const result of statuses) {
      const key = result.cluster + '\u0000' + result.group
      seen.add(key)
      const code = Status[result.status] as StatusCode
      let incident = this.#incidents.get(key)
      const incidentOpen = incident !== undefined
      if (code > Status.OK && !incident) {
        incident = { id: randomUUID(), start: new Date(nowMs) }
        this.#incidents.set(key, incident)
      }
      for (const notifier of this.#o.notifiers) {
        const c = notifier.config
        if ((c.groupAllowlist && !c.groupAllowlist.test(result.group)) || (c.groupDenylist && c.groupDenylist.test(result.group))) continue
        const states = this.#states.get(c.name) as Map<string, NotifyState>
        let state = states.get(key)
        if (!state) states.set(key, (state = { lastNotify: 0, sentOpen: false }))
        const decision = decideNotification(c, code, state, incidentOpen, nowMs)
        if (decision === 'skip' || (decision === 'open' && !due.get(c.name))) continue
        notifier.send({ kind: decision, cluster: result.cluster, group: result.group, id: incident?.id ?? '', start: incident?.start ?? new Date(nowMs), result })
        state.lastNotify = nowMs
        if (decision === 'open') state.sentOpen = true
      }
      if (code === Status.OK && incidentOpen) {
        this.#incidents.delete(key)
        for (const states of this.#states.values()) states.delete(key)
      }
    }
    for (const [name, isDue] of due) if (isDue) this.#lastRun.set(name, nowMs)
    // Groups that disappeared (deleted, expired) take their incidents and states with them.
    for (const key of this.#incidents.keys()) if (!seen.has(key)) this.#incidents.delete(key)
    for (const states of this.#states.values()) for (const key of states.keys()) if (!seen.has(key)) states.delete(key)
  }

  /** Forgets everything (when leadership is lost: the new leader starts its own incidents). */
  reset(): void {
    this.#incidents.clear()
    for (const states of this.#states.values()) states.clear()
    this.#lastRun.clear()
  }
}
