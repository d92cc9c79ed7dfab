import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'

const root = path.resolve(import.meta.dirname, '../..')
const main = path.join(root, 'src/cli/main.ts')
const fixtures = path.join(import.meta.dirname, 'fixtures')

interface Child {
  out: () => string
  err: () => string
  exit: Promise<number | null>
  kill: (signal: NodeJS.Signals) => void
}

function run(args: string[]): Child {
  const child = spawn(process.execPath, [main, ...args], { cwd: root, env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { out: () => out, err: () => err, exit, kill: (s) => child.kill(s) }
}

async function waitFor<T>(get: () => Promise<T | undefined> | T | undefined, ms = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await get()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('tributary run (child process)', () => {
  it('runs the pipelines, serves /v1/pipelines, and stops gracefully on SIGTERM, keeping the position', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-cli-'))
    const child = run(['run', path.join(fixtures, 'counter.yaml'), '--state-dir', stateDir, '--address', '127.0.0.1:0', '--plugins', path.join(fixtures, 'plugins.ts')])
    try {
      const url = await waitFor(() => /HTTP (http:\/\/127\.0\.0\.1:\d+)\/v1\/pipelines/.exec(child.out())?.[1], 20_000, `the server line (stderr: ${child.err()})`)
      const counter = await waitFor(async () => {
        const body = (await (await fetch(`${url}/v1/pipelines/counter`)).json()) as { state: string; counters: { acked: number } }
        return body.counters.acked >= 500 ? body : undefined
      })
      assert.equal(counter.state, 'running')
      const list = (await (await fetch(`${url}/v1/pipelines`)).json()) as { pipelines: { id: string; state: string }[] }
      assert.deepEqual(list.pipelines.map((p) => [p.id, p.state]), [['counter', 'running'], ['parked', 'stopped']])
      assert.match(await (await fetch(`${url}/metrics`)).text(), /conduit_pipeline_status\{pipeline_name="counter"\} 1/)
      child.kill('SIGTERM')
      assert.equal(await child.exit, 0, child.err())
      assert.match(child.out(), /stopping \(finishing the batches in flight/)
      assert.match(child.out(), /counter \[stopped\] read [\d,]+  written [\d,]+/)
      const stored = Number(fs.readFileSync(path.join(stateDir, 'positions', `${encodeURIComponent('counter:src')}.position`), 'utf8'))
      assert.ok(stored >= 499, String(stored))
    } finally {
      child.kill('SIGKILL')
      fs.rmSync(stateDir, { recursive: true, force: true })
    }
  })

  it('a second signal aborts a stop that waits for a hanging write', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-cli-'))
    const child = run(['run', path.join(fixtures, 'hang.yaml'), '--state-dir', stateDir, '--address', '127.0.0.1:0', '--plugins', path.join(fixtures, 'plugins.ts')])
    try {
      const url = await waitFor(() => /HTTP (http:\/\/127\.0\.0\.1:\d+)\/v1\/pipelines/.exec(child.out())?.[1], 20_000, 'the server line')
      await waitFor(async () => (((await (await fetch(`${url}/v1/pipelines/hang`)).json()) as { counters: { read: number } }).counters.read > 0 ? true : undefined))
      child.kill('SIGTERM')
      await waitFor(() => (/stopping/.test(child.out()) ? true : undefined))
      const early = await Promise.race([child.exit.then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 300))])
      assert.equal(early, 'running', 'the first signal waits for the batch in flight')
      child.kill('SIGTERM')
      assert.equal(await child.exit, 0, child.err())
      assert.match(child.out(), /tributary run: aborting/)
      assert.match(child.out(), /hang \[stopped\] read [\d,]+  written 0 /)
    } finally {
      child.kill('SIGKILL')
      fs.rmSync(stateDir, { recursive: true, force: true })
    }
  })

  it('--check prints the pipelines; a bad file exits 1 naming file, line and field', async () => {
    const ok = run(['run', path.join(fixtures, 'counter.yaml'), '--check', '--plugins', path.join(fixtures, 'plugins.ts')])
    assert.equal(await ok.exit, 0, ok.err())
    assert.match(ok.out(), /pipeline counter \[running\]: test-counter \(counter:src\) → test-null \(counter:dst\); DLQ test-null window 1 threshold 0/)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-cli-'))
    try {
      const bad = path.join(dir, 'bad.yaml')
      fs.writeFileSync(bad, fs.readFileSync(path.join(fixtures, 'counter.yaml'), 'utf8').replace('plugin: test-counter\n        settings', 'plugin: test-countr\n        settings'))
      const failed = run(['run', bad, '--plugins', path.join(fixtures, 'plugins.ts')])
      assert.equal(await failed.exit, 1)
      assert.match(failed.err(), /bad\.yaml:7: pipelines\[0\]\.connectors\[0\]\.plugin: unknown connector plugin "test-countr"; plugins that exist for a source: .*test-counter.* \(TRIB_PIPELINE_CONFIG\)/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
