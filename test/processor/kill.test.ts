/**
 * kill -9 a processor process mid-stream, restart it: every input is counted at least once, and with
 * idempotent updates the table equals a recount of the inputs. Runs on the embedded file log and on
 * the real Kafka broker.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { codecs } from '../../src/core/index.ts'
import { openLog, type Log } from '../../src/log/index.ts'
import { View } from '../../src/processor/index.ts'
import { memoryStore } from '../../src/state/index.ts'
import { uid } from './helpers.ts'

const worker = path.join(import.meta.dirname, 'fixtures', 'count-worker.ts')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-kill-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

interface Worker {
  child: ChildProcess
  /** Resolves when the worker printed a line matching `pattern`. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function startWorker(args: string[]): Worker {
  const child = spawn(process.execPath, [worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn' } })
  const lines: string[] = []
  const waiters = new Set<() => void>()
  let buffer = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    const parts = buffer.split('\n')
    buffer = parts.pop() ?? ''
    lines.push(...parts)
    for (const w of [...waiters]) w()
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return {
    child,
    exited,
    line: (pattern, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker printed no ${pattern} in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs)
        const check = (): void => {
          const found = lines.find((l) => pattern.test(l))
          if (found !== undefined) {
            clearTimeout(timer)
            waiters.delete(check)
            resolve(found)
          }
        }
        waiters.add(check)
        check()
        void exited.then(() => {
          check()
          if (waiters.has(check)) {
            clearTimeout(timer)
            waiters.delete(check)
            reject(new Error(`worker exited before printing ${pattern}; stderr: ${stderr.slice(-2000)}`))
          }
        })
      }),
  }
}

const RECORDS = 6_000
const KEYS = 60

async function readRows(log: Log, table: string): Promise<Map<string, number>> {
  const view = new View(log, table, codecs.json<{ n: number }>(), { storage: memoryStore() })
  const run = view.run()
  await view.waitRunning()
  const rows = new Map([...view.iterator()].map(([k, v]) => [k, v.n]))
  await view.stop()
  await run
  return rows
}

/** Inputs of `topic` the group has committed (sum of committed offsets); closes `log` when asked. */
async function committedInputs(log: Log, group: string, topic: string, close: boolean): Promise<number> {
  try {
    return (await log.offsets.committed(group, topic)).reduce((n, o) => n + o.offset, 0)
  } finally {
    if (close) await log.close()
  }
}

async function killAndRestart(url: string, keepLogOpen: boolean): Promise<void> {
  const topic = `kill-in-${uid()}`
  const group = `kill-${uid()}`
  const stateDir = path.join(tmp, group)
  let log = await openLog(url, { cleanerIntervalMs: 0 })
  await log.admin.createTopic({ name: topic, partitions: 3 })
  const producer = log.producer()
  const expected = new Map<string, number>()
  for (let i = 0; i < RECORDS; i += 500) {
    const batch = Array.from({ length: 500 }, (_, j) => ({ topic, key: `k${(i + j) % KEYS}`, value: String(i + j) }))
    for (const r of batch) expected.set(r.key, (expected.get(r.key) ?? 0) + 1)
    await producer.send(batch)
  }
  await producer.close()
  if (!keepLogOpen) await log.close() // the file log allows one process at a time

  const first = startWorker([url, topic, group, stateDir])
  const reported = Number((await first.line(/^committed [1-9]\d*/)).split(' ')[1])
  first.child.kill('SIGKILL')
  const killed = await first.exited
  assert.equal(killed.signal, 'SIGKILL')
  // The state at the kill, read from the log once the worker is dead (not from its first line,
  // which it may have printed long before the kill landed).
  const atKill = await committedInputs(keepLogOpen ? log : await openLog(url, { readOnly: true }), group, topic, !keepLogOpen)
  assert.ok(atKill < RECORDS, `killed mid-stream: ${atKill} of ${RECORDS} inputs committed when the kill landed`)
  assert.ok(atKill >= reported, `nothing the worker reported committed was lost (${reported} reported, ${atKill} committed)`)

  const second = startWorker([url, topic, group, stateDir, '--until-done'])
  await second.line(/^done$/, 120_000)
  const exit = await second.exited
  assert.equal(exit.code, 0)

  if (!keepLogOpen) log = await openLog(url, { cleanerIntervalMs: 0 })
  try {
    const rows = await readRows(log, `${group}-table`)
    assert.deepEqual(Object.fromEntries([...rows].sort()), Object.fromEntries([...expected].sort()), 'the table equals a recount of the inputs')
    const lag = (await log.offsets.lag(group, topic)).reduce((n, p) => n + p.lag, 0)
    assert.equal(lag, 0, 'every input was committed')
  } finally {
    await log.close()
  }
}

describe('kill -9 a processor mid-stream and restart it [slow]', { timeout: 300_000 }, () => {
  it('on the embedded file log', async () => {
    await killAndRestart(`file:${path.join(tmp, `log-${uid()}`)}`, false)
  })

  it('on Kafka', async () => {
    await killAndRestart(`kafka://${process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'}`, true)
  })
})
