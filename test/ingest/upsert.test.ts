import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { parseJobConfig } from '../../src/ingest/job-config.ts'
import { RowMapper, type Row } from '../../src/ingest/row-mapper.ts'
import { createTableStatement, mergeRowsByKey, postgresColumnType, upsertStatement } from '../../src/ingest/upsert.ts'
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts'

const job = parseJobConfig({
  job: 'scores',
  aresTableConfig: {
    schema: {
      name: 'scores',
      columns: [
        { name: 'player', type: 'BigEnum' },
        { name: 'points', type: 'Int64' },
        { name: 'best', type: 'Uint32' },
        { name: 'worst', type: 'Int32' },
        { name: 'nick', type: 'SmallEnum' },
        { name: 'note', type: 'SmallEnum' },
      ],
      primaryKeyColumns: [0],
    },
    updateMode: { points: 'addition', best: 'max', worst: 'min', nick: 'overwrite_notnull', note: 'overwrite_force' },
  },
  streamConfig: { topic: 'scores' },
})
const mapper = new RowMapper(job.rules)
const row = (msg: object): Row => {
  const r = mapper.map(msg)
  assert.ok(r.ok)
  return r.row
}

/** The table as objects sorted by player, values as strings for easy comparison. */
async function tableRows(client: pg.Client, table: string): Promise<object[]> {
  const res = await client.query(`SELECT player, points::text, best::text, worst::text, nick, note FROM ${table} ORDER BY player`)
  return res.rows
}

describe('ingest upserts (AresDB update modes) on a real PostgreSQL', () => {
  let server: PostgresServer
  let client: pg.Client
  before(async () => {
    server = await startPostgres()
    client = new pg.Client({ connectionString: await server.database() })
    await client.connect()
  })
  after(async () => {
    await client?.end()
    await server?.stop()
  })

  it('maps every AresDB type to a PostgreSQL type that holds it', () => {
    assert.equal(postgresColumnType('Uint32'), 'bigint')
    assert.equal(postgresColumnType('UUID[]'), 'uuid[]')
    assert.throws(() => postgresColumnType('Float64'), /Float64/)
  })

  it('applies addition, max, min, overwrite_notnull and overwrite_force against existing rows', async () => {
    const table = `scores_${process.pid}_a`
    await client.query(createTableStatement(job.rules, table))
    const first = [row({ player: 'ann', points: 10, best: 5, worst: 5, nick: 'a', note: 'x' })]
    await client.query(upsertStatement(job.rules, table, 1), first.flat())
    const second = [row({ player: 'ann', points: 7, best: 3, worst: 2, note: null }), row({ player: 'bob', points: 1 })]
    await client.query(upsertStatement(job.rules, table, 2), second.flat())
    assert.deepEqual(await tableRows(client, table), [
      { player: 'ann', points: '17', best: '5', worst: '2', nick: 'a', note: null },
      { player: 'bob', points: '1', best: null, worst: null, nick: null, note: null },
    ])
    await client.query(`DROP TABLE ${table}`)
  })

  it('merging a batch by key gives the same table as upserting its rows one by one', async () => {
    const batch = [
      row({ player: 'ann', points: 1, best: 4, worst: 4, nick: 'a1', note: 'n1' }),
      row({ player: 'bob', points: 2, best: 1 }),
      row({ player: 'ann', points: 5, best: 9, worst: 1, note: null }),
      row({ player: 'ann', points: 3, best: 2, worst: 3, nick: 'a2' }),
    ]
    const merged = `scores_${process.pid}_m`
    const oneByOne = `scores_${process.pid}_o`
    for (const t of [merged, oneByOne]) {
      await client.query(createTableStatement(job.rules, t))
      await client.query(upsertStatement(job.rules, t, 1), row({ player: 'ann', points: 100, best: 5, worst: 2 }))
    }
    const rows = mergeRowsByKey(job.rules, batch)
    assert.equal(rows.length, 2)
    await client.query(upsertStatement(job.rules, merged, rows.length), rows.flat())
    for (const r of batch) await client.query(upsertStatement(job.rules, oneByOne, 1), r)
    assert.deepEqual(await tableRows(client, merged), await tableRows(client, oneByOne))
    assert.deepEqual((await tableRows(client, merged))[0], { player: 'ann', points: '109', best: '9', worst: '1', nick: 'a2', note: null })
    await client.query(`DROP TABLE ${merged}, ${oneByOne}`)
  })
})
