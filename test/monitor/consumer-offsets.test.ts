import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/index.ts'
import {
  decodeOffsetsRecord,
  encodeConsumerAssignment,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  WireReader,
  WireWriter,
} from '../../src/monitor/index.ts'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

describe('__consumer_offsets decoding', () => {
  it('decodes offset commit keys v0 and v1 with every value version v0–v4 (v2 included, unlike Burrow)', () => {
    for (const keyVersion of [0, 1] as const) {
      for (const valueVersion of [0, 1, 2, 3, 4] as const) {
        const key = encodeOffsetCommitKey('billing', 'orders', 7, keyVersion)
        const value = encodeOffsetCommitValue(valueVersion, { offset: 2 ** 40 + 5, commitTimestamp: 1_700_000_000_123, leaderEpoch: 9, metadata: 'meta', expireTimestamp: 1_700_000_999_000 })
        const m = decodeOffsetsRecord(key, value)
        assert.equal(m.kind, 'offset-commit', `key v${keyVersion} value v${valueVersion}`)
        if (m.kind !== 'offset-commit') continue
        assert.deepEqual(
          { group: m.group, topic: m.topic, partition: m.partition, offset: m.offset, commitTimestamp: m.commitTimestamp, metadata: m.metadata, valueVersion: m.valueVersion },
          { group: 'billing', topic: 'orders', partition: 7, offset: 2 ** 40 + 5, commitTimestamp: 1_700_000_000_123, metadata: 'meta', valueVersion },
        )
        assert.equal(m.leaderEpoch, valueVersion >= 3 ? 9 : -1)
        assert.equal(m.expireTimestamp, valueVersion === 1 ? 1_700_000_999_000 : -1)
      }
    }
  })

  it('decodes the exact bytes Kafka 4.1 writes (key v1, value v4 with a compact-string metadata and tagged fields)', () => {
    const key = encodeOffsetCommitKey('g', 't', 1, 1)
    // version 4 | offset 2 | leader epoch -1 | metadata "" (uvarint 1) | commit ts | no tagged fields
    const value = hex('0004 0000000000000002 ffffffff 01 000001a201cdfd61 00')
    const m = decodeOffsetsRecord(key, value)
    assert.equal(m.kind, 'offset-commit')
    if (m.kind === 'offset-commit') {
      assert.equal(m.offset, 2)
      assert.equal(m.leaderEpoch, -1)
      assert.equal(m.metadata, '')
      assert.equal(m.commitTimestamp, 0x1a201cdfd61)
    }
  })

  it('reads v4 compact-string lengths as real unsigned varints (metadata of 200 bytes needs two bytes)', () => {
    const metadata = 'x'.repeat(200)
    const value = encodeOffsetCommitValue(4, { offset: 1, commitTimestamp: 5, metadata })
    // 201 as a uvarint is 0xc9 0x01; Burrow reads only the first byte and misparses the rest.
    assert.deepEqual([...value.subarray(2 + 8 + 4, 2 + 8 + 4 + 2)], [0xc9, 0x01])
    const m = decodeOffsetsRecord(encodeOffsetCommitKey('g', 't', 0), value)
    assert.equal(m.kind === 'offset-commit' && m.metadata, metadata)
    assert.equal(m.kind === 'offset-commit' && m.commitTimestamp, 5)
  })

  it('turns offset and group tombstones into deletions', () => {
    assert.deepEqual(decodeOffsetsRecord(encodeOffsetCommitKey('g', 't', 3), null), { kind: 'offset-delete', group: 'g', topic: 't', partition: 3 })
    assert.deepEqual(decodeOffsetsRecord(encodeGroupMetadataKey('g'), null), { kind: 'group-delete', group: 'g' })
  })

  it('decodes group metadata v0–v4 with members, client ids, hosts and assignments', () => {
    for (const version of [0, 1, 2, 3, 4] as const) {
      const value = encodeGroupMetadataValue(version, {
        generation: 5,
        currentStateTimestamp: 1_700_000_000_000,
        members: [
          { memberId: 'm-1', groupInstanceId: 'static-1', clientId: 'app-a', clientHost: '/10.0.0.1', assignment: [{ topic: 'orders', partitions: [0, 2] }] },
          { memberId: 'm-2', clientId: 'app-b', clientHost: '/10.0.0.2', assignment: [{ topic: 'orders', partitions: [1] }, { topic: 'refunds', partitions: [0] }] },
        ],
      })
      const m = decodeOffsetsRecord(encodeGroupMetadataKey('billing'), value)
      assert.equal(m.kind, 'group-metadata', `v${version}`)
      if (m.kind !== 'group-metadata') continue
      assert.equal(m.group, 'billing')
      assert.equal(m.protocolType, 'consumer')
      assert.equal(m.generation, 5)
      assert.equal(m.protocol, 'range')
      assert.equal(m.leader, 'm-1')
      assert.equal(m.currentStateTimestamp, version >= 2 ? 1_700_000_000_000 : -1)
      assert.deepEqual(
        m.members.map((x) => [x.memberId, x.groupInstanceId, x.clientId, x.clientHost, x.assignment]),
        [
          ['m-1', version >= 3 ? 'static-1' : null, 'app-a', '/10.0.0.1', [{ topic: 'orders', partitions: [0, 2] }]],
          ['m-2', null, 'app-b', '/10.0.0.2', [{ topic: 'orders', partitions: [1] }, { topic: 'refunds', partitions: [0] }]],
        ],
      )
    }
  })

  it('decodes the empty-group metadata Kafka 4.1 writes (v3, no protocol, no members)', () => {
    const value = hex('0003 0000 00000000 ffff ffff 000001a201cdfccc 00000000')
    const m = decodeOffsetsRecord(encodeGroupMetadataKey('g'), value)
    assert.equal(m.kind, 'group-metadata')
    if (m.kind === 'group-metadata') {
      assert.equal(m.protocolType, '')
      assert.equal(m.protocol, null)
      assert.deepEqual(m.members, [])
    }
  })

  it('leaves assignments of non-consumer protocols (e.g. connect) undecoded', () => {
    const value = encodeGroupMetadataValue(3, {
      protocolType: 'connect',
      members: [{ memberId: 'w', clientId: 'worker', clientHost: '/h', assignment: Buffer.from('opaque') }],
    })
    const m = decodeOffsetsRecord(encodeGroupMetadataKey('connect-cluster'), value)
    assert.equal(m.kind === 'group-metadata' && m.members[0].assignment, null)
  })

  it('ignores newer coordinator record types (key version 3 and above) without calling them malformed', () => {
    const key = new WireWriter().int16(3).string('new-protocol-group').toBuffer()
    assert.deepEqual(decodeOffsetsRecord(key, Buffer.from([0, 0])), { kind: 'ignored', keyVersion: 3 })
  })

  it('rejects malformed records with TRIB_CODEC naming what is wrong', () => {
    const cases: [string, Buffer | null, Buffer | null, RegExp][] = [
      ['no key', null, Buffer.alloc(2), /no key/],
      ['short key', Buffer.from([0]), null, /shorter than its version/],
      ['truncated key', encodeOffsetCommitKey('group', 'topic', 1).subarray(0, 9), null, /topic/],
      ['negative key version', Buffer.from([0xff, 0xfe]), null, /negative key version/],
      ['unknown value version', encodeOffsetCommitKey('g', 't', 0), Buffer.from([0, 9, 0, 0]), /unknown offset value version 9/],
      ['truncated value', encodeOffsetCommitKey('g', 't', 0), encodeOffsetCommitValue(3, { offset: 1, commitTimestamp: 1 }).subarray(0, 12), /leader epoch: needs 4 byte/],
      ['unknown group value version', encodeGroupMetadataKey('g'), Buffer.from([0, 7]), /unknown group metadata value version 7/],
      ['absurd member count', encodeGroupMetadataKey('g'), hex('0001 0008 636f6e73756d6572 00000001 ffff ffff 7fffffff'), /members: count 2147483647 exceeds/],
      ['bad assignment', encodeGroupMetadataKey('g'), encodeGroupMetadataValue(1, { members: [{ memberId: 'm', clientId: 'c', clientHost: 'h', assignment: hex('0000 00000005') }] }), /assignment/],
      ['varint too long', encodeOffsetCommitKey('g', 't', 0), hex('0004 0000000000000001 ffffffff ffffffffff7f'), /longer than 5 bytes/],
    ]
    for (const [name, key, value, message] of cases) {
      assert.throws(
        () => decodeOffsetsRecord(key, value),
        (err: unknown) => isTributaryError(err, 'TRIB_CODEC') && /^malformed __consumer_offsets record/.test(err.message) && message.test(err.message),
        name,
      )
    }
  })

  it('round-trips wire primitives, including multi-byte varints and nulls', () => {
    const w = new WireWriter(1).int8(-1).int16(-2).int32(-3).int64(2 ** 50).uvarint(300).string(null).string('é').compactString(null).compactString('ab').bytes(null).compactBytes(Buffer.from([1]))
    const r = new WireReader(w.toBuffer())
    assert.equal(r.int8('a'), -1)
    assert.equal(r.int16('b'), -2)
    assert.equal(r.int32('c'), -3)
    assert.equal(r.int64('d'), 2 ** 50)
    assert.equal(r.uvarint('e'), 300)
    assert.equal(r.nullableString('f'), null)
    assert.equal(r.string('g'), 'é')
    assert.equal(r.compactNullableString('h'), null)
    assert.equal(r.compactString('i'), 'ab')
    assert.equal(r.bytes('j'), null)
    assert.deepEqual(r.compactBytes('k'), Buffer.from([1]))
    assert.equal(r.remaining, 0)
    assert.deepEqual(encodeConsumerAssignment([]), hex('0000 00000000 ffffffff'))
  })
})
