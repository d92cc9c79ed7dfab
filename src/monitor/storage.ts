/**
 * The monitor's in-memory storage, with Burrow's semantics: per cluster, the brokers' high
 * watermarks (a ring of the last `intervals` per partition) and, per consumer group, topic and
 * partition, a ring of the last `intervals` commits ordered by commit order.
 *
 * Handling a commit (`addCommit`):
 * 1. dropped when its timestamp is older than `now - expireGroup`, the group is not allowed, or
 *    the brokers have not reported the partition yet;
 * 2. placed by `order`: the newest is appended; an older one is inserted in order (the oldest slot
 *    of a full ring falls off); a duplicate order, or one older than the oldest slot of a full
 *    ring, is dropped;
 * 3. an appended commit gets `lag = max(0, latest HWM - offset)`; an inserted one gets its lag from
 *    the broker offset recorded at its commit time (Burrow leaves it null);
 * 4. with `minDistance`, a commit less than that after the previous one overwrites it, keeping the
 *    previous slot's timestamp.
 *
 * A group whose last commit is older than `expireGroup` is purged when read (and so answers 404).
 *
 * @example
 * ```ts
 * const storage = new MonitorStorage({ intervals: 10, expireGroupMs: 7 * 86_400_000 })
 * storage.addCluster('local')
 * storage.setBrokerOffsets('local', 'orders', [120, 80], Date.now())
 * storage.addCommit('local', { group: 'billing', topic: 'orders', partition: 0, offset: 100, timestamp: Date.now(), order: 1 }, Date.now())
 * storage.group('local', 'billing', Date.now())?.topics.get('orders')?.[0]?.ring.entries() // [{ offset: 100, lag: 20, ... }]
 * ```
 * @module
 */
import { RingSlab, type SlabRing } from './commit-ring.ts'
import type { AssignedTopic } from './consumer-offsets.ts'

/** Options of {@link MonitorStorage}. */
export interface StorageOptions {
  /** Commits kept per partition (and broker offsets per partition). Burrow's default 10. */
  intervals: number
  /** Groups whose last commit is older than this are dropped (ms). Burrow's default 7 days. */
  expireGroupMs: number
  /** Commits closer than this to the previous one overwrite it (ms). Default 0 (off). */
  minDistanceMs?: number
  /** Only groups matching this are stored. */
  groupAllowlist?: RegExp
  /** Groups matching this are not stored. */
  groupDenylist?: RegExp
}

/** A commit to store. */
export interface CommitInput {
  group: string
  topic: string
  partition: number
  offset: number
  /** Commit time (ms). */
  timestamp: number
  /** Commit order (position in the offsets log); higher is newer. */
  order: number
}

/** What `addCommit` did with a commit. */
export type AddCommitResult =
  | 'appended'
  | 'inserted'
  | 'overwritten'
  | 'duplicate'
  | 'too-old'
  | 'expired'
  | 'denied'
  | 'no-broker-offsets'
  | 'unknown-cluster'

/** One partition of a group: its commit ring and its current owner. */
export interface GroupPartition {
  /** Oldest first, at most `intervals` long. */
  readonly ring: SlabRing
  owner: string
  clientId: string
}

/** A stored group. */
export interface GroupState {
  readonly name: string
  /** Timestamp (ms) of the newest appended commit; 0 before the first. */
  lastCommit: number
  /** Bumped on every change; lets readers cache. */
  version: number
  /** Topic → partitions (sparse: a partition without commits may be undefined). */
  readonly topics: Map<string, (GroupPartition | undefined)[]>
}

/** Broker offsets of one partition: a ring of high watermarks and when they were read. */
export interface BrokerPartition {
  readonly offsets: number[]
  readonly timestamps: number[]
  /** The newest high watermark (-1 before the first). */
  latest: number
}

interface ClusterState {
  readonly topics: Map<string, BrokerPartition[]>
  readonly groups: Map<string, GroupState>
  readonly allowed: Map<string, boolean>
  allowlist: RegExp | undefined
  denylist: RegExp | undefined
}

/** Per-cluster group filters, on top of the storage-wide ones. */
export interface ClusterFilters {
  groupAllowlist?: RegExp
  groupDenylist?: RegExp
}

/** Burrow-compatible offset storage. Not thread-safe by design: Node runs it on one thread. */
export class MonitorStorage {
  readonly options: Readonly<Required<Omit<StorageOptions, 'groupAllowlist' | 'groupDenylist'>>> & StorageOptions
  readonly #clusters = new Map<string, ClusterState>()
  readonly #slab: RingSlab

  constructor(options: StorageOptions) {
    this.options = { minDistanceMs: 0, ...options }
    this.#slab = new RingSlab(options.intervals)
  }

  /** Registers a cluster (idempotent); its own allow/deny lists apply on top of the storage's. */
  addCluster(name: string, filters: ClusterFilters = {}): void {
    const existing = this.#clusters.get(name)
    if (existing) {
      existing.allowlist = filters.groupAllowlist
      existing.denylist = filters.groupDenylist
      existing.allowed.clear()
      return
    }
    this.#clusters.set(name, {
      topics: new Map(),
      groups: new Map(),
      allowed: new Map(),
      allowlist: filters.groupAllowlist,
      denylist: filters.groupDenylist,
    })
  }

  /** Cluster names, sorted. */
  clusters(): string[] {
    return [...this.#clusters.keys()].sort()
  }

  hasCluster(name: string): boolean {
    return this.#clusters.has(name)
  }

  /** Whether the group passes the storage's and the cluster's allow/deny lists. */
  isAllowed(cluster: string, group: string): boolean {
    const c = this.#clusters.get(cluster)
    if (!c) return false
    return this.#allowed(c, group)
  }

  // ---- broker side ------------------------------------------------------------------------

  /** Records the high watermarks of a topic's partitions (index = partition). */
  setBrokerOffsets(cluster: string, topic: string, offsets: readonly number[], now: number): void {
    const c = this.#clusters.get(cluster)
    if (!c) return
    let partitions = c.topics.get(topic)
    if (!partitions) c.topics.set(topic, (partitions = []))
    const intervals = this.options.intervals
    for (let p = 0; p < offsets.length; p++) {
      const hwm = offsets[p]
      if (hwm < 0) continue
      let bp = partitions[p]
      if (!bp) partitions[p] = bp = { offsets: [], timestamps: [], latest: -1 }
      bp.offsets.push(hwm)
      bp.timestamps.push(now)
      if (bp.offsets.length > intervals) {
        bp.offsets.shift()
        bp.timestamps.shift()
      }
      bp.latest = hwm
    }
  }

  /** Forgets a topic that vanished from the cluster, on the broker side and in every group. */
  deleteTopic(cluster: string, topic: string): void {
    const c = this.#clusters.get(cluster)
    if (!c) return
    c.topics.delete(topic)
    for (const [name, group] of c.groups) {
      const partitions = group.topics.get(topic)
      if (partitions) {
        this.#freeAll(partitions)
        group.topics.delete(topic)
        group.version++
        if (group.topics.size === 0) c.groups.delete(name)
      }
    }
  }

  /** Topic names the brokers reported, sorted; undefined for an unknown cluster. */
  topics(cluster: string): string[] | undefined {
    const c = this.#clusters.get(cluster)
    return c ? [...c.topics.keys()].sort() : undefined
  }

  /** The newest high watermark per partition; undefined for an unknown cluster or topic. */
  topicOffsets(cluster: string, topic: string): number[] | undefined {
    const partitions = this.#clusters.get(cluster)?.topics.get(topic)
    if (!partitions) return undefined
    const out: number[] = []
    for (let p = 0; p < partitions.length; p++) out.push(partitions[p]?.latest ?? -1)
    return out
  }

  /** The broker ring of one partition. */
  brokerPartition(cluster: string, topic: string, partition: number): BrokerPartition | undefined {
    return this.#clusters.get(cluster)?.topics.get(topic)?.[partition]
  }

  // ---- consumer side ----------------------------------------------------------------------

  /** Stores one commit; returns what happened to it (see the module notes). */
  addCommit(cluster: string, commit: CommitInput, now: number): AddCommitResult {
    const c = this.#clusters.get(cluster)
    if (!c) return 'unknown-cluster'
    if (commit.timestamp < now - this.options.expireGroupMs) return 'expired'
    if (!this.#allowed(c, commit.group)) return 'denied'
    const broker = c.topics.get(commit.topic)
    const bp = broker?.[commit.partition]
    if (!bp || bp.latest < 0) return 'no-broker-offsets'

    let group = c.groups.get(commit.group)
    if (!group) c.groups.set(commit.group, (group = { name: commit.group, lastCommit: 0, version: 0, topics: new Map() }))
    let partitions = group.topics.get(commit.topic)
    if (!partitions) {
      partitions = new Array<GroupPartition | undefined>((broker as BrokerPartition[]).length)
      group.topics.set(commit.topic, partitions)
    }
    let slot = partitions[commit.partition]
    if (!slot) partitions[commit.partition] = slot = this.#newPartition()
    const ring = slot.ring
    const count = ring.length
    group.version++

    if (count === 0 || commit.order > ring.order(count - 1)) {
      const lag = Math.max(0, bp.latest - commit.offset)
      const minDistance = this.options.minDistanceMs
      if (count > 0 && minDistance > 0 && commit.timestamp - ring.timestamp(count - 1) < minDistance) {
        ring.overwriteLast(commit.offset, commit.order, now, lag)
        if (commit.timestamp > group.lastCommit) group.lastCommit = commit.timestamp
        return 'overwritten'
      }
      ring.push(commit.offset, commit.order, commit.timestamp, now, lag)
      if (commit.timestamp > group.lastCommit) group.lastCommit = commit.timestamp
      return 'appended'
    }

    if (count >= this.options.intervals && commit.order < ring.order(0)) return 'too-old'
    let at = count - 1
    while (at > 0 && ring.order(at - 1) >= commit.order) at--
    if (ring.order(at) === commit.order) return 'duplicate'
    const lag = Math.max(0, hwmAt(bp, commit.timestamp) - commit.offset)
    ring.insert(at, commit.offset, commit.order, commit.timestamp, now, lag)
    return 'inserted'
  }

  /** Forgets one partition's commits (an offset tombstone). Drops the group when nothing is left. */
  deleteCommit(cluster: string, group: string, topic: string, partition: number): boolean {
    const c = this.#clusters.get(cluster)
    const g = c?.groups.get(group)
    const partitions = g?.topics.get(topic)
    const slot = partitions?.[partition]
    if (!c || !g || !partitions || !slot) return false
    this.#slab.free(slot.ring)
    partitions[partition] = undefined
    g.version++
    if (partitions.every((p) => p === undefined || p.ring.length === 0)) {
      this.#freeAll(partitions)
      g.topics.delete(topic)
    }
    if (g.topics.size === 0) c.groups.delete(group)
    return true
  }

  /**
   * Sets the owners of a group's partitions from its latest metadata. Owners of the previous
   * assignment are cleared first (Burrow keeps stale owners); an empty member list clears all.
   */
  setOwners(cluster: string, group: string, members: readonly { clientId: string; clientHost: string; assignment: readonly AssignedTopic[] | null }[]): void {
    const c = this.#clusters.get(cluster)
    if (!c || !this.#allowed(c, group)) return
    let g = c.groups.get(group)
    if (!g) {
      if (members.length === 0) return
      c.groups.set(group, (g = { name: group, lastCommit: 0, version: 0, topics: new Map() }))
    }
    g.version++
    for (const partitions of g.topics.values()) {
      for (const slot of partitions) {
        if (slot) {
          slot.owner = ''
          slot.clientId = ''
        }
      }
    }
    for (const member of members) {
      for (const assigned of member.assignment ?? []) {
        let partitions = g.topics.get(assigned.topic)
        if (!partitions) g.topics.set(assigned.topic, (partitions = []))
        for (const p of assigned.partitions) {
          if (p < 0) continue
          let slot = partitions[p]
          if (!slot) partitions[p] = slot = this.#newPartition()
          slot.owner = member.clientHost
          slot.clientId = member.clientId
        }
      }
    }
  }

  /** Deletes a group. Returns false when it was not there. */
  deleteGroup(cluster: string, group: string): boolean {
    const c = this.#clusters.get(cluster)
    const g = c?.groups.get(group)
    if (!c || !g) return false
    this.#dropGroup(c, g)
    return true
  }

  /** Deletes one topic of a group. Returns false when it was not there. */
  deleteGroupTopic(cluster: string, group: string, topic: string): boolean {
    const c = this.#clusters.get(cluster)
    const g = c?.groups.get(group)
    const partitions = g?.topics.get(topic)
    if (!c || !g || !partitions) return false
    this.#freeAll(partitions)
    g.topics.delete(topic)
    g.version++
    if (g.topics.size === 0) c.groups.delete(group)
    return true
  }

  /** Groups with commits, sorted (expired ones are purged first); undefined for an unknown cluster. */
  groups(cluster: string, now: number): string[] | undefined {
    const c = this.#clusters.get(cluster)
    if (!c) return undefined
    const out: string[] = []
    for (const [name, g] of c.groups) {
      if (this.#purgeIfExpired(c, g, now)) continue
      if (g.lastCommit > 0) out.push(name)
    }
    return out.sort()
  }

  /** A group with commits, or undefined (unknown, never committed, or expired — which purges it). */
  group(cluster: string, name: string, now: number): GroupState | undefined {
    const c = this.#clusters.get(cluster)
    const g = c?.groups.get(name)
    if (!c || !g || this.#purgeIfExpired(c, g, now) || g.lastCommit === 0) return undefined
    return g
  }

  /**
   * Burrow's consumer list (`GET /v3/kafka/:cluster/consumer`): every stored group, sorted —
   * including groups that only have owners so far and expired groups not yet read, as Burrow lists
   * them. Undefined for an unknown cluster.
   */
  listedGroups(cluster: string): string[] | undefined {
    const c = this.#clusters.get(cluster)
    return c ? [...c.groups.keys()].sort() : undefined
  }

  /**
   * Burrow's consumers of a topic: the stored groups holding the topic (with commits or owners on
   * it), sorted; `[]` for a topic no one consumes, even one the brokers never reported; undefined
   * for an unknown cluster.
   */
  topicConsumers(cluster: string, topic: string): string[] | undefined {
    const c = this.#clusters.get(cluster)
    if (!c) return undefined
    const out: string[] = []
    for (const [name, g] of c.groups) if (g.topics.has(topic)) out.push(name)
    return out.sort()
  }

  /** How many partition rings are held (for the benchmark, tests and metrics). */
  partitionCount(): number {
    return this.#slab.size
  }

  #newPartition(): GroupPartition {
    return { ring: this.#slab.alloc(), owner: '', clientId: '' }
  }

  #freeAll(partitions: (GroupPartition | undefined)[]): void {
    for (const p of partitions) if (p) this.#slab.free(p.ring)
  }

  #dropGroup(c: ClusterState, g: GroupState): void {
    for (const partitions of g.topics.values()) this.#freeAll(partitions)
    c.groups.delete(g.name)
  }

  #purgeIfExpired(c: ClusterState, g: GroupState, now: number): boolean {
    if (g.lastCommit > 0 && g.lastCommit < now - this.options.expireGroupMs) {
      this.#dropGroup(c, g)
      return true
    }
    return false
  }

  #allowed(c: ClusterState, group: string): boolean {
    let ok = c.allowed.get(group)
    if (ok === undefined) {
      const { groupAllowlist, groupDenylist } = this.options
      ok =
        (groupAllowlist === undefined || groupAllowlist.test(group)) &&
        (groupDenylist === undefined || !groupDenylist.test(group)) &&
        (c.allowlist === undefined || c.allowlist.test(group)) &&
        (c.denylist === undefined || !c.denylist.test(group))
      if (c.allowed.size > 100_000) c.allowed.clear()
      c.allowed.set(group, ok)
    }
    return ok
  }
}

/** The high watermark recorded at or just before `timestamp` (the oldest one when all are later). */
function hwmAt(bp: BrokerPartition, timestamp: number): number {
  for (let i = bp.timestamps.length - 1; i >= 0; i--) if (bp.timestamps[i] <= timestamp) return bp.offsets[i]
  return bp.offsets.length > 0 ? bp.offsets[0] : bp.latest
}
