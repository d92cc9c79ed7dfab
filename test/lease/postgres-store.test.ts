import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import pg from 'pg'
import { isTributaryError } from '../../src/core/index.ts'
import { postgresLeaseStore } from '../../src/lease/index.ts'
import { startPostgres } from '../helpers/postgres.ts'
import { leaseStoreConformance } from './conformance.ts'

const postgres = await startPostgres()
after(() => postgres.stop())
const url = await postgres.database()
{
  leaseStoreConformance('PostgreSQL', { open: async (table) => postgresLeaseStore({ connectionString: url, tableName: table.replace(/-/g, '_') }) })

  describe('PostgreSQL lease table schema', () => {
    it('a table with other columns is refused with TRIB_LEASE_SCHEMA naming the table and the column', async () => {
      const pool = new pg.Pool({ connectionString: url })
      await pool.query('DROP TABLE IF EXISTS wrong_leases')
      await pool.query('CREATE TABLE wrong_leases (lease_key text PRIMARY KEY, owner text, counter integer)')
      await assert.rejects(
        postgresLeaseStore({ pool, tableName: 'wrong_leases' }).init(),
        (err: unknown) => isTributaryError(err, 'TRIB_LEASE_SCHEMA') && /wrong_leases/.test((err as Error).message) && /counter should be bigint, is integer/.test((err as Error).message),
      )
      await pool.end()
    })

    it('instances starting together all create the table: init of eight stores at once succeeds', async () => {
      const stores = Array.from({ length: 8 }, () => postgresLeaseStore({ connectionString: url, tableName: `together_${process.pid}` }))
      try {
        await Promise.all(stores.map((s) => s.init()))
      } finally {
        await Promise.all(stores.map((s) => s.close()))
      }
    })

    it('bad options and an unreachable server name what is wrong', async () => {
      assert.throws(() => postgresLeaseStore({ tableName: 'x' }), /pool or connectionString/)
      assert.throws(() => postgresLeaseStore({ connectionString: url, tableName: 'a.b.c' }), /schema.table/)
      const store = postgresLeaseStore({ connectionString: 'postgres://nobody@127.0.0.1:1/none', tableName: 'leases' })
      await assert.rejects(store.list(), (err: unknown) => isTributaryError(err, 'TRIB_LEASE_STORE') && /leases/.test((err as Error).message))
      await store.close()
    })
  })
}
