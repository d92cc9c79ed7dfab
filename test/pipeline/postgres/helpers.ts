/**
 * Helpers for the PostgreSQL connector tests: a server per file, a connector context, records, and
 * waiting.
 */
import assert from 'node:assert/strict'
import os from 'node:os'
import { after, before } from 'node:test'
import { createLogger } from '../../../src/core/index.ts'
import type { ConnectorContext, PipelineRecord } from '../../../src/pipeline/index.ts'
import { createRecord, type Operation, type StructuredData } from '../../../src/pipeline/index.ts'
import { startPostgres, type PostgresServer } from '../../helpers/postgres.ts'

/** A PostgreSQL server and a fresh database on it; set once the `before` hook has run. */
export interface PostgresTestEnv {
  server: PostgresServer
  /** The database URL. */
  url: string
}

/**
 * Registers hooks that start PostgreSQL (with `options`, e.g. `{ private: true }` for a server the
 * tests may restart) with a fresh database before the tests of the current suite (or file) and stop
 * it after them.
 *
 * @example
 * const env = usePostgres()
 * it('...', async () => { await query(env.url, 'SELECT 1') })
 */
export function usePostgres(options?: Parameters<typeof startPostgres>[0]): PostgresTestEnv {
  const env = {} as PostgresTestEnv
  before(async () => {
    env.server = await startPostgres(options)
    env.url = await env.server.database()
  })
  after(() => env.server.stop())
  return env
}

/** A connector context for driving a connector directly. */
export function context(lastPosition: Buffer | null = null, id = 'test'): ConnectorContext {
  return { pipelineId: 'p', connectorId: `p:${id}`, lastPosition, stateDir: os.tmpdir(), logger: createLogger({ level: process.env.TRIBUTARY_LOG_LEVEL ?? 'error' }) }
}

let seq = 0
/** A structured record with a fresh position. */
export function rec(operation: Operation, key: StructuredData | null, after: StructuredData | null, metadata: { [k: string]: string } = {}): PipelineRecord {
  return createRecord({ position: Buffer.from(`pos-${++seq}`), operation, key, after, metadata })
}

/** Polls `probe` until it returns something other than undefined. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, label: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${label}${last ? ` (last error: ${(last as Error).message})` : ''}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** A signal that never aborts. */
export const never: AbortSignal = new AbortController().signal
