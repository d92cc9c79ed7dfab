/**
 * The embedded log's group coordinator: Kafka's classic (eager) rebalance protocol, in process.
 *
 * A join or leave starts a rebalance. Every member rejoins on its next poll, after revoking its
 * partitions (its `onRevoke` may still commit them: a member owns its old partitions until it
 * rejoins). When all members have rejoined, or the rebalance timeout expired and the stragglers were
 * removed, the coordinator computes the new assignment (the strategy of the longest-standing member)
 * and a new generation starts.
 * @module
 */
import type { TopicPartition } from '../../core/record.ts'
import { partitionKey } from '../../core/record.ts'
import { assign } from '../assignors.ts'
import type { AssignmentStrategy } from '../types.ts'

/** What the coordinator needs to know of a member. */
export interface MemberHandle {
  readonly id: string
  readonly topics: readonly string[]
  readonly strategy: AssignmentStrategy
  readonly rebalanceTimeoutMs: number
  /** Wakes the member's waiting poll so it rejoins promptly. */
  wake(): void
}

/** A member's view of a completed rebalance. */
export interface MemberAssignment {
  readonly generation: number
  readonly partitions: TopicPartition[]
}

class GroupState {
  readonly members = new Map<string, MemberHandle>()
  readonly joined = new Set<string>()
  readonly owned = new Map<string, Set<string>>()
  readonly assignments = new Map<string, TopicPartition[]>()
  generation = 0
  rebalancing = false
  timer: NodeJS.Timeout | undefined
  waiters = new Set<() => void>()
}

/** Coordinates all consumer groups of one embedded log. */
export class GroupCoordinator {
  readonly #groups = new Map<string, GroupState>()
  readonly #partitionCount: (topic: string) => number

  /** `partitionCount` answers how many partitions a topic has (0 if it does not exist). */
  constructor(partitionCount: (topic: string) => number) {
    this.#partitionCount = partitionCount
  }

  /** Adds a member and starts a rebalance. */
  join(groupId: string, member: MemberHandle): void {
    let group = this.#groups.get(groupId)
    if (!group) this.#groups.set(groupId, (group = new GroupState()))
    group.members.set(member.id, member)
    this.#startRebalance(group)
  }

  /** Removes a member (its partitions go to the others). */
  leave(groupId: string, memberId: string): void {
    const group = this.#groups.get(groupId)
    if (!group?.members.delete(memberId)) return
    group.owned.delete(memberId)
    group.assignments.delete(memberId)
    group.joined.delete(memberId)
    if (group.members.size === 0) {
      this.#finish(group)
      this.#groups.delete(groupId)
      return
    }
    this.#startRebalance(group)
  }

  /** Whether the member is (still) in the group. */
  isMember(groupId: string, memberId: string): boolean {
    return this.#groups.get(groupId)?.members.has(memberId) ?? false
  }

  /** Whether a rebalance waits for this member to rejoin. */
  needsRejoin(groupId: string, memberId: string): boolean {
    const group = this.#groups.get(groupId)
    return group !== undefined && group.rebalancing && !group.joined.has(memberId)
  }

  /** The member gave up its partitions and rejoins. */
  rejoin(groupId: string, memberId: string): void {
    const group = this.#groups.get(groupId)
    if (!group || !group.rebalancing) return
    group.owned.delete(memberId)
    group.joined.add(memberId)
    if (group.joined.size >= group.members.size) this.#complete(group)
  }

  /** The member's assignment of the current generation, unless a rebalance is in progress. */
  assignment(groupId: string, memberId: string): MemberAssignment | undefined {
    const group = this.#groups.get(groupId)
    if (!group || group.rebalancing || !group.members.has(memberId)) return undefined
    return { generation: group.generation, partitions: group.assignments.get(memberId) ?? [] }
  }

  /** Resolves when the group's rebalance completed, the deadline passed or the signal aborted. */
  waitStable(groupId: string, deadline: number, signal?: AbortSignal): Promise<void> {
    const group = this.#groups.get(groupId)
    if (!group || !group.rebalancing) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        group.waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()))
      signal?.addEventListener('abort', done, { once: true })
      group.waiters.add(done)
    })
  }

  /** Whether `memberId` owns the partition now (commits for it are accepted). */
  owns(groupId: string, memberId: string, topic: string, partition: number): boolean {
    return this.#groups.get(groupId)?.owned.get(memberId)?.has(partitionKey(topic, partition)) ?? false
  }

  /** Groups with live members. */
  activeGroups(): string[] {
    return [...this.#groups.keys()]
  }

  /** Starts a rebalance of every group subscribed to `topic` (its partitions changed). */
  topicChanged(topic: string): void {
    for (const group of this.#groups.values()) {
      if ([...group.members.values()].some((m) => m.topics.includes(topic))) this.#startRebalance(group)
    }
  }

  /** Stops timers. */
  close(): void {
    for (const group of this.#groups.values()) this.#finish(group)
  }

  #startRebalance(group: GroupState): void {
    group.rebalancing = true
    group.joined.clear()
    clearTimeout(group.timer)
    let timeout = 0
    for (const m of group.members.values()) timeout = Math.max(timeout, m.rebalanceTimeoutMs)
    group.timer = setTimeout(() => this.#expire(group), timeout)
    group.timer.unref()
    for (const m of group.members.values()) m.wake()
  }

  #expire(group: GroupState): void {
    if (!group.rebalancing) return
    for (const id of [...group.members.keys()]) {
      if (!group.joined.has(id)) {
        group.members.delete(id)
        group.owned.delete(id)
        group.assignments.delete(id)
      }
    }
    this.#complete(group)
  }

  #complete(group: GroupState): void {
    clearTimeout(group.timer)
    group.timer = undefined
    group.rebalancing = false
    group.generation++
    const members = [...group.members.values()]
    const counts = new Map<string, number>()
    for (const m of members) for (const t of m.topics) counts.set(t, this.#partitionCount(t))
    const strategy = members[0]?.strategy ?? 'range'
    const result = assign(strategy, members, counts)
    group.assignments.clear()
    group.owned.clear()
    for (const [id, partitions] of result) {
      group.assignments.set(id, partitions)
      group.owned.set(id, new Set(partitions.map((p) => partitionKey(p.topic, p.partition))))
    }
    this.#finish(group)
    for (const m of members) m.wake()
  }

  #finish(group: GroupState): void {
    clearTimeout(group.timer)
    for (const waiter of [...group.waiters]) waiter()
  }
}
