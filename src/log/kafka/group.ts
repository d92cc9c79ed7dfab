/**
 * Membership of one consumer in a Kafka consumer group (the classic group protocol), driven by us
 * rather than by platformatic's `Consumer`.
 *
 * Why not platformatic's group management: it rejoins from its heartbeat timer, so a rebalance
 * cannot wait for `onRevoke` (the member's last chance to commit) nor happen inside `poll` as the
 * `GroupConsumer` contract (and Kafka's Java client) says; it also always sends LeaveGroup on
 * close, which defeats static membership. So this class speaks the protocol itself through
 * platformatic's typed request APIs:
 *
 * - FindCoordinator, then a dedicated connection to the coordinator (JoinGroup and SyncGroup block
 *   their connection for the whole rebalance; fetches and metadata use other connections).
 * - `startJoin()` runs JoinGroup (with the MEMBER_ID_REQUIRED handshake) and SyncGroup in the
 *   background; the leader computes the assignment with our `range`/`roundrobin` assignors
 *   (members ordered by `group.instance.id` when static, else member id, like the Java client).
 * - Heartbeats run on a timer while the member is stable. REBALANCE_IN_PROGRESS only *flags* that a
 *   rejoin is needed (`needsRejoin`); heartbeats go on, keeping the session alive until the next
 *   `poll` runs `onRevoke` and calls `startJoin()`. The broker waits up to the rebalance timeout
 *   for that.
 * - UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION mean the partitions were lost (not handed over).
 * - The member tracks its own session like the Java client: when no heartbeat succeeded for longer
 *   than the session timeout (broker down, network cut, process stopped), the broker has surely
 *   given its partitions to others, so they are **lost** and the member rejoins. The first failed
 *   heartbeat of a streak is logged as a warning and every failure counts in
 *   `tributary_kafka_heartbeat_failures_total`.
 * - `leave(reason)` gives the partitions up at once (LeaveGroup) — used when `poll` was not called
 *   within `maxPollIntervalMs`; they count as lost too.
 * - `close({ leave })` sends LeaveGroup for dynamic members only: a static member keeps its
 *   assignment for a restart within the session timeout.
 *
 * @example
 * ```ts
 * const member = new GroupMember({ client, pool, settings, groupId: 'g', topics: ['t'], strategy: 'range',
 *   sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, onChange: wake })
 * member.startJoin()
 * await member.waitJoin()
 * member.takeAssignment() // [{ topic: 't', partition: 0 }, ...]
 * ```
 * @module
 */
import {
  decodeConsumerProtocolAssignment,
  decodeConsumerProtocolSubscription,
  encodeConsumerProtocolAssignment,
  encodeConsumerProtocolSubscription,
  parseBroker,
  type Base,
  type Broker,
  type Connection,
  type ConnectionPool,
  type findCoordinatorV6,
  type joinGroupV9,
  type offsetFetchV9,
  type syncGroupV5,
} from '@platformatic/kafka'
import { Counter } from 'prom-client'
import { TributaryError } from '../../core/errors.ts'
import { metric, metricsRegistry } from '../../core/metrics.ts'
import type { TopicPartition, TopicPartitionOffset } from '../../core/record.ts'
import { assign } from '../assignors.ts'
import type { AssignmentStrategy } from '../types.ts'
import { apiIds, describe, isRetriable, toTributaryError } from './errors.ts'
import { lookupTopics } from './metadata.ts'
import { callApi, delay } from './rpc.ts'

type FindCoordinatorResponse = findCoordinatorV6.FindCoordinatorResponse
type JoinGroupResponse = joinGroupV9.JoinGroupResponse
type OffsetFetchResponse = offsetFetchV9.OffsetFetchResponse
type SyncGroupResponse = syncGroupV5.SyncGroupResponse
import type { KafkaSettings } from './settings.ts'

/** Options of a {@link GroupMember}. */
export interface GroupMemberOptions {
  /** A platformatic client: API versions and metadata. */
  readonly client: Base
  /** The pool for the coordinator connection (not shared with fetches). */
  readonly pool: ConnectionPool
  readonly settings: KafkaSettings
  readonly groupId: string
  readonly groupInstanceId?: string
  readonly topics: readonly string[]
  readonly strategy: AssignmentStrategy
  readonly sessionTimeoutMs: number
  readonly rebalanceTimeoutMs: number
  /** Called whenever something a poller waits for changed (rejoin needed, joined, failed). */
  readonly onChange: () => void
  /**
   * A fresh pool for LeaveGroup: the coordinator connection may be held by a pending JoinGroup,
   * and the broker answers one request per connection at a time.
   */
  readonly leavePool: () => ConnectionPool
}

type State = 'unjoined' | 'joining' | 'stable' | 'closed'

const heartbeatFailures = metric(
  'tributary_kafka_heartbeat_failures_total',
  () =>
    new Counter({
      name: 'tributary_kafka_heartbeat_failures_total',
      help: 'Kafka consumer-group heartbeats that failed (no answer, broker unreachable, coordinator moved), by group',
      labelNames: ['group'],
      registers: [metricsRegistry],
    }),
)

const COORDINATOR_ERRORS = ['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS']
const FATAL_ERRORS = [
  'FENCED_INSTANCE_ID',
  'INCONSISTENT_GROUP_PROTOCOL',
  'INVALID_SESSION_TIMEOUT',
  'GROUP_AUTHORIZATION_FAILED',
  'GROUP_MAX_SIZE_REACHED',
  'INVALID_GROUP_ID',
  'UNSUPPORTED_VERSION',
  'GROUP_ID_NOT_FOUND',
]

/** One member of a consumer group: join/sync, heartbeats, commits and leaving. */
export class GroupMember {
  memberId = ''
  generationId = -1
  readonly #o: GroupMemberOptions
  readonly #brokers: Broker[]
  #state: State = 'unjoined'
  #rejoinNeeded = true
  #lost = false
  #fatal: TributaryError | undefined
  #joinError: TributaryError | undefined
  #join: Promise<void> | undefined
  #assignment: TopicPartition[] | undefined
  #coordinator: Broker | undefined
  #heartbeat: NodeJS.Timeout | undefined
  #sessionWatch: NodeJS.Timeout | undefined
  #heartbeatInFlight = false
  /** When the session was last confirmed (join or successful heartbeat). */
  #sessionConfirmedAt = 0
  /** When the current streak of failed heartbeats began, if one is running. */
  #failingSince: number | undefined
  readonly #heartbeatIntervalMs: number

  constructor(options: GroupMemberOptions) {
    this.#o = options
    this.#brokers = options.settings.brokers.map((b) => parseBroker(b))
    this.#heartbeatIntervalMs = Math.max(100, Math.min(1_000, Math.floor(options.sessionTimeoutMs / 3)))
  }

  /** True when the member must (re)join and no join is running: the poller revokes, then calls `startJoin`. */
  get needsRejoin(): boolean {
    return this.#rejoinNeeded && this.#state !== 'joining' && this.#state !== 'closed' && this.#fatal === undefined
  }

  /** True while JoinGroup/SyncGroup are running. */
  get joining(): boolean {
    return this.#state === 'joining'
  }

  /**
   * True when the last assignment was lost (session expired, fenced, left) rather than revoked by a
   * rebalance. Checks the session clock on the spot, so a process that was stopped (SIGSTOP, a long
   * GC pause) learns it lost its partitions before any timer of its own runs.
   */
  get lost(): boolean {
    this.#checkSession()
    return this.#lost
  }

  /** The error that stopped the membership for good (e.g. fenced static member), if any. */
  get fatal(): TributaryError | undefined {
    return this.#fatal
  }

  /** The error of the last join attempt that gave up (not fatal: the next `startJoin` tries again), once. */
  takeJoinError(): TributaryError | undefined {
    const error = this.#joinError
    this.#joinError = undefined
    return error
  }

  /** The assignment of the last completed join, once; `undefined` when there is none new. */
  takeAssignment(): TopicPartition[] | undefined {
    const assignment = this.#assignment
    this.#assignment = undefined
    return assignment
  }

  /** Starts joining the group in the background (JoinGroup + SyncGroup, retried until done or fatal). */
  startJoin(): void {
    if (this.#state === 'closed' || this.#state === 'joining') return
    this.#stopHeartbeats()
    this.#state = 'joining'
    this.#rejoinNeeded = false
    this.#assignment = undefined
    this.#join = this.#runJoin()
      .catch((err: unknown) => this.#failJoin(err))
      .finally(() => {
        this.#join = undefined
        this.#o.onChange()
      })
  }

  /** Resolves when the running join (if any) finished, successfully or not. */
  waitJoin(): Promise<void> {
    return this.#join ?? Promise.resolve()
  }

  /** Commits offsets with this member's generation. Maps group errors to stable codes. */
  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const topics = new Map<string, { name: string; partitions: { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: null }[] }>()
    for (const { topic, partition, offset } of offsets) {
      let entry = topics.get(topic)
      if (!entry) {
        entry = { name: topic, partitions: [] }
        topics.set(topic, entry)
      }
      entry.partitions.push({ partitionIndex: partition, committedOffset: BigInt(offset), committedLeaderEpoch: -1, committedMetadata: null })
    }
    await this.#withCoordinator('commit', (connection) =>
      callApi(this.#o.client, connection, 'OffsetCommit', this.#o.groupId, this.generationId, this.memberId, this.#o.groupInstanceId ?? null, [
        ...topics.values(),
      ]),
    ).catch((err: unknown) => {
      throw this.#commitError(err, offsets)
    })
  }

  /** The committed offsets (-1 when none) of `partitions`, waiting for pending transactional commits. */
  async committed(partitions: readonly TopicPartition[]): Promise<Map<string, number>> {
    const byTopic = new Map<string, number[]>()
    for (const { topic, partition } of partitions) {
      const list = byTopic.get(topic) ?? []
      list.push(partition)
      byTopic.set(topic, list)
    }
    const request = [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }))
    const response = await this.#withCoordinator('committed', (connection) =>
      callApi<OffsetFetchResponse>(this.#o.client, connection, 'OffsetFetch', [{ groupId: this.#o.groupId, memberId: null, memberEpoch: -1, topics: request }], true),
    )
    const out = new Map<string, number>()
    const legacy = response as unknown as { topics?: OffsetFetchResponse['groups'][number]['topics'] }
    const topics = response.groups?.[0]?.topics ?? legacy.topics ?? []
    for (const topic of topics) {
      for (const p of topic.partitions) out.set(`${topic.name}/${p.partitionIndex}`, Number(p.committedOffset))
    }
    return out
  }

  /**
   * Leaves the group now (LeaveGroup for a dynamic member) and marks the partitions lost; the next
   * `poll` runs `onLost` and rejoins. For `maxPollIntervalMs`: a member that stopped polling must not
   * hold partitions others could work on.
   */
  async leave(reason: string): Promise<void> {
    if (this.#state !== 'stable' && this.#state !== 'joining') return
    const memberId = this.memberId
    this.#state = 'unjoined'
    this.#stopHeartbeats()
    this.#lost = true
    this.#rejoinNeeded = true
    if (this.#o.groupInstanceId === undefined) this.memberId = ''
    this.#o.settings.logger.warn({ groupId: this.#o.groupId, memberId, reason }, 'leaving the consumer group; its partitions go to other members')
    this.#o.onChange()
    if (memberId !== '' && this.#o.groupInstanceId === undefined) await this.#sendLeave(memberId, reason)
  }

  async #sendLeave(memberId: string, reason: string): Promise<void> {
    const pool = this.#o.leavePool()
    try {
      const connection = await this.#connection(pool)
      await callApi(this.#o.client, connection, 'LeaveGroup', this.#o.groupId, [{ memberId, groupInstanceId: null, reason }])
    } catch (err) {
      if (!apiIds(err).has('UNKNOWN_MEMBER_ID')) this.#o.settings.logger.warn({ groupId: this.#o.groupId, err: describe(err) }, 'LeaveGroup failed')
    } finally {
      await pool.close().catch(() => {})
    }
  }

  /** Stops heartbeats and, for a dynamic member with `leave`, leaves the group so its partitions move at once. */
  async close(leave: boolean): Promise<void> {
    if (this.#state === 'closed') return
    const wasMember = this.memberId !== ''
    this.#state = 'closed'
    this.#stopHeartbeats()
    if (leave && wasMember && this.#o.groupInstanceId === undefined) await this.#sendLeave(this.memberId, 'consumer closed')
    this.#o.onChange()
  }

  /** JoinGroup + SyncGroup until assigned, closed, or failed for good. */
  async #runJoin(): Promise<void> {
    const { client, groupId, groupInstanceId, topics, strategy, sessionTimeoutMs, rebalanceTimeoutMs, settings } = this.#o
    const metadata = encodeConsumerProtocolSubscription({ version: 0, topics: [...topics] })
    let attempt = 0
    while (this.#state === 'joining') {
      try {
        const connection = await this.#connection()
        let joined: JoinGroupResponse
        try {
          joined = await callApi<JoinGroupResponse>(
            client,
            connection,
            'JoinGroup',
            groupId,
            sessionTimeoutMs,
            rebalanceTimeoutMs,
            this.memberId,
            groupInstanceId ?? null,
            'consumer',
            [{ name: strategy, metadata }],
            null,
          )
        } catch (err) {
          const id = (err as { response?: { memberId?: string } }).response?.memberId
          if (apiIds(err).has('MEMBER_ID_REQUIRED') && id) {
            this.memberId = id
            continue
          }
          throw err
        }
        if (this.#state !== 'joining') return
        this.memberId = joined.memberId
        this.generationId = joined.generationId
        const leader = joined.leader === joined.memberId && !joined.skipAssignment
        const assignments = leader ? await this.#computeAssignments(joined) : []
        const synced = await callApi<SyncGroupResponse>(
          client,
          connection,
          'SyncGroup',
          groupId,
          this.generationId,
          this.memberId,
          groupInstanceId ?? null,
          'consumer',
          joined.protocolName,
          assignments,
        )
        if (this.#state !== 'joining') return
        const decoded = synced.assignment && synced.assignment.length > 0 ? decodeConsumerProtocolAssignment(synced.assignment).assignedPartitions : []
        const partitions: TopicPartition[] = []
        for (const { topic, partitions: list } of decoded) for (const partition of list) partitions.push({ topic, partition })
        partitions.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
        this.#assignment = partitions
        this.#lost = false
        this.#state = 'stable'
        this.#sessionConfirmedAt = Date.now()
        this.#failingSince = undefined
        this.#scheduleHeartbeat()
        this.#watchSession()
        settings.logger.debug({ groupId, memberId: this.memberId, generation: this.generationId, leader, partitions: partitions.length }, 'joined group')
        return
      } catch (err) {
        if (this.#state !== 'joining') return
        const ids = apiIds(err)
        if (ids.has('UNKNOWN_MEMBER_ID')) this.memberId = ''
        if (ids.has('REBALANCE_IN_PROGRESS') || ids.has('ILLEGAL_GENERATION') || ids.has('UNKNOWN_MEMBER_ID')) continue
        if (FATAL_ERRORS.some((id) => ids.has(id))) {
          this.#fail(err, 'join')
          return
        }
        if (COORDINATOR_ERRORS.some((id) => ids.has(id)) || !(err instanceof TributaryError)) this.#coordinator = undefined
        if (err instanceof TributaryError ? !err.retriable : !isRetriable(err)) {
          this.#failJoin(err)
          return
        }
        settings.logger.debug({ groupId, err: describe(err), attempt }, 'join failed; retrying')
        await delay(Math.min(100 * 2 ** attempt++, 2_000))
      }
    }
  }

  /** As the group leader: our assignor over every member's subscription. */
  async #computeAssignments(joined: JoinGroupResponse): Promise<{ memberId: string; assignment: Buffer }[]> {
    const members = joined.members.map((m) => ({
      memberId: m.memberId,
      id: m.groupInstanceId ?? m.memberId,
      topics: decodeConsumerProtocolSubscription(m.metadata).topics,
    }))
    const topics = [...new Set(members.flatMap((m) => m.topics))]
    const { found } = await lookupTopics(this.#o.client, topics, this.#o.settings, 'assign', true)
    const counts = new Map([...found].map(([name, meta]) => [name, meta.partitionsCount]))
    const strategy: AssignmentStrategy = joined.protocolName === 'roundrobin' ? 'roundrobin' : 'range'
    const result = assign(strategy, members.map((m) => ({ id: m.id, topics: m.topics })), counts)
    return members.map((m) => {
      const byTopic = new Map<string, number[]>()
      for (const { topic, partition } of result.get(m.id) ?? []) {
        const list = byTopic.get(topic) ?? []
        list.push(partition)
        byTopic.set(topic, list)
      }
      const assignedPartitions = [...byTopic].map(([topic, partitions]) => ({ topic, partitions }))
      return { memberId: m.memberId, assignment: encodeConsumerProtocolAssignment({ version: 0, assignedPartitions }) }
    })
  }

  #scheduleHeartbeat(): void {
    if (this.#heartbeat !== undefined) clearTimeout(this.#heartbeat)
    this.#heartbeat = setTimeout(() => {
      this.#heartbeat = undefined
      void this.#sendHeartbeat()
    }, this.#heartbeatIntervalMs)
    this.#heartbeat.unref()
  }

  #stopHeartbeats(): void {
    if (this.#heartbeat !== undefined) clearTimeout(this.#heartbeat)
    this.#heartbeat = undefined
    if (this.#sessionWatch !== undefined) clearInterval(this.#sessionWatch)
    this.#sessionWatch = undefined
  }

  /** While stable: checks (independently of hanging heartbeat requests) that the session is still confirmed. */
  #watchSession(): void {
    if (this.#sessionWatch !== undefined) clearInterval(this.#sessionWatch)
    this.#sessionWatch = setInterval(() => this.#checkSession(), Math.max(50, Math.floor(this.#heartbeatIntervalMs / 2)))
    this.#sessionWatch.unref()
  }

  #checkSession(): void {
    if (this.#state !== 'stable') return
    const silentMs = Date.now() - this.#sessionConfirmedAt
    if (silentMs <= this.#o.sessionTimeoutMs) return
    const { groupId, settings } = this.#o
    settings.logger.warn(
      { groupId, memberId: this.memberId, generation: this.generationId, silentMs, sessionTimeoutMs: this.#o.sessionTimeoutMs },
      'no heartbeat succeeded within the session timeout: the partitions are lost (other members may own them now); rejoining',
    )
    this.#state = 'unjoined'
    this.#stopHeartbeats()
    // The member id is kept: if the broker still knows it, the rejoin leaves no stale member behind
    // for the rebalance to wait for; if not, JoinGroup answers UNKNOWN_MEMBER_ID and we join anew.
    this.#coordinator = undefined
    this.#requestRejoin(true)
    // Wake a waiting poll so onLost runs now, not at the end of its timeout.
    this.#o.onChange()
  }

  #heartbeatFailed(err: unknown): void {
    heartbeatFailures.inc({ group: this.#o.groupId })
    if (this.#failingSince === undefined) {
      this.#failingSince = Date.now()
      this.#o.settings.logger.warn(
        { groupId: this.#o.groupId, memberId: this.#o.groupInstanceId ?? this.memberId, err: describe(err), sessionTimeoutMs: this.#o.sessionTimeoutMs },
        'heartbeat failed; the partitions are lost if heartbeats keep failing for the session timeout',
      )
    }
  }

  async #sendHeartbeat(): Promise<void> {
    if (this.#state !== 'stable') return
    if (this.#heartbeatInFlight) {
      this.#scheduleHeartbeat()
      return
    }
    const generation = this.generationId
    const sentAt = Date.now()
    this.#heartbeatInFlight = true
    // No answer within an interval counts as a failure (a stopped broker or a cut network never answers).
    let counted = false
    const unanswered = setTimeout(() => {
      counted = true
      this.#heartbeatFailed(new Error(`no heartbeat answer within ${this.#heartbeatIntervalMs} ms`))
    }, this.#heartbeatIntervalMs)
    unanswered.unref()
    try {
      const connection = await this.#connection()
      await callApi(this.#o.client, connection, 'Heartbeat', this.#o.groupId, this.generationId, this.memberId, this.#o.groupInstanceId ?? null)
      if (this.#state === 'stable' && generation === this.generationId) {
        this.#sessionConfirmedAt = Math.max(this.#sessionConfirmedAt, sentAt)
        if (this.#failingSince !== undefined) {
          this.#o.settings.logger.info({ groupId: this.#o.groupId, failedForMs: Date.now() - this.#failingSince }, 'heartbeats succeed again')
          this.#failingSince = undefined
        }
      }
    } catch (err) {
      if (this.#state !== 'stable' || generation !== this.generationId) return
      const ids = apiIds(err)
      if (ids.has('FENCED_INSTANCE_ID')) {
        this.#lost = true
        this.#fail(err, 'heartbeat')
        return
      }
      if (ids.has('UNKNOWN_MEMBER_ID')) this.memberId = ''
      if (ids.has('UNKNOWN_MEMBER_ID') || ids.has('ILLEGAL_GENERATION')) {
        this.#requestRejoin(true)
      } else if (ids.has('REBALANCE_IN_PROGRESS')) {
        // The session is alive: the broker answered.
        this.#sessionConfirmedAt = Math.max(this.#sessionConfirmedAt, sentAt)
        this.#requestRejoin(false)
      } else {
        if (COORDINATOR_ERRORS.some((id) => ids.has(id)) || ids.size === 0) this.#coordinator = undefined
        if (!counted) this.#heartbeatFailed(err)
      }
    } finally {
      clearTimeout(unanswered)
      this.#heartbeatInFlight = false
    }
    if (this.#state === 'stable' && this.#heartbeat === undefined) this.#scheduleHeartbeat()
  }

  #requestRejoin(lost: boolean): void {
    if (lost) this.#lost = true
    if (!this.#rejoinNeeded) {
      this.#rejoinNeeded = true
      this.#o.onChange()
    }
  }

  /** A join that cannot succeed now: reported once by the next poll, which then tries again. */
  #failJoin(err: unknown): void {
    if (this.#state !== 'joining') return
    this.#joinError = toTributaryError(err, { op: 'join', groupId: this.#o.groupId, brokers: this.#o.settings.brokers })
    this.#state = 'unjoined'
    this.#rejoinNeeded = true
    this.#o.onChange()
  }

  #fail(err: unknown, op: string): void {
    const base = toTributaryError(err, { op, groupId: this.#o.groupId, brokers: this.#o.settings.brokers })
    const fenced = apiIds(err).has('FENCED_INSTANCE_ID')
    this.#fatal = fenced
      ? new TributaryError('TRIB_LOG_KAFKA', `group ${this.#o.groupId}: another consumer took over group.instance.id ${this.#o.groupInstanceId}; this member was fenced`, {
          cause: err,
          details: { groupId: this.#o.groupId, groupInstanceId: this.#o.groupInstanceId },
        })
      : base
    this.#state = 'unjoined'
    this.#stopHeartbeats()
    this.#o.onChange()
  }

  #commitError(err: unknown, offsets: readonly TopicPartitionOffset[]): TributaryError {
    const ids = apiIds(err)
    const { groupId, settings } = this.#o
    if (ids.has('REBALANCE_IN_PROGRESS')) {
      this.#requestRejoin(false)
      return new TributaryError('TRIB_LOG_REBALANCE_IN_PROGRESS', `commit: group ${groupId} is rebalancing; commit again after the next poll`, {
        cause: err,
        retriable: true,
        details: { groupId },
      })
    }
    if (ids.has('UNKNOWN_MEMBER_ID') || ids.has('ILLEGAL_GENERATION') || ids.has('FENCED_INSTANCE_ID')) {
      if (ids.has('UNKNOWN_MEMBER_ID')) this.memberId = ''
      this.#requestRejoin(true)
      const names = offsets.map((o) => `${o.topic}/${o.partition}`).join(', ')
      return new TributaryError('TRIB_LOG_NOT_ASSIGNED', `commit: this member of group ${groupId} no longer owns ${names} (it left the group or missed a rebalance)`, {
        cause: err,
        details: { groupId, kafkaErrors: [...ids] },
      })
    }
    return toTributaryError(err, { op: 'commit', groupId, brokers: settings.brokers })
  }

  /** Runs a coordinator request, re-finding the coordinator and retrying transient failures. */
  async #withCoordinator<T>(op: string, request: (connection: Connection) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#o.settings.requestTimeoutMs
    for (let attempt = 0; ; attempt++) {
      try {
        return await request(await this.#connection())
      } catch (err) {
        const ids = apiIds(err)
        const coordinatorMoved = COORDINATOR_ERRORS.some((id) => ids.has(id))
        const transient = coordinatorMoved || ids.has('UNSTABLE_OFFSET_COMMIT') || (ids.size === 0 && isRetriable(err))
        if (coordinatorMoved || ids.size === 0) this.#coordinator = undefined
        if (!transient || Date.now() >= deadline) throw err
        this.#o.settings.logger.debug({ op, groupId: this.#o.groupId, err: describe(err) }, 'coordinator request failed; retrying')
        await delay(Math.min(50 * 2 ** attempt, 1_000))
      }
    }
  }

  /** The connection to the group coordinator (found with FindCoordinator when unknown). */
  async #connection(pool: ConnectionPool = this.#o.pool): Promise<Connection> {
    const { client, groupId, settings } = this.#o
    if (this.#coordinator === undefined) {
      let bootstrap: Connection
      try {
        bootstrap = await pool.getFirstAvailable(this.#brokers)
      } catch (err) {
        throw toTributaryError(err, { op: 'findCoordinator', groupId, brokers: settings.brokers })
      }
      const response = await callApi<FindCoordinatorResponse>(client, bootstrap, 'FindCoordinator', 0, [groupId])
      const found = response.coordinators.find((c) => c.key === groupId) ?? response.coordinators[0]
      if (!found || found.nodeId < 0) {
        throw new TributaryError('TRIB_LOG_KAFKA', `group ${groupId}: no coordinator available`, { retriable: true, details: { groupId } })
      }
      this.#coordinator = { host: found.host, port: found.port }
    }
    return pool.get(this.#coordinator)
  }
}
