/**
 * The examples run on the embedded log, and with one flag (`--kafka`) on Kafka.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { startClicks } from '../../examples/clicks.ts'
import { runWordCount } from '../../examples/word-count.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { uid } from './helpers.ts'

const examples = path.join(import.meta.dirname, '..', '..', 'examples')
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'
const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-examples-'))
after(() => fs.rmSync(cwd, { recursive: true, force: true }))

function example(file: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [path.join(examples, file), ...args], { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn' } })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** Retries `check` until it holds (an HTTP endpoint has no events to wait on). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail('condition not reached in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('examples', { timeout: 300_000 }, () => {
  it('word count counts the words of sentences (embedded log)', async () => {
    const log = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
    try {
      const counts = await runWordCount(log, ['To be, or not to be', 'that is the question'])
      assert.deepEqual(Object.fromEntries(counts), { be: 2, is: 1, not: 1, or: 1, question: 1, that: 1, the: 1, to: 2 })
    } finally {
      await log.close()
    }
  })

  it('clicks per user are served over HTTP from a view (embedded log)', async () => {
    const log = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
    const app = await startClicks(log, { port: 0 })
    try {
      for (let i = 0; i < 90; i++) app.emitter.emit(`user-${i % 3}`, { user: `user-${i % 3}`, page: '/', at: i })
      await app.emitter.flush()
      await eventually(async () => ((await (await fetch(`${app.url}/users/user-2`)).json()) as { clicks: number }).clicks === 30)
      const res = await fetch(`${app.url}/users/user-1`)
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { user: 'user-1', clicks: 30 })
      assert.deepEqual(await (await fetch(`${app.url}/users/nobody`)).json(), { user: 'nobody', clicks: 0 })
      assert.deepEqual(await (await fetch(`${app.url}/users`)).json(), { 'user-0': 30, 'user-1': 30, 'user-2': 30 })
    } finally {
      await app.close()
      await log.close()
    }
  })

  it('both run on Kafka with --kafka', () => {
    const prefix = `ex-${uid()}-`
    const words = example('word-count.ts', ['--kafka', brokers, '--prefix', prefix, 'to', 'be', 'or', 'not', 'to', 'be'])
    assert.equal(words.status, 0, words.stderr)
    assert.match(words.stdout, /^be\t2$/m)
    assert.match(words.stdout, /^to\t2$/m)
    const clicks = example('clicks.ts', ['--kafka', brokers, '--prefix', prefix, '--once', '--clicks', '200', '--port', '0'])
    assert.equal(clicks.status, 0, clicks.stderr)
    assert.match(clicks.stdout, /GET \/users\/user-0 → 200 \{"user":"user-0","clicks":10\}/)
    assert.match(clicks.stdout, /total clicks served: 200 of 200 emitted/)
  })
})
