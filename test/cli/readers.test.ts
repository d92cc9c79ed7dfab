/**
 * Commands that only read an embedded log never lock or create its directory: they work beside the
 * process that owns it, before it exists (a clear message), and the monitor started first does not
 * keep the app from starting.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { format } from 'node:util'
import { after, describe, it } from 'node:test'
import { runDemo } from '../../src/cli/demo.ts'
import { main as runMain, program } from '../../src/cli/main.ts'
import { eventually } from '../monitor/helpers.ts'

const root = path.resolve(import.meta.dirname, '../..')
const main = path.join(root, 'src/cli/main.ts')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-readers-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))
const env = { ...process.env, TRIBUTARY_LOG: '', TRIBUTARY_LOG_LEVEL: 'warn' }
delete process.env.TRIBUTARY_LOG // the CLI's --log default, not the environment's

/**
 * Runs the CLI in this process (a child process per command costs seconds on a busy machine): what
 * the command printed with console.log / console.error, and its exit code.
 */
async function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = []
  const err: string[] = []
  const saved = { log: console.log, error: console.error }
  console.log = (...a: unknown[]) => void out.push(`${format(...a)}\n`)
  console.error = (...a: unknown[]) => void err.push(`${format(...a)}\n`)
  try {
    const status = await runMain(['node', 'tributary', ...args])
    return { status, stdout: out.join(''), stderr: err.join('') }
  } finally {
    Object.assign(console, saved)
  }
}

describe('readers never lock', { timeout: 120_000 }, () => {
  it('a reader of a missing log says so and creates nothing', async () => {
    const missing = path.join(tmp, 'missing')
    for (const args of [['log', 'topics'], ['log', 'describe', 'clicks'], ['log', 'lag', 'g', 'clicks'], ['log', 'consume', 'clicks'], ['log', 'delete', 'clicks']]) {
      const r = await cli([...args, '--log', `file:${missing}`])
      assert.equal(r.status, 1, `${args.join(' ')} fails`)
      assert.equal(r.stderr.trim(), `error: no log at ${missing}; run \`npm start\` first or point --log at one (TRIB_LOG_NOT_FOUND)`, args.join(' '))
      assert.equal(fs.existsSync(missing), false, `${args.join(' ')} created nothing`)
    }
  })

  it('readers work while another process owns the directory, and take no lock', async () => {
    const dir = path.join(tmp, 'owned')
    const owner = spawn(process.execPath, [path.join(root, 'test/log/fixtures/owner.ts'), dir], { env, stdio: ['pipe', 'pipe', 'inherit'] })
    try {
      let out = ''
      owner.stdout.on('data', (c: Buffer) => (out += c.toString()))
      await eventually(() => (out.includes('ready') ? true : undefined), 'the owner to be ready', 30_000)
      const before = fs.readdirSync(dir).sort()
      const topics = await cli(['log', 'topics', '--log', `file:${dir}`])
      assert.equal(topics.status, 0, topics.stderr)
      assert.match(topics.stdout, /^orders\tpartitions=2\tcleanup=delete\trecords=100$/m)
      assert.match((await cli(['log', 'lag', 'billing', 'orders', '--log', `file:${dir}`])).stdout, /total lag 40/)
      assert.match((await cli(['log', 'describe', 'orders', '--log', `file:${dir}`])).stdout, /"partitions": 2/)
      const consumed = await cli(['log', 'consume', 'orders', '--idle-ms', '300', '--log', `file:${dir}`])
      assert.equal(consumed.status, 0, consumed.stderr)
      assert.equal(consumed.stdout.trim().split('\n').length, 100)
      assert.equal(Number(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')), owner.pid, 'the owner still holds the lock')
      assert.deepEqual(fs.readdirSync(dir).sort(), before, 'the readers left nothing behind')
      // Writers still need the owner to let go.
      const write = await cli(['log', 'create', 'more', '--log', `file:${dir}`])
      assert.equal(write.status, 1)
      assert.match(write.stderr, /TRIB_LOG_LOCKED/)
    } finally {
      owner.stdin.end()
      await new Promise((resolve) => owner.once('exit', resolve))
    }
  })

  it('the monitor started first creates nothing, and the demo started after it runs and is watched', async () => {
    const dir = path.join(tmp, 'monitored')
    const config = path.join(tmp, 'monitor.yaml')
    fs.writeFileSync(config, `clusters:\n  local: { log: "file:${dir}", offset-refresh: 0.2, poll-interval: 0.1 }\nevaluator: { expire-cache: 0 }\n`)
    const monitor = spawn(process.execPath, [main, 'monitor', '--config', config, '--address', '127.0.0.1:0'], { cwd: tmp, env })
    let stdout = ''
    let stderr = ''
    monitor.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    monitor.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const exited = new Promise<number | null>((resolve) => monitor.on('exit', resolve))
    try {
      const url = await eventually(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1], `the monitor to listen (${stdout}${stderr})`, 30_000)
      assert.match(stdout, new RegExp(`cluster local: no log at ${dir} yet; run \`npm start\` first or point clusters\\.local\\.log at one`))
      assert.equal(fs.existsSync(dir), false, 'the monitor created no directory')
      // The app, in this process, beside the monitor's.
      const lines: string[] = []
      const demo = await runDemo({ log: `file:${dir}`, records: 1000, once: true, print: (l) => lines.push(l) })
      assert.equal(demo.tableTotal, 1000, lines.join('\n'))
      const lag = await eventually(
        async () => {
          const body = (await (await fetch(`${url}/v3/kafka/local/consumer/demo-click-counter/lag`)).json()) as { status?: { totallag: number; partitions: unknown[] } }
          return body.status?.partitions.length === 4 ? body.status : undefined
        },
        'the monitor to see the demo group',
        30_000,
        200,
      )
      assert.equal(lag.totallag, 0)
      monitor.kill('SIGTERM')
      assert.equal(await exited, 0, stderr)
    } finally {
      monitor.kill('SIGKILL')
    }
  })
})

describe('small things', () => {
  it('log delete of an unknown topic says it does not exist', async () => {
    const log = ['--log', `file:${path.join(tmp, 'small')}`]
    assert.equal((await cli(['log', 'create', 'present', ...log])).status, 0)
    const r = await cli(['log', 'delete', 'nosuch', ...log])
    assert.equal(r.status, 1)
    assert.equal(r.stderr.trim(), 'error: topic "nosuch" does not exist; nothing deleted (tributary log topics lists the topics) (TRIB_LOG_UNKNOWN_TOPIC)')
    assert.equal((await cli(['log', 'delete', 'present', ...log])).stdout.trim(), 'deleted present')
  })

  it('log consume --help is the same in every run (no per-process default group)', () => {
    const help = (): string => {
      const log = program().commands.find((c) => c.name() === 'log')
      return log?.commands.find((c) => c.name() === 'consume')?.helpInformation() ?? ''
    }
    const text = help()
    assert.equal(text, help())
    assert.doesNotMatch(text, /tributary-cli-\d+/)
    assert.match(text, /--group <group>\s+consumer group[\s\S]*default: a group of its own\s+per run/)
  })

  it('a YAML syntax error in the monitor config names the line and column', async () => {
    const bad = path.join(tmp, 'bad.yaml')
    fs.writeFileSync(bad, 'clusters:\n  local:\n    log: memory:\nstorage: { intervals: 10\n')
    const r = await cli(['monitor', '--config', bad, '--check'])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /^error: .*bad\.yaml: line \d+, column \d+: invalid YAML: .* \(TRIB_MONITOR_CONFIG\)$/m)
    fs.writeFileSync(bad, 'a: b: c\n')
    assert.match((await cli(['monitor', '--config', bad, '--check'])).stderr, /bad\.yaml: line 1, column 4: invalid YAML: Nested mappings/)
  })
})
