import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'

const main = path.join(import.meta.dirname, '../../src/cli/main.ts')
const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-cli-'))
after(() => fs.rmSync(cwd, { recursive: true, force: true }))

function cli(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [main, ...args], { cwd, input, encoding: 'utf8', env: { ...process.env, TRIBUTARY_LOG: '' } })
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
}

describe('tributary CLI', () => {
  it('prints help for every command', () => {
    for (const args of [[], ['log'], ['log', 'create'], ['log', 'produce'], ['log', 'consume'], ['log', 'lag'], ['demo'], ['bench'], ['bench', 'log']]) {
      const { status, stdout } = cli([...args, '--help'])
      assert.equal(status, 0, `${args.join(' ')} --help exits 0`)
      assert.match(stdout, /Usage: tributary/, `${args.join(' ')} --help prints usage`)
    }
  })

  it('rejects invalid arguments with a message and a non-zero exit', () => {
    const missing = cli(['log', 'create'])
    assert.notEqual(missing.status, 0)
    assert.match(missing.stderr, /missing required argument 'topic'/)
    const bad = cli(['log', 'create', 'x', '--partitions', 'zero'])
    assert.notEqual(bad.status, 0)
    assert.match(bad.stderr, /--partitions.*positive integer/)
    const unknown = cli(['frobnicate'])
    assert.notEqual(unknown.status, 0)
    assert.match(unknown.stderr, /unknown command 'frobnicate'/)
    const url = cli(['log', 'topics', '--log', 'ftp://x'])
    assert.equal(url.status, 1)
    assert.match(url.stderr, /TRIB_LOG_BAD_URL/)
  })

  it('creates a topic, produces from stdin and flags, consumes, and reports lag on the file log', () => {
    const log = ['--log', `file:${path.join(cwd, 'data')}`]
    assert.equal(cli(['log', 'create', 'events', '--partitions', '2', ...log]).status, 0)
    const produced = cli(['log', 'produce', 'events', '--keyed', ...log], 'alice\tone\nbob\ttwo\n')
    assert.equal(produced.status, 0, produced.stderr)
    assert.match(produced.stderr, /produced 2 record/)
    assert.equal(cli(['log', 'produce', 'events', '-k', 'alice', '-v', 'three', ...log]).status, 0)
    const consumed = cli(['log', 'consume', 'events', '--group', 'g', '--commit', '--json', '--idle-ms', '300', ...log])
    assert.equal(consumed.status, 0, consumed.stderr)
    const rows = consumed.stdout.trim().split('\n').map((l) => JSON.parse(l))
    assert.deepEqual(rows.map((r) => `${r.key}=${r.value}`).sort(), ['alice=one', 'alice=three', 'bob=two'])
    const lag = cli(['log', 'lag', 'g', 'events', ...log])
    assert.match(lag.stdout, /total lag 0/)
    const unknown = cli(['log', 'produce', 'nope', '-v', 'x', ...log])
    assert.equal(unknown.status, 1)
    assert.match(unknown.stderr, /unknown topic "nope".*TRIB_LOG_UNKNOWN_TOPIC/)
  })

  it('runs the clicks example end to end on the embedded log and exits 0', () => {
    const { status, stdout, stderr } = cli(['demo', '--once', '--records', '2000', '--log', `file:${path.join(cwd, 'demo')}`])
    assert.equal(status, 0, stderr)
    assert.match(stdout, /member-1: assigned partitions/)
    assert.match(stdout, /member-2: assigned partitions/)
    assert.match(stdout, /caught up, lag 0/)
    const counted = [...stdout.matchAll(/counted (\d+) records/g)].reduce((sum, m) => sum + Number(m[1]), 0)
    assert.equal(counted, 2000, 'the two processor instances together counted every click once')
    assert.match(stdout, /GET \/users\/user-7 → 200 \{"user":"user-7","clicks":40\}/)
    assert.match(stdout, /view: demo-click-counter-table replicated: 50 users, 2000 clicks = the 2000 events in demo-clicks/)
  })
})
