/**
 * The PostgreSQL destination against a real server: COPY for inserts, upserts and deletes in
 * order, bad rows nacked alone with PostgreSQL's code and message, replays acknowledged, bad
 * settings, and a server restart in the middle of a batch.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import { isTributaryError } from '../../../src/core/index.ts'
import { PostgresDestination } from '../../../src/pipeline/connectors/postgres/destination.ts'
import { postgresSettings } from '../../../src/pipeline/connectors/postgres/settings.ts'
import { createRecord } from '../../../src/pipeline/index.ts'
import { query } from '../../helpers/postgres.ts'
import { context, eventually, never, rec, usePostgres } from './helpers.ts'

const env = usePostgres()

async function destination(settings: { [k: string]: unknown }): Promise<PostgresDestination> {
  const dest = new PostgresDestination(postgresSettings.parse({ url: env.url, ...settings }), context(), { retryForMs: 60_000 })
  await dest.open(never)
  return dest
}

describe('postgres destination', () => {
  it('writes a batch of creates through COPY, every value mapped to its column', async () => {
    await query(env.url, `CREATE TABLE copy_t (id int PRIMARY KEY, name text, score numeric(10,2), tags text[], doc jsonb, ok bool, at timestamptz, blob bytea)`)
    const dest = await destination({ table: 'copy_t' })
    const records = Array.from({ length: 2000 }, (_, i) =>
      rec('create', { id: i }, { id: i, name: `n\t${i}\\x\n`, score: `${i}.25`, tags: ['a', `b"${i}`, null], doc: { i, nested: [i] }, ok: i % 2 === 0, at: '2024-05-01T12:00:00.123456Z', blob: Buffer.from([i % 256, 0, 255]) }),
    )
    const acks = await dest.write(records, never)
    assert.equal(acks.length, records.length)
    assert.ok(acks.every((a, i) => a.error === undefined && a.position.equals((records[i] as { position: Buffer }).position)))
    const rows = await query<{ id: number; name: string; score: string; tags: string[]; doc: unknown; ok: boolean; at: string; blob: Buffer }>(env.url, `SELECT id, name, score::text, tags, doc, ok, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS at, blob FROM copy_t WHERE id = 7`)
    assert.deepEqual(rows[0], { id: 7, name: 'n\t7\\x\n', score: '7.25', tags: ['a', 'b"7', null], doc: { i: 7, nested: [7] }, ok: false, at: '2024-05-01 12:00:00.123456', blob: Buffer.from([7, 0, 255]) })
    assert.deepEqual(await query(env.url, 'SELECT count(*)::int AS n FROM copy_t'), [{ n: 2000 }])
    await dest.teardown()
  })

  it('applies a mixed batch in order per key: insert, upsert (update and snapshot), delete, truncate', async () => {
    await query(env.url, `CREATE TABLE mixed_t (id int PRIMARY KEY, v text)`)
    await query(env.url, `INSERT INTO mixed_t VALUES (2, 'old2'), (3, 'old3'), (9, 'old9')`)
    const dest = await destination({ table: 'mixed_t' })
    const acks = await dest.write(
      [
        rec('create', { id: 1 }, { id: 1, v: 'a' }),
        rec('update', { id: 1 }, { id: 1, v: 'b' }),
        rec('update', { id: 1 }, { id: 1, v: 'c' }),
        rec('delete', { id: 2 }, null),
        rec('snapshot', { id: 3 }, { id: 3, v: 'snap3' }),
        rec('update', { id: 4 }, { id: 4, v: 'new4' }),
        rec('create', { id: 5 }, { id: 5, v: 'five' }),
        rec('delete', { id: 5 }, null),
        rec('delete', { id: 42 }, null),
        rec('create', { id: 2 }, { id: 2, v: 'again2' }),
        createRecord({ position: Buffer.from('raw-key-delete'), operation: 'delete', key: '9' }),
      ],
      never,
    )
    assert.deepEqual(acks.map((a) => a.error?.message), Array(11).fill(undefined))
    assert.deepEqual(await query(env.url, 'SELECT id, v FROM mixed_t ORDER BY id'), [
      { id: 1, v: 'c' },
      { id: 2, v: 'again2' },
      { id: 3, v: 'snap3' },
      { id: 4, v: 'new4' },
    ])
    const truncate = await dest.write([rec('delete', null, null, { 'postgres.operation': 'truncate' })], never)
    assert.equal(truncate[0]?.error, undefined)
    assert.deepEqual(await query(env.url, 'SELECT count(*)::int AS n FROM mixed_t'), [{ n: 0 }])
    await dest.teardown()
  })

  it('nacks a row that breaks a constraint alone, with the PostgreSQL code and message, and writes the rest', async () => {
    await query(env.url, `CREATE TABLE strict_t (id int PRIMARY KEY, n int NOT NULL CHECK (n >= 0), email text UNIQUE)`)
    await query(env.url, `INSERT INTO strict_t VALUES (100, 1, 'taken@x')`)
    const dest = await destination({ table: 'strict_t' })
    for (const kind of ['create', 'update'] as const) {
      const base = kind === 'create' ? 0 : 1000
      const records = Array.from({ length: 10 }, (_, i) => rec(kind, { id: base + i }, { id: base + i, n: i === 3 ? -1 : i, email: i === 7 ? 'taken@x' : `${kind}${i}@x` }))
      const acks = await dest.write(records, never)
      const nacked = acks.flatMap((a, i) => (a.error ? [i] : []))
      assert.deepEqual(nacked, [3, 7], `${kind}: only the bad rows are nacked`)
      const check = acks[3]?.error
      const unique = acks[7]?.error
      assert.ok(isTributaryError(check, 'TRIB_POSTGRES_WRITE'))
      assert.match(check.message, /23514 .*check constraint "strict_t_n_check"/)
      assert.match(check.message, new RegExp(`position ${(records[3]?.position as Buffer).toString()}`))
      assert.equal(check.details.pgCode, '23514')
      assert.ok(isTributaryError(unique, 'TRIB_POSTGRES_WRITE'))
      assert.match(unique.message, /23505 duplicate key value violates unique constraint "strict_t_email_key"/)
      assert.equal(unique.details.pgCode, '23505')
      const ids = (await query<{ id: number }>(env.url, 'SELECT id FROM strict_t WHERE id >= $1 AND id < $2 ORDER BY id', [base, base + 10])).map((r) => r.id)
      assert.deepEqual(ids, [0, 1, 2, 4, 5, 6, 8, 9].map((i) => base + i))
    }
    await dest.teardown()
  })

  it('acknowledges a replayed batch of creates (rows already there, the same) and nacks a create whose key holds a different row', async () => {
    await query(env.url, `CREATE TABLE replay_t (id int PRIMARY KEY, v text, doc json)`)
    const dest = await destination({ table: 'replay_t' })
    const records = Array.from({ length: 500 }, (_, i) => rec('create', { id: i }, { id: i, v: `v${i}`, doc: { i } }))
    assert.ok((await dest.write(records, never)).every((a) => a.error === undefined))
    const again = await dest.write(records, never)
    assert.ok(again.every((a) => a.error === undefined), 'a replay is acknowledged')
    const clash = await dest.write([rec('create', { id: 1 }, { id: 1, v: 'different', doc: { i: 1 } }), rec('create', { id: 600 }, { id: 600, v: 'new', doc: null })], never)
    assert.match(clash[0]?.error?.message ?? '', /23505 duplicate key value violates unique constraint "replay_t_pkey"/)
    assert.equal(clash[1]?.error, undefined)
    assert.deepEqual(await query(env.url, 'SELECT count(*)::int AS n FROM replay_t'), [{ n: 501 }])
    assert.deepEqual(await query(env.url, `SELECT v FROM replay_t WHERE id = 1`), [{ v: 'v1' }])
    await dest.teardown()
  })

  it('nacks raw payloads, unknown fields and missing keys, naming the position, and writes the rest', async () => {
    await query(env.url, `CREATE TABLE shape_t (id int PRIMARY KEY, v text)`)
    const dest = await destination({ table: 'shape_t' })
    const raw = createRecord({ position: Buffer.from('raw-1'), operation: 'create', key: 'k', after: '{"id":1}' })
    const acks = await dest.write([raw, rec('create', { id: 2 }, { id: 2, nope: 1 }), rec('update', null, { v: 'x' }), rec('create', { id: 3 }, { id: 3, v: 'ok' })], never)
    assert.match(acks[0]?.error?.message ?? '', /position raw-1 .*raw data/)
    assert.match(acks[1]?.error?.message ?? '', /field nope is not a column/)
    assert.match(acks[2]?.error?.message ?? '', /no value for key column id/)
    assert.equal(acks[3]?.error, undefined)
    assert.deepEqual(await query(env.url, 'SELECT id FROM shape_t'), [{ id: 3 }])
    await dest.teardown()
  })

  it('upserts a large batch through a staging table, twice on one connection, and still nacks a bad row alone', async () => {
    await query(env.url, `CREATE TABLE big_up (id int PRIMARY KEY, n int CHECK (n >= 0), note text)`)
    await query(env.url, `INSERT INTO big_up SELECT g, 0, 'old' FROM generate_series(0, 499) g`)
    const dest = await destination({ table: 'big_up' })
    for (const round of [1, 2]) {
      const acks = await dest.write(Array.from({ length: 1000 }, (_, i) => rec('update', { id: i }, { id: i, n: round, note: `r${round}` })), never)
      assert.ok(acks.every((a) => a.error === undefined))
    }
    assert.deepEqual(await query(env.url, `SELECT count(*)::int AS n, min(note) AS lo, max(note) AS hi FROM big_up`), [{ n: 1000, lo: 'r2', hi: 'r2' }])
    const acks = await dest.write(Array.from({ length: 1000 }, (_, i) => rec('update', { id: i }, { id: i, n: i === 321 ? -5 : 3, note: 'r3' })), never)
    assert.deepEqual(acks.flatMap((a, i) => (a.error ? [i] : [])), [321])
    assert.match(acks[321]?.error?.message ?? '', /23514/)
    const after = await dest.write(Array.from({ length: 300 }, (_, i) => rec('update', { id: i }, { id: i, n: 4, note: 'r4' })), never)
    assert.ok(after.every((a) => a.error === undefined), 'the staging table is made again after a rolled-back batch')
    assert.deepEqual(await query(env.url, `SELECT note, count(*)::int AS n FROM big_up GROUP BY note ORDER BY note`), [
      { note: 'r2', n: 1 },
      { note: 'r3', n: 699 },
      { note: 'r4', n: 300 },
    ])
    await dest.teardown()
  })

  it('uses the `key` setting as the conflict key instead of the primary key', async () => {
    await query(env.url, `CREATE TABLE keyed_t (id serial PRIMARY KEY, email text UNIQUE, name text)`)
    const dest = await destination({ table: 'keyed_t', key: 'email' })
    await dest.write([rec('update', { email: 'a@x' }, { name: 'A' }), rec('update', { email: 'a@x' }, { name: 'A2' }), rec('update', { email: 'b@x' }, { name: 'B' })], never)
    await dest.write([rec('delete', { email: 'b@x' }, null)], never)
    assert.deepEqual(await query(env.url, 'SELECT email, name FROM keyed_t ORDER BY email'), [{ email: 'a@x', name: 'A2' }])
    await dest.teardown()
  })

  it('rejects bad settings with errors that name the setting', async () => {
    await query(env.url, `CREATE TABLE IF NOT EXISTS exists_t (id int PRIMARY KEY)`)
    await assert.rejects(destination({ table: 'no_such_table' }), (err) => isTributaryError(err, 'TRIB_POSTGRES_CONFIG') && /setting table: table no_such_table does not exist/.test(err.message))
    await assert.rejects(destination({ table: 'exists_t', key: 'nope' }), (err) => isTributaryError(err, 'TRIB_POSTGRES_CONFIG') && /setting key: column nope/.test(err.message))
    const dead = new PostgresDestination(postgresSettings.parse({ url: 'postgres://u:secret@127.0.0.1:1/db', table: 't' }), context())
    await assert.rejects(dead.open(never), (err) => isTributaryError(err, 'TRIB_POSTGRES_UNAVAILABLE') && /cannot connect to url postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/.test(err.message) && !err.message.includes('secret'))
    const badDb = new URL(env.url)
    badDb.pathname = '/no_such_db'
    const missingDb = new PostgresDestination(postgresSettings.parse({ url: badDb.toString(), table: 't' }), context())
    await assert.rejects(missingDb.open(never), (err) => isTributaryError(err, 'TRIB_POSTGRES_CONFIG') && /url .* refused .*3D000/.test(err.message))
    assert.throws(() => postgresSettings.parse({ table: 't' }), /url/)
  })
})

describe('postgres destination across a server restart', () => {
  const own = usePostgres({ private: true })

  it('retries a batch cut by a restart and acknowledges it only once committed, each row once', async () => {
    await query(own.url, `CREATE TABLE restart_t (id int PRIMARY KEY, a text, b text, c int, d float8)`)
    const dest = new PostgresDestination(postgresSettings.parse({ url: own.url, table: 'restart_t' }), context(), { retryForMs: 60_000 })
    await dest.open(never)
    const n = 50_000
    const records = Array.from({ length: n }, (_, i) => rec('create', { id: i }, { id: i, a: `a${i}`, b: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', c: i, d: i / 3 }))
    // hold the batch mid-flight: its COPY waits for a lock another session holds, then the server restarts
    const blocker = new pg.Client({ connectionString: own.url })
    blocker.on('error', () => undefined)
    await blocker.connect()
    await blocker.query('BEGIN; LOCK TABLE restart_t IN ACCESS EXCLUSIVE MODE')
    const writing = dest.write(records, never)
    await eventually(async () => ((await query(own.url, `SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'restart_t'::regclass`)).length > 0 ? true : undefined), 'the COPY to wait in its transaction')
    own.server.restart()
    await blocker.end().catch(() => undefined)
    const acks = await writing
    assert.ok(acks.every((a) => a.error === undefined))
    assert.deepEqual(await query(own.url, 'SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM restart_t'), [{ n, d: n }])
    // and the same destination keeps working on its new connection
    const more = await dest.write([rec('update', { id: 1 }, { id: 1, a: 'after' })], never)
    assert.equal(more[0]?.error, undefined)
    await dest.teardown()
  })
})
