import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { eventually } from './helpers.ts'

const root = path.join(import.meta.dirname, '../..')
const main = path.join(root, 'src/cli/main.ts')
const env = { ...process.env, TRIBUTARY_LOG_LEVEL: 'error' }

const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { cwd: root, env, encoding: 'utf8', timeout: 60_000 })

describe('tributary monitor', { timeout: 120_000 }, () => {
  it('documents every option and the config sections in --help', () => {
    const { status, stdout } = run('monitor', '--help')
    assert.equal(status, 0)
    for (const text of ['--config <file>', '--address <host:port>', '127.0.0.1:8000', '--check', '--demo', 'clusters:', 'offset-refresh', 'storage:', 'evaluator:', 'notifiers:', 'coordination:', '/v3/kafka', 'docs/monitor.md']) {
      assert.ok(stdout.includes(text), `--help mentions ${text}`)
    }
    assert.match(run('--help').stdout, /monitor \[options\]/)
  })

  it('validates a config with --check, naming the file, line and field of an error', () => {
    const ok = run('monitor', '--config', 'examples/monitor.yaml', '--check')
    assert.equal(ok.status, 0, ok.stderr)
    assert.match(ok.stdout, /examples\/monitor\.yaml: OK/)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'monitor-cli-'))
    try {
      const bad = path.join(dir, 'bad.yaml')
      fs.writeFileSync(bad, 'clusters:\n  local:\n    log: "memory:"\nevaluator:\n  allowed-lag: lots\n')
      const res = run('monitor', '--config', bad, '--check')
      assert.equal(res.status, 1)
      assert.match(res.stderr, /bad\.yaml: line 5: evaluator\.allowed-lag: .*expected number.* \(TRIB_MONITOR_CONFIG\)/)
      const missing = run('monitor', '--config', path.join(dir, 'nope.yaml'))
      assert.equal(missing.status, 1)
      assert.match(missing.stderr, /nope\.yaml: cannot read the config file: ENOENT/)
      const noConfig = run('monitor')
      assert.notEqual(noConfig.status, 0)
      assert.match(noConfig.stderr, /required option '-c, --config <file>'/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('serves the API over an embedded file log, with the demo workload, until SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'monitor-cli-'))
    const config = path.join(dir, 'monitor.yaml')
    fs.writeFileSync(
      config,
      [
        'clusters:',
        `  local: { log: "file:${path.join(dir, 'data')}", offset-refresh: 0.2, poll-interval: 0.1 }`,
        'storage: { intervals: 4 }',
        'evaluator: { expire-cache: 0 }',
        'httpserver: { address: 127.0.0.1:8000 }',
      ].join('\n'),
    )
    const child = spawn(process.execPath, [main, 'monitor', '--config', config, '--address', '127.0.0.1:0', '--demo'], { cwd: root, env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      const url = await eventually(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1], `the listening line (stdout: ${stdout}, stderr: ${stderr})`, 30_000, 50)
      assert.equal(await (await fetch(`${url}/burrow/admin`)).text(), 'GOOD')
      const status = await eventually(
        async () => {
          const res = await fetch(`${url}/v3/kafka/local/consumer/demo-falls-behind/lag`)
          const body = (await res.json()) as { status?: { status: string } }
          return body.status?.status === 'WARN' ? body.status : undefined
        },
        'the demo group that falls behind to be WARN',
        30_000,
        200,
      )
      assert.equal(status.status, 'WARN')
      const consumers = (await (await fetch(`${url}/v3/kafka/local/consumer`)).json()) as { consumers: string[] }
      assert.deepEqual(consumers.consumers, ['demo-falls-behind', 'demo-keeps-up'])
      child.kill('SIGTERM')
      assert.equal(await exited, 0, stderr)
      assert.match(stdout, /stopping/)
    } finally {
      child.kill('SIGKILL')
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
