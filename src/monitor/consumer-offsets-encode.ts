/**
 * Writing `__consumer_offsets` records in Kafka's real format (the grammar is in
 * `consumer-offsets.ts`). The monitor itself only reads them; these encoders exist so tests and the
 * benchmark can produce every key and value version byte for byte, including the versions today's
 * brokers no longer write.
 *
 * @example
 * ```ts
 * const key = encodeOffsetCommitKey('billing', 'orders', 3)
 * const value = encodeOffsetCommitValue(4, { offset: 42, commitTimestamp: Date.now() })
 * decodeOffsetsRecord(key, value) // { kind: 'offset-commit', group: 'billing', ..., offset: 42 }
 * ```
 * @module
 */
import type { AssignedTopic } from './consumer-offsets.ts'
import { WireWriter } from '../log/wire.ts'

/** The fields of an OffsetCommitValue. */
export interface OffsetCommitFields {
  offset: number
  commitTimestamp: number
  leaderEpoch?: number
  metadata?: string
  expireTimestamp?: number
}

/** One member of a GroupMetadataValue. */
export interface GroupMemberFields {
  memberId: string
  groupInstanceId?: string | null
  clientId: string
  clientHost: string
  rebalanceTimeout?: number
  sessionTimeout?: number
  /** Encoded as a ConsumerProtocolAssignment (v0); or raw bytes. */
  assignment: readonly AssignedTopic[] | Buffer
}

/** The fields of a GroupMetadataValue. */
export interface GroupMetadataFields {
  protocolType?: string
  generation?: number
  protocol?: string | null
  leader?: string | null
  currentStateTimestamp?: number
  members: readonly GroupMemberFields[]
}

/** An OffsetCommitKey (key version 0 or 1, same layout). */
export function encodeOffsetCommitKey(group: string, topic: string, partition: number, version: 0 | 1 = 1): Buffer {
  return new WireWriter(16 + group.length + topic.length).int16(version).string(group).string(topic).int32(partition).toBuffer()
}

/** A GroupMetadataKey (key version 2). */
export function encodeGroupMetadataKey(group: string): Buffer {
  return new WireWriter(8 + group.length).int16(2).string(group).toBuffer()
}

/** An OffsetCommitValue of the given version (0–4). */
export function encodeOffsetCommitValue(version: 0 | 1 | 2 | 3 | 4, fields: OffsetCommitFields): Buffer {
  const w = new WireWriter(48).int16(version).int64(fields.offset)
  if (version >= 3) w.int32(fields.leaderEpoch ?? -1)
  if (version === 4) w.compactString(fields.metadata ?? '')
  else w.string(fields.metadata ?? '')
  w.int64(fields.commitTimestamp)
  if (version === 1) w.int64(fields.expireTimestamp ?? -1)
  if (version === 4) w.noTaggedFields()
  return w.toBuffer()
}

/** A ConsumerProtocolAssignment (version 0, no user data). */
export function encodeConsumerAssignment(topics: readonly AssignedTopic[]): Buffer {
  const w = new WireWriter(32).int16(0).int32(topics.length)
  for (const t of topics) {
    w.string(t.topic).int32(t.partitions.length)
    for (const p of t.partitions) w.int32(p)
  }
  return w.bytes(null).toBuffer()
}

/** A GroupMetadataValue of the given version (0–4). */
export function encodeGroupMetadataValue(version: 0 | 1 | 2 | 3 | 4, fields: GroupMetadataFields): Buffer {
  const flexible = version >= 4
  const w = new WireWriter(128).int16(version)
  const str = (s: string | null): void => {
    if (flexible) w.compactString(s)
    else w.string(s)
  }
  const bytes = (b: Buffer | null): void => {
    if (flexible) w.compactBytes(b)
    else w.bytes(b)
  }
  str(fields.protocolType ?? 'consumer')
  w.int32(fields.generation ?? 1)
  str(fields.protocol === undefined ? 'range' : fields.protocol)
  str(fields.leader === undefined ? (fields.members[0]?.memberId ?? null) : fields.leader)
  if (version >= 2) w.int64(fields.currentStateTimestamp ?? -1)
  if (flexible) w.uvarint(fields.members.length + 1)
  else w.int32(fields.members.length)
  for (const m of fields.members) {
    str(m.memberId)
    if (version >= 3) str(m.groupInstanceId ?? null)
    str(m.clientId)
    str(m.clientHost)
    if (version >= 1) w.int32(m.rebalanceTimeout ?? 300_000)
    w.int32(m.sessionTimeout ?? 45_000)
    bytes(Buffer.alloc(0))
    bytes(Buffer.isBuffer(m.assignment) ? m.assignment : encodeConsumerAssignment(m.assignment))
    if (flexible) w.noTaggedFields()
  }
  if (flexible) w.noTaggedFields()
  return w.toBuffer()
}
