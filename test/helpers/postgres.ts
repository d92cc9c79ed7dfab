/**
 * A real PostgreSQL for tests: `PG_URL` when set (a server someone else runs), else a private
 * cluster started with `scripts/postgres.sh` in a directory of its own and stopped by
 * {@link PostgresServer.stop}. Tests that restart the server always get a private cluster.
 *
 * @example
 * ```ts
 * const pg = await startPostgres()
 * after(() => pg.stop())
 * const db = await pg.database()       // a fresh database for this file
 * ```
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'

const script = path.join(import.meta.dirname, '..', '..', 'scripts', 'postgres.sh')

/** A running server the test may use. */
export interface PostgresServer {
  /** The server URL (database `tributary`). */
  readonly url: string
  /** True when this process started the server (then {@link restart} works). */
  readonly owned: boolean
  /** Creates a fresh database and returns its URL. */
  database(): Promise<string>
  /** `pg_ctl restart -m fast` on the same port; only for a server this process started. */
  restart(): void
  /** Stops a server this process started but keeps its data and port (an outage); {@link resume} starts it again. */
  halt(): void
  /** Starts a halted server again on the same port. */
  resume(): void
  /** Stops a server this process started and deletes its directory; a no-op for `PG_URL`. */
  stop(): Promise<void>
}

/** Options for {@link startPostgres}. */
export interface StartOptions {
  /** Start a private server even when `PG_URL` is set (tests that restart the server). */
  private?: boolean
  /** Lines appended to postgresql.conf of a private server (implies `private`). */
  extraConf?: string
}

/** Starts (or connects to) the test server. */
export async function startPostgres(options: StartOptions = {}): Promise<PostgresServer> {
  const external = process.env.PG_URL
  let url: string
  let dir: string | null = null
  if (external && !options.private && options.extraConf === undefined) {
    url = external
  } else {
    dir = path.join(os.tmpdir(), `tributary-pg-${process.pid}-${randomUUID().slice(0, 6)}`)
    url = execFileSync('bash', [script, 'start'], { env: { ...process.env, TRIBUTARY_PG_DIR: dir, PG_EXTRA_CONF: options.extraConf ?? '' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()
    // A watchdog stops the server when this process dies without calling stop() (a killed test run).
    spawn('bash', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; exec bash "$0" stop`, script], {
      env: { ...process.env, TRIBUTARY_PG_DIR: dir },
      detached: true,
      stdio: 'ignore',
    }).unref()
  }
  const databases: string[] = []
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      return await fn(client)
    } finally {
      await client.end()
    }
  }
  return {
    url,
    owned: dir !== null,
    async database() {
      const name = `t_${randomUUID().replaceAll('-', '').slice(0, 12)}`
      await admin((c) => c.query(`CREATE DATABASE ${name}`))
      databases.push(name)
      const u = new URL(url)
      u.pathname = `/${name}`
      return u.toString()
    },
    restart() {
      if (dir === null) throw new Error('restart needs a private server (startPostgres({ private: true }))')
      execFileSync('bash', [script, 'restart'], { env: { ...process.env, TRIBUTARY_PG_DIR: dir }, stdio: ['ignore', 'ignore', 'inherit'] })
    },
    halt() {
      if (dir === null) throw new Error('halt needs a private server (startPostgres({ private: true }))')
      execFileSync('bash', [script, 'halt'], { env: { ...process.env, TRIBUTARY_PG_DIR: dir }, stdio: ['ignore', 'ignore', 'inherit'] })
    },
    resume() {
      if (dir === null) throw new Error('resume needs a private server (startPostgres({ private: true }))')
      execFileSync('bash', [script, 'resume'], { env: { ...process.env, TRIBUTARY_PG_DIR: dir }, stdio: ['ignore', 'ignore', 'inherit'] })
    },
    async stop() {
      if (dir !== null) {
        execFileSync('bash', [script, 'stop'], { env: { ...process.env, TRIBUTARY_PG_DIR: dir }, stdio: ['ignore', 'ignore', 'inherit'] })
        return
      }
      // A shared server: drop what this file created (slots first, they pin databases).
      await admin(async (c) => {
        for (const name of databases) {
          await c.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, [name]).catch(() => undefined)
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
        }
      })
    },
  }
}

/** Runs `sql` on `url` and returns the rows. */
export async function query<T = { [column: string]: unknown }>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(sql, params)).rows as T[]
  } finally {
    await client.end()
  }
}
