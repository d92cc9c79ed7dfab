/** Shared helpers of the ingestion tests: unique names, waiting for a condition, a memory log, and the CLI child process setup. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before } from 'node:test'
import { openLog, type Log } from '../../src/log/index.ts'
import { registerLog } from '../../src/pipeline/connectors/index.ts'
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts'

/** The repository root, the working directory of CLI child processes. */
export const root = path.resolve(import.meta.dirname, '../..')

/** The CLI entry point, to run with `process.execPath`. */
export const main = path.join(root, 'src/cli/main.ts')

let seq = 0

/** A name unique to this process and call: `<pid>-<time>-<n>`. */
export const uid = (): string => `${process.pid}-${Date.now().toString(36)}-${seq++}`

/** Waits until `check` gives a truthy value and returns it. */
export type Until = <T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs?: number) => Promise<T>

/**
 * An {@link Until} polling every `intervalMs` that fails the test, naming `what`, after `timeoutMs`
 * (unless a call gives its own).
 *
 * @example
 * const until = waiter(20_000, 25)
 * const rows = await until('the rows', async () => (await query(db, 'SELECT 1')).length > 0 && 'yes')
 */
export function waiter(defaultTimeoutMs: number, intervalMs: number): Until {
  return async (what, check, timeoutMs = defaultTimeoutMs) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const v = await check()
      if (v) return v
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, intervalMs))
    }
  }
}

/** A private PostgreSQL database and a temporary directory; set once the `before` hook has run. */
export interface PostgresAndDir {
  server: PostgresServer
  /** The database URL. */
  db: string
  dir: string
}

/**
 * Registers hooks that start PostgreSQL with a fresh database and make a temporary directory named
 * `<prefix>…` before the suite, and stop the server and remove the directory after it.
 *
 * @example
 * const env = usePostgresAndDir('trib-ingest-cli-')
 * it('...', async () => { fs.mkdirSync(path.join(env.dir, 'jobs')) })
 */
export function usePostgresAndDir(prefix: string): PostgresAndDir {
  const env = {} as PostgresAndDir
  before(async () => {
    env.server = await startPostgres()
    env.db = await env.server.database()
    env.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  })
  after(async () => {
    await env.server?.stop()
    fs.rmSync(env.dir, { recursive: true, force: true })
  })
  return env
}

/** A memory log registered under a URL, and temporary directories; set once the `before` hook has run. */
export interface MemoryLogEnv {
  log: Log
  /** `memory:<name>-…`, the URL the log is registered under (job drivers' `logUrl`). */
  url: string
  /** Makes a temporary directory `trib-<name>-…`, removed after the suite. */
  tempDir(): string
}

/**
 * Registers hooks that open a memory log and register it as `memory:<name>-<uid>` before the suite,
 * and unregister and close it, and remove the directories {@link MemoryLogEnv.tempDir} made, after it.
 *
 * @example
 * const env = useMemoryLog('ingest-ctl')
 * it('...', async () => { await env.log.admin.createTopic({ name: 't', partitions: 1 }) })
 */
export function useMemoryLog(name: string): MemoryLogEnv {
  const dirs: string[] = []
  let unregister: () => void
  const env: MemoryLogEnv = {
    log: undefined as unknown as Log,
    url: '',
    tempDir: () => {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), `trib-${name}-`))
      dirs.push(d)
      return d
    },
  }
  before(async () => {
    env.url = `memory:${name}-${uid()}`
    env.log = await openLog('memory:')
    unregister = registerLog(env.url, env.log)
  })
  after(async () => {
    unregister()
    await env.log.close()
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  })
  return env
}
