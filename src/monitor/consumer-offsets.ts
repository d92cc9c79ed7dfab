/**
 * Decoding the records of Kafka's `__consumer_offsets` topic.
 *
 * A record's key starts with an `int16` version that says what the record is:
 *
 * ```
 * key v0, v1  OffsetCommitKey     group:string topic:string partition:int32
 * key v2      GroupMetadataKey    group:string
 * key v3+     newer coordinator records (KIP-848 consumer groups, share groups, ...) — ignored
 *
 * OffsetCommitValue (version:int16 first)
 *   v0  offset:int64 metadata:string commitTimestamp:int64
 *   v1  offset:int64 metadata:string commitTimestamp:int64 expireTimestamp:int64
 *   v2  offset:int64 metadata:string commitTimestamp:int64
 *   v3  offset:int64 leaderEpoch:int32 metadata:string commitTimestamp:int64
 *   v4  offset:int64 leaderEpoch:int32 metadata:compact_string commitTimestamp:int64 tagged_fields
 *
 * GroupMetadataValue (version:int16 first; v4 is flexible: compact strings/arrays/bytes + tagged fields)
 *   protocolType:string generation:int32 protocol:string? leader:string?
 *   [v2+ currentStateTimestamp:int64]
 *   members: [ memberId:string [v3+ groupInstanceId:string?] clientId:string clientHost:string
 *              [v1+ rebalanceTimeout:int32] sessionTimeout:int32 subscription:bytes assignment:bytes ]
 *
 * ConsumerProtocolAssignment (inside `assignment`, never flexible)
 *   version:int16 [topic:string partitions:[int32]] userData:bytes?
 * ```
 *
 * Unlike Burrow, offset values v2 are decoded, v4's compact lengths are real unsigned varints, and
 * tombstones (null values) are reported so offsets and groups can be deleted.
 *
 * @example
 * ```ts
 * const message = decodeOffsetsRecord(record.key, record.value)
 * if (message.kind === 'offset-commit') storage.addCommit(cluster, { ...message, order: record.offset }, Date.now())
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import { WireReader } from '../log/wire.ts'

/** A consumer group committed an offset. */
export interface OffsetCommitMessage {
  readonly kind: 'offset-commit'
  readonly group: string
  readonly topic: string
  readonly partition: number
  readonly offset: number
  /** -1 when the value version has none (v0–v2). */
  readonly leaderEpoch: number
  readonly metadata: string
  /** Milliseconds since the epoch. */
  readonly commitTimestamp: number
  /** Value v1 only; -1 otherwise. */
  readonly expireTimestamp: number
  readonly valueVersion: number
}

/** A tombstone for a committed offset: the group's offset of this partition was deleted (or expired). */
export interface OffsetDeleteMessage {
  readonly kind: 'offset-delete'
  readonly group: string
  readonly topic: string
  readonly partition: number
}

/** A partition assignment of one member. */
export interface AssignedTopic {
  readonly topic: string
  readonly partitions: readonly number[]
}

/** One member of a group, as stored in its metadata. */
export interface GroupMember {
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  readonly rebalanceTimeout: number
  readonly sessionTimeout: number
  /** The decoded consumer-protocol assignment; null when the group's protocol type is not `consumer`. */
  readonly assignment: readonly AssignedTopic[] | null
}

/** A group's metadata after a rebalance (members, their hosts and assignments). */
export interface GroupMetadataMessage {
  readonly kind: 'group-metadata'
  readonly group: string
  readonly protocolType: string
  readonly generation: number
  readonly protocol: string | null
  readonly leader: string | null
  /** -1 before value v2. */
  readonly currentStateTimestamp: number
  readonly members: readonly GroupMember[]
  readonly valueVersion: number
}

/** A tombstone for a group: the group was deleted. */
export interface GroupDeleteMessage {
  readonly kind: 'group-delete'
  readonly group: string
}

/** A record type this monitor does not use (newer coordinator records, key v3 and above). */
export interface IgnoredMessage {
  readonly kind: 'ignored'
  readonly keyVersion: number
}

/** What one `__consumer_offsets` record says. */
export type OffsetsMessage = OffsetCommitMessage | OffsetDeleteMessage | GroupMetadataMessage | GroupDeleteMessage | IgnoredMessage

function malformed(message: string, cause?: unknown): TributaryError {
  return new TributaryError('TRIB_CODEC', `malformed __consumer_offsets record: ${message}`, { cause, details: { record: '__consumer_offsets' } })
}

/**
 * Decodes one `__consumer_offsets` record. Throws `TRIB_CODEC` (saying which field is wrong) on
 * malformed input; the caller counts and skips such records.
 */
export function decodeOffsetsRecord(key: Buffer | null, value: Buffer | null): OffsetsMessage {
  if (key === null || key.length < 2) throw malformed(key === null ? 'no key' : 'key shorter than its version')
  try {
    const reader = new WireReader(key)
    const keyVersion = reader.int16('key version')
    if (keyVersion === 0 || keyVersion === 1) {
      const group = reader.string('group')
      const topic = reader.string('topic')
      const partition = reader.int32('partition')
      if (partition < 0) throw malformed(`negative partition ${partition}`)
      if (value === null) return { kind: 'offset-delete', group, topic, partition }
      return decodeOffsetCommitValue(group, topic, partition, value)
    }
    if (keyVersion === 2) {
      const group = reader.string('group')
      if (value === null) return { kind: 'group-delete', group }
      return decodeGroupMetadataValue(group, value)
    }
    if (keyVersion < 0) throw malformed(`negative key version ${keyVersion}`)
    return { kind: 'ignored', keyVersion }
  } catch (err) {
    if (err instanceof TributaryError && err.details.record === '__consumer_offsets') throw err
    throw malformed((err as Error).message, err)
  }
}

/** Decodes an OffsetCommitValue (v0–v4). */
export function decodeOffsetCommitValue(group: string, topic: string, partition: number, value: Buffer): OffsetCommitMessage {
  const r = new WireReader(value)
  const version = r.int16('offset value version')
  let offset: number
  let leaderEpoch = -1
  let metadata: string
  let commitTimestamp: number
  let expireTimestamp = -1
  switch (version) {
    case 0:
    case 2:
      offset = r.int64('offset')
      metadata = r.string('metadata')
      commitTimestamp = r.int64('commit timestamp')
      break
    case 1:
      offset = r.int64('offset')
      metadata = r.string('metadata')
      commitTimestamp = r.int64('commit timestamp')
      expireTimestamp = r.int64('expire timestamp')
      break
    case 3:
      offset = r.int64('offset')
      leaderEpoch = r.int32('leader epoch')
      metadata = r.string('metadata')
      commitTimestamp = r.int64('commit timestamp')
      break
    case 4:
      offset = r.int64('offset')
      leaderEpoch = r.int32('leader epoch')
      metadata = r.compactString('metadata')
      commitTimestamp = r.int64('commit timestamp')
      r.skipTaggedFields('offset value')
      break
    default:
      throw malformed(`unknown offset value version ${version} (group ${group}, topic ${topic}, partition ${partition})`)
  }
  return { kind: 'offset-commit', group, topic, partition, offset, leaderEpoch, metadata, commitTimestamp, expireTimestamp, valueVersion: version }
}

/** Decodes a GroupMetadataValue (v0–v4), including consumer-protocol assignments. */
export function decodeGroupMetadataValue(group: string, value: Buffer): GroupMetadataMessage {
  const r = new WireReader(value)
  const version = r.int16('group value version')
  if (version < 0 || version > 4) throw malformed(`unknown group metadata value version ${version} (group ${group})`)
  const flexible = version >= 4
  const str = (what: string): string => (flexible ? r.compactString(what) : r.string(what))
  const nullableStr = (what: string): string | null => (flexible ? r.compactNullableString(what) : r.nullableString(what))
  const bytes = (what: string): Buffer | null => (flexible ? r.compactBytes(what) : r.bytes(what))

  const protocolType = str('protocol type')
  const generation = r.int32('generation')
  const protocol = nullableStr('protocol')
  const leader = nullableStr('leader')
  const currentStateTimestamp = version >= 2 ? r.int64('current state timestamp') : -1
  const count = flexible ? r.compactArrayLength('members', 10) : r.arrayLength('members', 18)
  const members: GroupMember[] = []
  for (let i = 0; i < count; i++) {
    const memberId = str(`member ${i} id`)
    const groupInstanceId = version >= 3 ? nullableStr(`member ${i} group instance id`) : null
    const clientId = str(`member ${i} client id`)
    const clientHost = str(`member ${i} client host`)
    const rebalanceTimeout = version >= 1 ? r.int32(`member ${i} rebalance timeout`) : -1
    const sessionTimeout = r.int32(`member ${i} session timeout`)
    bytes(`member ${i} subscription`)
    const assignmentBytes = bytes(`member ${i} assignment`)
    if (flexible) r.skipTaggedFields(`member ${i}`)
    const assignment = protocolType === 'consumer' ? decodeConsumerAssignment(assignmentBytes, `member ${i} assignment`) : null
    members.push({ memberId, groupInstanceId, clientId, clientHost, rebalanceTimeout, sessionTimeout, assignment })
  }
  if (flexible) r.skipTaggedFields('group value')
  return { kind: 'group-metadata', group, protocolType, generation, protocol, leader, currentStateTimestamp, members, valueVersion: version }
}

/** Decodes a ConsumerProtocolAssignment; empty or null bytes mean "nothing assigned". */
export function decodeConsumerAssignment(bytes: Buffer | null, what = 'assignment'): AssignedTopic[] {
  if (bytes === null || bytes.length === 0) return []
  const r = new WireReader(bytes)
  const version = r.int16(`${what} version`)
  if (version < 0) throw malformed(`${what}: negative version ${version}`)
  const topics: AssignedTopic[] = []
  const count = r.arrayLength(`${what} topics`, 6)
  for (let t = 0; t < count; t++) {
    const topic = r.string(`${what} topic`)
    const n = r.arrayLength(`${what} partitions of ${topic}`, 4)
    const partitions: number[] = []
    for (let p = 0; p < n; p++) partitions.push(r.int32(`${what} partition`))
    topics.push({ topic, partitions })
  }
  // userData follows; it is not needed.
  return topics
}
