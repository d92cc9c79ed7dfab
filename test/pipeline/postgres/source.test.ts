/**
 * The PostgreSQL source against a real server: snapshot + logical replication under concurrent
 * writes, the slot's flush LSN moved only by acks, a server restart mid-stream, long polling,
 * truncates and before-images, and bad settings.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import pg from 'pg'
import { isTributaryError } from '../../../src/core/index.ts'
import { PostgresSource } from '../../../src/pipeline/connectors/postgres/source.ts'
import { postgresSettings } from '../../../src/pipeline/connectors/postgres/settings.ts'
import type { PipelineRecord, StructuredData } from '../../../src/pipeline/index.ts'
import { query, startPostgres } from '../../helpers/postgres.ts'
import { context, eventually, never, usePostgres } from './helpers.ts'

const env = usePostgres()

const names = (): { 'logrepl.slotName': string; 'logrepl.publicationName': string } => {
  const id = randomUUID().replaceAll('-', '').slice(0, 10)
  return { 'logrepl.slotName': `s_${id}`, 'logrepl.publicationName': `p_${id}` }
}

async function openSource(settings: { [k: string]: unknown }, lastPosition: Buffer | null = null, on = env.url): Promise<PostgresSource> {
  const source = new PostgresSource(postgresSettings.parse({ url: on, ...settings }), context(lastPosition), { retryForMs: 60_000 })
  await source.open(never)
  return source
}

/** Reads (and acks, unless told not to) until `done(all)` holds. */
async function readUntil(source: PostgresSource, done: (all: PipelineRecord[]) => boolean, options: { ack?: boolean; timeoutMs?: number } = {}): Promise<PipelineRecord[]> {
  const all: PipelineRecord[] = []
  const deadline = Date.now() + (options.timeoutMs ?? 30_000)
  while (!done(all)) {
    if (Date.now() > deadline) assert.fail(`read ${all.length} records, condition not met`)
    const ac = new AbortController()
    const timer = setTimeout(() => ac.abort(), 500)
    const batch = await source.read(ac.signal)
    clearTimeout(timer)
    all.push(...batch)
    if (batch.length > 0 && options.ack !== false) await source.ack(batch.map((r) => r.position))
  }
  return all
}

const idOf = (r: PipelineRecord): number => ((r.key as StructuredData | null)?.id ?? (r.payload.after as StructuredData | null)?.id) as number

/** An LSN (`X/Y`) as a number that orders like it. */
function lsnValue(lsn: string): bigint {
  const [hi, lo] = lsn.split('/')
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`)
}

/** The LSN of the transaction a CDC record's position names. */
function commitLsn(record: PipelineRecord): string {
  return (JSON.parse(record.position.toString()) as { lsn: string }).lsn
}

async function slotLsn(slot: string, on = env.url): Promise<string> {
  const rows = await query<{ lsn: string }>(on, 'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slot])
  return rows[0]?.lsn ?? 'none'
}

describe('postgres source', () => {
  it('snapshots a table and streams its changes under concurrent writes, losing and doubling nothing', async () => {
    await query(env.url, 'CREATE TABLE busy (id int PRIMARY KEY, v int NOT NULL)')
    await query(env.url, 'INSERT INTO busy SELECT g, 0 FROM generate_series(1, 3000) g')
    const writer = new pg.Client({ connectionString: env.url })
    await writer.connect()
    let stop = false
    let next = 3001
    const writing = (async () => {
      let round = 0
      while (!stop) {
        round++
        await writer.query('BEGIN')
        await writer.query('INSERT INTO busy VALUES ($1, $2), ($3, $4)', [next, round, next + 1, round])
        await writer.query('UPDATE busy SET v = v + 1 WHERE id = $1', [1 + (round * 7) % 3000])
        await writer.query('DELETE FROM busy WHERE id = $1', [1 + (round * 13) % 3000])
        await writer.query('COMMIT')
        next += 2
      }
      await writer.query('INSERT INTO busy VALUES (-1, -1)') // the end marker
    })()
    const settings = { tables: 'busy', cdcMode: 'logrepl', 'batch.size': 500, 'snapshot.fetchSize': 700, ...names() }
    await eventually(() => (next > 3100 ? true : undefined), 'the writer to get going')
    const source = await openSource(settings)
    const firstRecords = await readUntil(source, (all) => all.length >= 3000)
    stop = true
    await writing
    await writer.end()
    const records = [...firstRecords, ...(await readUntil(source, (all) => all.some((r) => idOf(r) === -1)))]
    await source.teardown()

    const positions = new Set(records.map((r) => r.position.toString()))
    assert.equal(positions.size, records.length, 'positions are unique')
    const snapshotIds = records.filter((r) => r.operation === 'snapshot').map(idOf)
    assert.equal(new Set(snapshotIds).size, snapshotIds.length, 'each row once in the snapshot')
    const created = new Map<number, number>()
    for (const r of records) if (r.operation === 'snapshot' || r.operation === 'create') created.set(idOf(r), (created.get(idOf(r)) ?? 0) + 1)
    assert.ok([...created.values()].every((n) => n === 1), 'no row both in the snapshot and created, or created twice')
    const state = new Map<number, unknown>()
    for (const r of records) {
      if (r.operation === 'delete') state.delete(idOf(r))
      else state.set(idOf(r), r.payload.after)
    }
    const table = await query<{ id: number; v: number }>(env.url, 'SELECT id, v FROM busy ORDER BY id')
    assert.deepEqual(
      [...state.entries()].sort((a, b) => a[0] - b[0]).map(([, row]) => row),
      table,
    )
    assert.ok(records.some((r) => r.operation === 'update') && records.some((r) => r.operation === 'delete'))
    const meta = records.at(-1)?.metadata ?? {}
    assert.equal(meta['opencdc.collection'], 'busy')
    assert.match(meta['opencdc.createdAt'] ?? '', /^\d{19}$/)
  })

  it('moves the slot only when the pipeline acknowledges: unacknowledged changes are read again after a restart, acknowledged ones are not', async () => {
    await query(env.url, 'CREATE TABLE acked (id int PRIMARY KEY, v text)')
    const settings = { tables: 'acked', cdcMode: 'logrepl', snapshotMode: 'never', ...names() }
    const slot = settings['logrepl.slotName']
    let source = await openSource(settings)
    const start = await slotLsn(slot)
    await query(env.url, `INSERT INTO acked VALUES (1, 'a')`)
    await query(env.url, `INSERT INTO acked VALUES (2, 'b')`)
    await query(env.url, `BEGIN; INSERT INTO acked VALUES (3, 'c'), (4, 'd'), (5, 'e'); COMMIT`)
    let records = await readUntil(source, (all) => all.length >= 5, { ack: false })
    assert.deepEqual(records.map(idOf), [1, 2, 3, 4, 5])
    await source.teardown()
    // Other databases of a shared server write WAL too, and an idle slot follows it; what matters is
    // that the slot never passes a change the pipeline has not acknowledged.
    assert.ok(lsnValue(await slotLsn(slot)) < lsnValue(commitLsn(records[0])), 'nothing acknowledged: the slot stays before the first change')

    source = await openSource(settings)
    records = await readUntil(source, (all) => all.length >= 5, { ack: false })
    assert.deepEqual(records.map(idOf), [1, 2, 3, 4, 5], 'replayed from the slot')
    // acknowledge the first two transactions and part of the third
    await source.ack(records.slice(0, 3).map((r) => r.position))
    await eventually(async () => ((await slotLsn(slot)) !== start ? true : undefined), 'the slot to move')
    const moved = await slotLsn(slot)
    await source.teardown()

    source = await openSource(settings)
    records = await readUntil(source, (all) => all.length >= 3, { ack: false })
    assert.deepEqual(records.map(idOf), [3, 4, 5], 'the half-acknowledged transaction comes again, whole, without a stored position')
    await source.teardown()
    assert.ok(lsnValue(await slotLsn(slot)) >= lsnValue(moved) && lsnValue(await slotLsn(slot)) < lsnValue(commitLsn(records[0])), 'the slot stays before the half-acknowledged transaction')

    const lastAcked = records[0]?.position as Buffer
    source = await openSource(settings, lastAcked)
    records = await readUntil(source, (all) => all.length >= 2, { ack: false })
    assert.deepEqual(records.map(idOf), [4, 5], 'with the stored position, the acknowledged change is skipped')
    await source.ack(records.map((r) => r.position))
    await source.teardown()

    source = await openSource(settings, records[1]?.position as Buffer)
    await query(env.url, `INSERT INTO acked VALUES (6, 'f')`)
    records = await readUntil(source, (all) => all.length >= 1)
    assert.deepEqual(records.map(idOf), [6])
    await source.teardown()
    assert.equal(await source.cleanup(), true)
    assert.deepEqual(await query(env.url, 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]), [])
  })

  it('starts the snapshot over, on a new slot, when the last run stopped in the middle of it', async () => {
    await query(env.url, 'CREATE TABLE halfway (id int PRIMARY KEY)')
    await query(env.url, 'INSERT INTO halfway SELECT generate_series(1, 1000)')
    const settings = { tables: 'halfway', cdcMode: 'logrepl', 'batch.size': 100, 'snapshot.fetchSize': 100, ...names() }
    let source = await openSource(settings)
    const part = await readUntil(source, (all) => all.length >= 300)
    await source.teardown()
    await query(env.url, 'INSERT INTO halfway VALUES (5000)')
    source = await openSource(settings, part.at(-1)?.position ?? null)
    const again = await readUntil(source, (all) => all.length >= 1001)
    await query(env.url, 'INSERT INTO halfway VALUES (6000)')
    const more = await readUntil(source, (all) => all.length >= 1)
    await source.teardown()
    await source.cleanup()
    assert.deepEqual(new Set(again.map((r) => r.operation)), new Set(['snapshot']), 'the whole table again as a snapshot, the row added meanwhile included')
    assert.deepEqual(again.map(idOf).sort((a, b) => a - b), [...Array.from({ length: 1000 }, (_, i) => i + 1), 5000])
    assert.deepEqual(more.map((r) => [r.operation, idOf(r)]), [['create', 6000]])
  })

  it('streams truncates, and before-images when the table has REPLICA IDENTITY FULL', async () => {
    await query(env.url, 'CREATE TABLE full_t (id int PRIMARY KEY, v text)')
    await query(env.url, 'ALTER TABLE full_t REPLICA IDENTITY FULL')
    await query(env.url, 'CREATE TABLE plain_t (id int PRIMARY KEY, v text)')
    const source = await openSource({ tables: 'full_t,plain_t', cdcMode: 'logrepl', snapshotMode: 'never', ...names() })
    await query(env.url, `INSERT INTO full_t VALUES (1, 'a'); UPDATE full_t SET v = 'b' WHERE id = 1; DELETE FROM full_t WHERE id = 1`)
    await query(env.url, `INSERT INTO plain_t VALUES (1, 'a'); UPDATE plain_t SET v = 'b' WHERE id = 1; DELETE FROM plain_t WHERE id = 1; TRUNCATE plain_t`)
    const records = await readUntil(source, (all) => all.length >= 7)
    await source.teardown()
    const [ins, upd, del, pIns, pUpd, pDel, trunc] = records
    assert.deepEqual([ins?.operation, upd?.operation, del?.operation], ['create', 'update', 'delete'])
    assert.deepEqual(upd?.payload, { before: { id: 1, v: 'a' }, after: { id: 1, v: 'b' } })
    assert.deepEqual(del?.payload, { before: { id: 1, v: 'b' }, after: null })
    assert.deepEqual(del?.key, { id: 1 })
    assert.deepEqual(pUpd?.payload.before, null)
    assert.deepEqual([pIns?.key, pDel?.key, pDel?.payload.before], [{ id: 1 }, { id: 1 }, null])
    assert.equal(trunc?.operation, 'delete')
    assert.equal(trunc?.metadata['postgres.operation'], 'truncate')
    assert.equal(trunc?.metadata['opencdc.collection'], 'plain_t')
  })

  it('polls by an increasing column when asked to (long_polling), snapshot rows first, and resumes from its position', async () => {
    await query(env.url, 'CREATE TABLE polled (id bigserial PRIMARY KEY, v text)')
    await query(env.url, `INSERT INTO polled (v) SELECT 'old' FROM generate_series(1, 5)`)
    const settings = { tables: 'polled', cdcMode: 'long_polling', 'longPolling.pollInterval': 50 }
    let source = await openSource(settings)
    assert.equal(source.mode, 'long_polling')
    await query(env.url, `INSERT INTO polled (v) VALUES ('new1'), ('new2')`)
    let records = await readUntil(source, (all) => all.length >= 7)
    assert.deepEqual(records.map((r) => r.operation), ['snapshot', 'snapshot', 'snapshot', 'snapshot', 'snapshot', 'create', 'create'])
    await source.teardown()
    source = await openSource(settings, records.at(-1)?.position ?? null)
    await query(env.url, `INSERT INTO polled (v) VALUES ('new3')`)
    records = await readUntil(source, (all) => all.length >= 1)
    assert.deepEqual(records.map((r) => [r.operation, (r.payload.after as StructuredData).v]), [['create', 'new3']])
    await source.teardown()
  })

  it('does not hold WAL: with nothing unacknowledged, writes to other tables move the slot on', async () => {
    await query(env.url, 'CREATE TABLE watched (id int PRIMARY KEY); CREATE TABLE busy_other (id int)')
    const settings = { tables: 'watched', cdcMode: 'logrepl', snapshotMode: 'never', 'logrepl.statusInterval': 0.2, ...names() }
    const source = await openSource(settings, null, env.url)
    await query(env.url, 'INSERT INTO watched VALUES (1)')
    const [one] = await readUntil(source, (all) => all.length >= 1, { ack: false })
    await query(env.url, 'INSERT INTO busy_other SELECT generate_series(1, 10000)')
    const target = (await query<{ lsn: string }>(env.url, 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]?.lsn
    const behind = async (): Promise<boolean> => (await query<{ b: boolean }>(env.url, `SELECT confirmed_flush_lsn < $1::pg_lsn AS b FROM pg_replication_slots WHERE slot_name = $2`, [target, settings['logrepl.slotName']]))[0]?.b ?? true
    // unacknowledged change: the slot stays before it, however much other WAL is written
    await readUntil(source, () => false, { ack: false, timeoutMs: 3000 }).catch(() => []) // 3 s of status updates
    assert.equal(await behind(), true, 'an unacknowledged change holds the slot')
    await source.ack([one?.position as Buffer])
    const deadline = Date.now() + 10_000
    while ((await behind()) && Date.now() < deadline) await source.read(AbortSignal.timeout(300))
    assert.equal(await behind(), false, 'the slot moved past the other tables’ WAL')
    await source.teardown()
  })

  it('rejects bad settings with errors that name the setting', async () => {
    await query(env.url, 'CREATE TABLE IF NOT EXISTS there (id int PRIMARY KEY)')
    await assert.rejects(openSource({ tables: 'there,missing_table', ...names() }), (err) => isTributaryError(err, 'TRIB_POSTGRES_CONFIG') && /setting tables: table missing_table does not exist/.test(err.message))
    await assert.rejects(openSource({ ...names() }), (err) => isTributaryError(err, 'TRIB_POSTGRES_CONFIG') && /setting tables is required/.test(err.message))
    await assert.rejects(openSource({ tables: 'there' }, null, 'postgres://x@127.0.0.1:1/db'), (err) => isTributaryError(err, 'TRIB_POSTGRES_UNAVAILABLE') && /cannot connect to url/.test(err.message))
    const role = `norepl_${randomUUID().slice(0, 6)}`
    await query(env.url, `CREATE ROLE ${role} LOGIN`)
    await query(env.url, `GRANT SELECT ON there TO ${role}`)
    const u = new URL(env.url)
    u.username = role
    await assert.rejects(openSource({ tables: 'there', cdcMode: 'logrepl', ...names() }, null, u.toString()), (err) => isTributaryError(err, 'TRIB_POSTGRES_CONFIG') && /setting cdcMode: .*REPLICATION attribute/.test(err.message))
    const auto = await openSource({ tables: 'there', cdcMode: 'auto', ...names() }, null, u.toString())
    assert.equal(auto.mode, 'long_polling', 'auto falls back to long polling')
    await auto.teardown()
    await assert.rejects(openSource({ tables: 'there', cdcMode: 'long_polling', 'longPolling.orderingColumn': 'nope' }), (err) => isTributaryError(err, 'TRIB_POSTGRES_CONFIG') && /setting longPolling.orderingColumn/.test(err.message))
    assert.throws(() => postgresSettings.parse({ url: env.url, tables: 't', cdcMode: 'wal2json' }), /cdcMode/)
    assert.throws(() => postgresSettings.parse({ url: env.url, tables: 't', 'logrepl.slotName': 'Bad-Name' }), /logrepl.slotName/)
  })
})

describe('postgres source on a server of its own', () => {
  const own = usePostgres({ private: true })

  it('recovers from a PostgreSQL restart mid-stream without losing or repeating a change', async () => {
    await query(own.url, 'CREATE TABLE survive (id int PRIMARY KEY)')
    const source = await openSource({ tables: 'survive', cdcMode: 'logrepl', snapshotMode: 'never', ...names() }, null, own.url)
    await query(own.url, 'INSERT INTO survive SELECT generate_series(1, 500)')
    await query(own.url, 'INSERT INTO survive SELECT generate_series(501, 1000)')
    const first = await readUntil(source, (all) => all.length >= 600)
    own.server.restart()
    await query(own.url, 'INSERT INTO survive SELECT generate_series(1001, 1500)')
    const rest = await readUntil(source, (all) => all.length + first.length >= 1500)
    await source.teardown()
    const ids = [...first, ...rest].map(idOf)
    assert.deepEqual(ids, Array.from({ length: 1500 }, (_, i) => i + 1))
  })

  it('says that logrepl needs wal_level=logical, naming cdcMode', async () => {
    const replica = await startPostgres({ extraConf: 'wal_level = replica' })
    try {
      await query(replica.url, 'CREATE TABLE t (id int PRIMARY KEY)')
      await assert.rejects(openSource({ tables: 't', cdcMode: 'logrepl', ...names() }, null, replica.url), (err) => isTributaryError(err, 'TRIB_POSTGRES_CONFIG') && /setting cdcMode: logrepl needs wal_level=logical but the server has wal_level=replica/.test(err.message))
    } finally {
      await replica.stop()
    }
  })
})
