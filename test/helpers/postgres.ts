/**
 * The PostgreSQL URL for tests: `PG_URL` when set (the test command provides it), otherwise a server
 * started with `bash scripts/postgres.sh start` (and stopped after the tests) when that script exists.
 * Returns `undefined` when neither is available, so a suite can skip with a reason.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const root = path.join(import.meta.dirname, '..', '..')

/** A PostgreSQL URL and how to let it go. */
export interface TestPostgres {
  readonly url: string
  stop(): void
}

/** Finds or starts PostgreSQL for a test file. */
export function testPostgres(): TestPostgres | undefined {
  if (process.env.PG_URL) return { url: process.env.PG_URL, stop: () => {} }
  const script = path.join(root, 'scripts', 'postgres.sh')
  if (!fs.existsSync(script)) return undefined
  const started = spawnSync('bash', [script, 'start'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const url = started.stdout?.trim().split('\n').at(-1)
  if (started.status !== 0 || !url) return undefined
  return { url, stop: () => void spawnSync('bash', [script, 'stop'], { cwd: root, stdio: 'inherit' }) }
}
