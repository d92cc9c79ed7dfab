import assert from 'node:assert/strict'
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { describe, it } from 'node:test'
import { Monitor } from '../../src/monitor/index.ts'
import { api, captureLogger, eventually, testConfig } from './helpers.ts'

/** Waits for `line` on the child's stdout. */
function expectLine(child: ChildProcessByStdio<Writable, Readable, null>, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString()
      if (seen.split('\n').includes(line)) {
        child.stdout.off('data', onData)
        resolve()
      }
    }
    child.stdout.on('data', onData)
    child.once('exit', (code) => reject(new Error(`the owner exited with ${code} before printing ${line}`)))
  })
}

describe('monitor beside the process that owns an embedded file log', () => {
  it('watches the live commits through a read-only view it refreshes, without taking the directory over', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-monitor-owner-'))
    const owner = spawn(process.execPath, [path.join(import.meta.dirname, '../log/fixtures/owner.ts'), dir], { stdio: ['pipe', 'pipe', 'inherit'] })
    const { logger, lines } = captureLogger('info')
    const monitor = new Monitor(testConfig({ local: { log: `file:${dir}`, 'offset-refresh': 0.05, 'poll-interval': 0.05 } }), { logger })
    try {
      await expectLine(owner, 'ready')
      const lock = fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')
      await monitor.start()
      assert.ok(lines.some((l) => /owned by another process; following a read-only view/.test(String(l.msg))), 'it says how it reads the log')
      const lagOf = async (): Promise<number | undefined> => {
        const { code, body } = await api(monitor, '/v3/kafka/local/consumer/billing/lag')
        return code === 200 ? (body.status.totallag as number) : undefined
      }
      await eventually(async () => ((await lagOf()) === 40 ? true : undefined), 'lag 40 after the owner committed 60 of 100')
      owner.stdin.write('commit 30\n')
      await expectLine(owner, 'committed')
      await eventually(async () => ((await lagOf()) === 10 ? true : undefined), 'lag 10 after the owner committed 30 more')
      assert.equal(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8'), lock, 'the owner still holds the directory')
    } finally {
      await monitor.stop()
      owner.stdin.end()
      await new Promise((resolve) => (owner.exitCode === null ? owner.once('exit', resolve) : resolve(undefined)))
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
