/**
 * Leader election among monitors, without ZooKeeper: every monitor joins one consumer group of a
 * `Log` on a one-partition coordination topic, and the member that owns partition 0 leads (only it
 * evaluates for notifiers and sends notifications). When the leader stops, it leaves the group and
 * the partition moves to another member at its next poll; when it dies, the group's session timeout
 * removes it.
 *
 * @example
 * ```ts
 * const elector = new LeaderElector({ log, topic: 'tributary-monitor-leader', group: 'tributary-monitor', sessionTimeoutMs: 10_000, logger })
 * await elector.start()
 * elector.onChange((leading) => console.log(leading ? 'leading' : 'standing by'))
 * await elector.stop()
 * ```
 * @module
 */
import { isTributaryError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { GroupConsumer, Log } from '../log/index.ts'

/** Options of a {@link LeaderElector}. */
export interface LeaderElectorOptions {
  readonly log: Log
  /** The coordination topic (created with one partition when missing). */
  readonly topic: string
  /** The consumer group all monitors join. */
  readonly group: string
  /** How long a silent member keeps leadership (ms). */
  readonly sessionTimeoutMs: number
  readonly logger: Logger
  /** A name for logs and the Kafka client id. */
  readonly memberName?: string
}

/** Elects one leader among the monitors sharing a coordination group. */
export class LeaderElector {
  readonly #o: LeaderElectorOptions
  readonly #controller = new AbortController()
  readonly #listeners = new Set<(leading: boolean) => void>()
  #consumer: GroupConsumer | undefined
  #leading = false
  #loop: Promise<void> | undefined

  constructor(options: LeaderElectorOptions) {
    this.#o = options
  }

  /** Whether this monitor leads now. */
  get isLeader(): boolean {
    // Asked at every notification: a member whose session is lost (it was cut off and another may
    // lead already) owns no partition any more, even before its next poll reports it.
    if (this.#leading && !this.#consumer?.assignment().some((p) => p.topic === this.#o.topic && p.partition === 0)) this.#set(false)
    return this.#leading
  }

  /** Calls `listener` on every change of leadership; returns a function that unsubscribes. */
  onChange(listener: (leading: boolean) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Resolves once leadership is `leading` (at once if it already is). */
  waitFor(leading: boolean): Promise<void> {
    if (this.#leading === leading) return Promise.resolve()
    return new Promise((resolve) => {
      const off = this.onChange((now) => {
        if (now === leading) {
          off()
          resolve()
        }
      })
    })
  }

  /** Creates the coordination topic if needed, joins the group and starts polling. */
  async start(): Promise<void> {
    const { log, topic, group, sessionTimeoutMs } = this.#o
    try {
      await log.admin.createTopic({ name: topic, partitions: 1 })
    } catch (err) {
      if (!isTributaryError(err, 'TRIB_LOG_TOPIC_EXISTS')) throw err
    }
    this.#consumer = log.consumer({
      groupId: group,
      topics: [topic],
      sessionTimeoutMs,
      autoOffsetReset: 'latest',
      maxPollRecords: 100,
      clientId: this.#o.memberName,
      // Session lost (cut off from the broker): another monitor may lead already; stop notifying now.
      onLost: () => this.#set(false),
    })
    this.#loop = this.#run(this.#consumer)
  }

  /** Leaves the group (handing leadership over) and stops. */
  async stop(): Promise<void> {
    this.#controller.abort()
    await this.#loop
    this.#set(false)
    await this.#consumer?.close().catch(() => {})
  }

  async #run(consumer: GroupConsumer): Promise<void> {
    const signal = this.#controller.signal
    const pollMs = Math.max(50, Math.min(1_000, Math.floor(this.#o.sessionTimeoutMs / 4)))
    while (!signal.aborted) {
      try {
        await consumer.poll({ timeoutMs: pollMs, signal })
        this.#set(consumer.assignment().some((p) => p.topic === this.#o.topic && p.partition === 0))
      } catch (err) {
        if (signal.aborted) break
        this.#set(false)
        this.#o.logger.warn({ err: (err as Error).message, group: this.#o.group }, 'leader election: poll failed; retrying')
        await new Promise((resolve) => setTimeout(resolve, pollMs))
      }
    }
  }

  #set(leading: boolean): void {
    if (leading === this.#leading) return
    this.#leading = leading
    this.#o.logger.info({ group: this.#o.group, member: this.#o.memberName }, leading ? 'this monitor leads: it evaluates and notifies' : 'this monitor stands by')
    for (const listener of [...this.#listeners]) listener(leading)
  }
}
