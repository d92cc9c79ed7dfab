/**
 * Power-loss durability of the file log and its directory lock. A crash of the machine cannot be
 * staged in a test, so these observe the fsync calls (through `fsyncs`, the one place the log makes
 * them) and check what was on disk at each: a file counts as durable only after its data and the
 * directory entry naming it were synced.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/index.ts'
import { fsyncs } from '../../src/log/embedded/durable-fs.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-durable-'))
})
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

interface SyncEvent {
  kind: 'file' | 'directory'
  /** The synced file, or the directory. */
  path: string
  /** For a directory: its entries at the time of the sync. */
  entries?: string[]
  /** Whether the clean-shutdown marker existed at the time. */
  marker: boolean
}

/** Records every fsync the file log makes until `stop()`. */
function observeSyncs(root: string): { events: SyncEvent[]; stop(): void } {
  const events: SyncEvent[] = []
  const original = { ...fsyncs }
  const marker = () => fs.existsSync(path.join(root, '.clean-shutdown'))
  fsyncs.file = (fd) => {
    events.push({ kind: 'file', path: fs.readlinkSync(`/proc/self/fd/${fd}`), marker: marker() })
    original.file(fd)
  }
  fsyncs.directory = (d) => {
    events.push({ kind: 'directory', path: path.resolve(d), entries: fs.readdirSync(d).sort(), marker: marker() })
    original.directory(d)
  }
  return {
    events,
    stop() {
      Object.assign(fsyncs, original)
    },
  }
}

const partitionDir = (topic: string, p = 0) => path.join(dir, 'topics', topic, String(p))
const segmentFiles = (d: string) => fs.readdirSync(d).filter((n) => /^\d{20}\.(log|index)$/.test(n))

describe('file log durability', { skip: process.platform !== 'linux' && 'reads /proc/self/fd' }, () => {
  it('syncs the topic directory after topic.json is renamed into place, and the parents of new directories', async () => {
    const log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    const seen = observeSyncs(dir)
    try {
      await log.admin.createTopic({ name: 'orders', partitions: 2 })
    } finally {
      seen.stop()
      await log.close()
    }
    const topicDir = path.join(dir, 'topics', 'orders')
    const topicSync = seen.events.find((e) => e.kind === 'directory' && e.path === topicDir && e.entries?.includes('topic.json'))
    assert.ok(topicSync, 'the topic directory is synced once topic.json is in it')
    assert.ok(!topicSync.entries?.includes('topic.json.tmp'), 'after the rename, not before')
    const fileSync = seen.events.findIndex((e) => e.kind === 'file' && e.path.endsWith('topic.json.tmp'))
    assert.ok(fileSync >= 0 && fileSync < seen.events.indexOf(topicSync), 'topic.json’s data is synced before its name')
    assert.ok(
      seen.events.some((e) => e.kind === 'directory' && e.path === path.join(dir, 'topics') && e.entries?.includes('orders')),
      'the new topic directory’s own entry is synced',
    )
    for (const p of ['0', '1']) {
      assert.ok(
        seen.events.some((e) => e.kind === 'directory' && e.path === topicDir && e.entries?.includes(p)),
        `partition directory ${p} is synced into the topic directory`,
      )
    }
  })

  it('with fsync: always, syncs the partition directory after each new segment file', async () => {
    const log = openEmbeddedLog({ mode: 'file', dir, fsync: 'always', cleanerIntervalMs: 0 })
    await log.admin.createTopic({ name: 'events', partitions: 1, configs: { 'segment.bytes': '200' } })
    const seen = observeSyncs(dir)
    try {
      const producer = log.producer()
      for (let i = 0; i < 6; i++) await producer.send([{ topic: 'events', key: `k${i}`, value: 'x'.repeat(150) }])
    } finally {
      seen.stop()
    }
    const pdir = partitionDir('events')
    const logs = fs.readdirSync(pdir).filter((n) => n.endsWith('.log'))
    assert.ok(logs.length >= 3, `segments rolled (${logs.length})`)
    for (const name of logs.slice(1)) {
      assert.ok(
        seen.events.some((e) => e.kind === 'directory' && e.path === pdir && e.entries?.includes(name)),
        `the directory entry of ${name} is synced`,
      )
    }
    await log.close()
  })

  it('syncs the directory after compaction renames the merged segment and again after unlinking its neighbours', async () => {
    const log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    await log.admin.createTopic({ name: 'table', partitions: 1, cleanupPolicy: 'compact', configs: { 'segment.bytes': '256', 'delete.retention.ms': '0' } })
    const producer = log.producer()
    for (let i = 0; i < 40; i++) await producer.send([{ topic: 'table', key: `k${i % 3}`, value: 'v'.repeat(60) }])
    const pdir = partitionDir('table')
    const before = segmentFiles(pdir).filter((n) => n.endsWith('.log'))
    const seen = observeSyncs(dir)
    try {
      log.runCleaner(true)
    } finally {
      seen.stop()
    }
    const after = segmentFiles(pdir).filter((n) => n.endsWith('.log'))
    const removed = before.filter((n) => !after.includes(n))
    assert.ok(removed.length > 0, `compaction merged segments (${before.length} → ${after.length})`)
    const dirSyncs = seen.events.filter((e) => e.kind === 'directory' && e.path === pdir)
    const firstMerged = after[0]
    const afterRename = dirSyncs.find((e) => e.entries?.includes(firstMerged) && !e.entries?.some((n) => n.endsWith('.cleaned')) && removed.every((n) => e.entries?.includes(n)))
    assert.ok(afterRename, 'a sync with the merged segment in place and its neighbours still there (before any unlink)')
    const cleanedSync = seen.events.findIndex((e) => e.kind === 'file' && e.path.endsWith('.log.cleaned'))
    assert.ok(cleanedSync >= 0 && cleanedSync < seen.events.indexOf(afterRename), 'the merged data is synced before its rename is')
    const last = dirSyncs[dirSyncs.length - 1]
    assert.ok(removed.every((n) => !last.entries?.includes(n)), 'a final sync after the neighbours were unlinked')
    await log.close()
  })

  it('writes the clean-shutdown marker only after every segment and index is synced, then syncs it', async () => {
    const log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    await log.admin.createTopic({ name: 'events', partitions: 2, configs: { 'segment.bytes': '300' } })
    const producer = log.producer()
    for (let i = 0; i < 20; i++) await producer.send([{ topic: 'events', key: `k${i}`, value: 'y'.repeat(100) }])
    const seen = observeSyncs(dir)
    try {
      await log.close()
    } finally {
      seen.stop()
    }
    assert.ok(fs.existsSync(path.join(dir, '.clean-shutdown')))
    const files = [0, 1].flatMap((p) => segmentFiles(partitionDir('events', p)).map((n) => path.join(partitionDir('events', p), n)))
    assert.ok(files.length > 4, `several segments (${files.length} files)`)
    for (const file of files) {
      const sync = seen.events.find((e) => e.kind === 'file' && e.path === file)
      assert.ok(sync, `${path.relative(dir, file)} is synced at close`)
      assert.equal(sync.marker, false, `${path.relative(dir, file)} is synced before the marker exists`)
    }
    assert.ok(seen.events.some((e) => e.kind === 'file' && e.path === path.join(dir, '.clean-shutdown')), 'the marker’s own data is synced')
    assert.ok(
      seen.events.some((e) => e.kind === 'directory' && e.path === dir && e.entries?.includes('.clean-shutdown') && e.entries.includes('LOCK')),
      'the marker’s name is synced before the lock goes',
    )
  })

  it('rejects a segment.bytes outside 1..2^31-1 at topic creation, naming the topic and the value', async () => {
    const log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    try {
      for (const bad of ['0', '-5', '1.5', String(2 ** 32), 'lots']) {
        await assert.rejects(
          log.admin.createTopic({ name: 'bad', partitions: 1, configs: { 'segment.bytes': bad } }),
          (err: unknown) => isTributaryError(err, 'TRIB_INVALID_ARGUMENT') && err.message.includes('topic bad') && err.message.includes(`segment.bytes="${bad}"`),
          bad,
        )
      }
      assert.equal(fs.existsSync(path.join(dir, 'topics', 'bad')), false, 'nothing was created for a bad topic')
      await log.admin.createTopic({ name: 'fine', partitions: 1, configs: { 'segment.bytes': String(2 ** 31 - 1) } })
    } finally {
      await log.close()
    }
  })
})

describe('directory lock', () => {
  const RACERS = 8

  async function race(target: string): Promise<{ owners: ChildProcess[]; locked: number }> {
    const children = Array.from({ length: RACERS }, () =>
      spawn(process.execPath, [path.join(import.meta.dirname, 'fixtures/lock-racer.ts'), target], { stdio: ['pipe', 'pipe', 'inherit'] }),
    )
    const outcome = children.map(
      (child) =>
        new Promise<string>((resolve, reject) => {
          let out = ''
          child.on('error', reject)
          child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`racer exited with ${code}: ${out}`))))
          child.stdout?.on('data', (chunk: Buffer) => {
            out += chunk.toString()
            if (/(owner|locked)/.test(out)) resolve(out)
          })
        }),
    )
    // Every racer is up and spinning before the start signal.
    await Promise.all(
      children.map((child) => new Promise<void>((resolve) => child.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('waiting') && resolve()))),
    )
    fs.writeFileSync(`${target}.go`, '')
    const results = await Promise.all(outcome)
    const owners = children.filter((_, i) => results[i].includes('owner'))
    return { owners, locked: results.filter((r) => r.includes('locked')).length }
  }

  async function finish(owners: ChildProcess[]): Promise<void> {
    await Promise.all(
      owners.map((child) => {
        const exited = new Promise((resolve) => child.on('exit', resolve))
        child.stdin?.end()
        return exited
      }),
    )
  }

  it(`gives a fresh directory to exactly one of ${RACERS} processes opening it at the same instant`, async () => {
    const target = path.join(dir, 'log')
    const { owners, locked } = await race(target)
    try {
      assert.equal(owners.length, 1, `exactly one owner (${owners.length} owners, ${locked} locked out)`)
      assert.equal(locked, RACERS - 1)
      assert.equal(fs.readFileSync(path.join(target, 'LOCK'), 'utf8'), String(owners[0].pid))
    } finally {
      await finish(owners)
    }
    assert.equal(fs.existsSync(path.join(target, 'LOCK')), false, 'released')
  })

  it(`gives a directory with a stale lock (a dead owner) to exactly one of ${RACERS} racing processes`, async () => {
    const target = path.join(dir, 'stale')
    fs.mkdirSync(target)
    const dead = spawn(process.execPath, ['-e', ''])
    await new Promise((resolve) => dead.on('exit', resolve))
    fs.writeFileSync(path.join(target, 'LOCK'), String(dead.pid))
    const { owners, locked } = await race(target)
    try {
      assert.equal(owners.length, 1, `exactly one owner (${owners.length} owners, ${locked} locked out)`)
      assert.equal(fs.readFileSync(path.join(target, 'LOCK'), 'utf8'), String(owners[0].pid))
    } finally {
      await finish(owners)
    }
  })

  it('refuses a directory whose LOCK names a live process, naming it', () => {
    const target = path.join(dir, 'held')
    fs.mkdirSync(target)
    fs.writeFileSync(path.join(target, 'LOCK'), String(process.ppid))
    assert.throws(
      () => openEmbeddedLog({ mode: 'file', dir: target }),
      (err: unknown) => isTributaryError(err, 'TRIB_LOG_LOCKED') && err.message.includes(`process ${process.ppid}`),
    )
  })
})
