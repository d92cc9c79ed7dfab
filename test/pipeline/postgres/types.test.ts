/**
 * The type mapping in both directions on a real server: values read by the snapshot and by the
 * replication stream are the documented record values, and writing those records back through
 * the destination gives the same rows.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { PostgresDestination } from '../../../src/pipeline/connectors/postgres/destination.ts'
import { PostgresSource } from '../../../src/pipeline/connectors/postgres/source.ts'
import { postgresSettings } from '../../../src/pipeline/connectors/postgres/settings.ts'
import { decodeText, encodeText, OID, parseArrayLiteral } from '../../../src/pipeline/connectors/postgres/types.ts'
import { recordFromJson, recordToJson, type PipelineRecord } from '../../../src/pipeline/index.ts'
import { query } from '../../helpers/postgres.ts'
import { context, never, usePostgres } from './helpers.ts'

const env = usePostgres()

const COLUMNS = `(
  id int PRIMARY KEY, i2 smallint, i8 bigint, big bigint, f4 real, f8 double precision, num numeric(20,6), t text, vc varchar(10),
  b bool, ts timestamp, tstz timestamptz, d date, u uuid, j json, jb jsonb, by bytea, ia int[], ta text[], nested int[][], tsa timestamptz[], nul text
)`
const ROW = `(1, -7, 9007199254740991, 9223372036854775807, 1.5, 0.1, 12345678.123456, E'tab\\there "q" \\\\ back', 'short',
  true, '2024-05-01 12:00:00.123456', '2024-05-01 14:00:00.5+02', '2024-02-29', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"b": [1, 2], "a": "x"}', '{"k": {"n": null}}', '\\x00ff10', '{1,NULL,3}', '{"a,b","c\\"d",NULL,""}', '{{1,2},{3,4}}',
  '{"2024-01-01 00:00:00+00"}', NULL)`

const EXPECTED = {
  id: 1,
  i2: -7,
  i8: 9007199254740991,
  big: '9223372036854775807',
  f4: 1.5,
  f8: 0.1,
  num: '12345678.123456',
  t: 'tab\there "q" \\ back',
  vc: 'short',
  b: true,
  ts: '2024-05-01T12:00:00.123456Z',
  tstz: '2024-05-01T12:00:00.5Z',
  d: '2024-02-29',
  u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  j: { b: [1, 2], a: 'x' },
  jb: { k: { n: null } },
  by: Buffer.from([0, 255, 16]),
  ia: [1, null, 3],
  ta: ['a,b', 'c"d', null, ''],
  nested: [
    [1, 2],
    [3, 4],
  ],
  tsa: ['2024-01-01T00:00:00Z'],
  nul: null,
}

async function readAll(source: PostgresSource, count: number): Promise<PipelineRecord[]> {
  const out: PipelineRecord[] = []
  while (out.length < count) {
    const batch = await source.read(never)
    out.push(...batch)
    await source.ack(batch.map((r) => r.position))
  }
  return out
}

describe('postgres type mapping', () => {
  it('reads every common type as documented, in the snapshot and in the stream, and writes the records back to the same row', async () => {
    await query(env.url, `CREATE TABLE types_src ${COLUMNS}`)
    await query(env.url, `CREATE TABLE types_dst ${COLUMNS}`)
    await query(env.url, `INSERT INTO types_src VALUES ${ROW}`)
    const id = randomUUID().replaceAll('-', '').slice(0, 8)
    const source = new PostgresSource(postgresSettings.parse({ url: env.url, tables: 'types_src', cdcMode: 'logrepl', 'logrepl.slotName': `ty_${id}`, 'logrepl.publicationName': `ty_${id}` }), context())
    await source.open(never)
    await query(env.url, `INSERT INTO types_src SELECT 2, i2, i8, big, f4, f8, num, t, vc, b, ts, tstz, d, u, j, jb, by, ia, ta, nested, tsa, nul FROM types_src WHERE id = 1`)
    const [snap, change] = await readAll(source, 2)
    await source.teardown()
    await source.cleanup()
    assert.equal(snap?.operation, 'snapshot')
    assert.deepEqual(snap?.payload.after, EXPECTED)
    assert.equal(change?.operation, 'create')
    assert.deepEqual(change?.payload.after, { ...EXPECTED, id: 2 })

    const dest = new PostgresDestination(postgresSettings.parse({ url: env.url, table: 'types_dst' }), context())
    await dest.open(never)
    // once as they are, once after a trip through OpenCDC JSON (bytes become {"type":"Buffer",...})
    const throughJson = recordFromJson(recordToJson(change as PipelineRecord))
    const acks = await dest.write([snap as PipelineRecord, throughJson], never)
    assert.deepEqual(acks.map((a) => a.error?.message), [undefined, undefined])
    await dest.teardown()
    // rows compared as jsonb (json has no equality operator, and keeps its input's spacing)
    const diff = await query(env.url, `(SELECT 'src' AS side, to_jsonb(sr) AS r FROM types_src sr EXCEPT SELECT 'src', to_jsonb(dr) FROM types_dst dr) UNION ALL (SELECT 'dst', to_jsonb(dr) FROM types_dst dr EXCEPT SELECT 'dst', to_jsonb(sr) FROM types_src sr)`)
    assert.deepEqual(diff, [])
    assert.deepEqual(await query(env.url, 'SELECT count(*)::int AS n FROM types_dst'), [{ n: 2 }])
  })

  it('maps text forms without a server: infinity, offsets, large integers, array literals, bytea forms', () => {
    assert.equal(decodeText(OID.timestamptz, 'infinity'), 'infinity')
    assert.equal(decodeText(OID.timestamptz, '2024-05-01 12:00:00+05:30'), '2024-05-01T12:00:00+05:30')
    assert.equal(decodeText(OID.int8, '-9007199254740992'), '-9007199254740992')
    assert.equal(decodeText(OID.float8, 'NaN'), 'NaN')
    assert.deepEqual(parseArrayLiteral('[0:1]={"x\\\\y",NULL}'), ['x\\y', null])
    assert.equal(encodeText(Buffer.from('hi'), { oid: OID.bytea, elemOid: 0 }), '\\x6869')
    assert.equal(encodeText('aGk=', { oid: OID.bytea, elemOid: 0 }), '\\x6869')
    assert.equal(encodeText({ type: 'Buffer', data: [104, 105] }, { oid: OID.bytea, elemOid: 0 }), '\\x6869')
    assert.equal(encodeText(['a"b', null, ['c']], { oid: 1009, elemOid: OID.text }), '{"a\\"b",NULL,{"c"}}')
    assert.equal(encodeText('plain', { oid: OID.jsonb, elemOid: 0 }), '"plain"')
    assert.equal(encodeText(0, { oid: OID.timestamptz, elemOid: 0 }), '1970-01-01T00:00:00.000Z')
    assert.throws(() => encodeText(42, { oid: OID.bytea, elemOid: 0 }), /expected bytes/)
  })
})
