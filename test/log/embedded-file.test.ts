import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { Writable } from 'node:stream'
import { createLogger, isTributaryError, type Record } from '../../src/core/index.ts'
import { openEmbeddedLog, type EmbeddedLog } from '../../src/log/index.ts'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-file-'))
})
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

/** A logger whose JSON lines are kept in `lines`. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: { msg: string; file?: string; position?: number }[] } {
  const lines: { msg: string; file?: string; position?: number }[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line))
      done()
    },
  })
  return { logger: createLogger({ level: 'warn' }, stream), lines }
}

async function readAll(log: EmbeddedLog, topic: string): Promise<Record[]> {
  const consumer = log.consumer({ groupId: `r-${Math.random()}`, topics: [topic] })
  const out: Record[] = []
  for (;;) {
    const batch = await consumer.poll({ timeoutMs: 100 })
    if (batch.length === 0) break
    out.push(...batch)
  }
  await consumer.close()
  return out
}

function segmentFile(topic: string, partition: number): string {
  const partitionDir = path.join(dir, 'topics', topic, String(partition))
  const logs = fs.readdirSync(partitionDir).filter((f) => f.endsWith('.log')).sort()
  return path.join(partitionDir, logs[logs.length - 1])
}

describe('embedded file log', () => {
  it('loses nothing acknowledged when the writer is killed with SIGKILL mid-append', async () => {
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'fixtures/crash-writer.ts'), dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const acked: string[] = []
    let buffer = ''
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject)
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString()
        const lines = buffer.split('\n')
        buffer = lines.pop() as string
        for (const line of lines) acked.push(...line.split(' '))
        if (acked.length >= 20_000 && !child.killed) {
          child.kill('SIGKILL')
          resolve()
        }
      })
      child.on('exit', () => resolve())
    })
    // The child may have exited already (on its own, before the kill): then 'exit' will not come again.
    if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve))
    assert.ok(acked.length >= 20_000, `the writer acknowledged ${acked.length} records before it died`)
    const { logger, lines } = capturingLogger()
    const log = openEmbeddedLog({ mode: 'file', dir, logger, cleanerIntervalMs: 0 })
    const stored = new Set((await readAll(log, 'crash')).map((r) => `${r.partition}:${r.offset}`))
    for (const id of acked) assert.ok(stored.has(id), `acknowledged record ${id} survived`)
    assert.ok(lines.some((l) => /not closed cleanly/.test(l.msg)), 'the unclean shutdown is reported')
    // Still writable after recovery, continuing the offsets.
    const end = await log.offsets.endOffsets('crash')
    const [meta] = await log.producer().send({ topic: 'crash', value: 'after', partition: 0 })
    assert.equal(meta.offset, end[0])
    await log.close()
  })

  it('truncates a torn tail to the last valid batch and reports file and position', async () => {
    let log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    await log.admin.createTopic({ name: 'torn', partitions: 1 })
    await log.producer().send([{ topic: 'torn', value: 'one' }, { topic: 'torn', value: 'two' }])
    await log.producer().send([{ topic: 'torn', value: 'three' }])
    await log.close()
    const file = segmentFile('torn', 0)
    const validSize = fs.statSync(file).size
    // Half of a batch written when the process died: a plausible header, then nothing.
    const torn = Buffer.alloc(25)
    torn.writeUInt32BE(0, 0)
    torn.writeUInt32BE(3, 4)
    torn.writeUInt32BE(500, 8)
    fs.appendFileSync(file, torn)
    fs.rmSync(path.join(dir, '.clean-shutdown'))
    const { logger, lines } = capturingLogger()
    log = openEmbeddedLog({ mode: 'file', dir, logger, cleanerIntervalMs: 0 })
    assert.deepEqual((await readAll(log, 'torn')).map((r) => r.value?.toString()), ['one', 'two', 'three'])
    assert.equal(fs.statSync(file).size, validSize, 'the torn bytes were cut')
    const report = lines.find((l) => /truncated/.test(l.msg))
    assert.ok(report, 'the truncation is logged')
    assert.equal(report.file, file)
    assert.equal(report.position, validSize)
    const [meta] = await log.producer().send({ topic: 'torn', value: 'four' })
    assert.equal(meta.offset, 3, 'appends continue after the last valid record')
    await log.close()
  })

  it('detects a corrupt batch by CRC: truncates on recovery, and names file and position on read', async () => {
    let log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    await log.admin.createTopic({ name: 'rot', partitions: 1 })
    await log.producer().send([{ topic: 'rot', value: 'first-batch' }])
    await log.producer().send([{ topic: 'rot', value: 'second-batch' }])
    await log.close()
    const file = segmentFile('rot', 0)
    const bytes = fs.readFileSync(file)
    const secondBatchAt = bytes.readUInt32BE(8) + 12 // the first batch's length field counts from its CRC
    bytes[bytes.indexOf('second-batch')] ^= 0xff
    fs.writeFileSync(file, bytes)

    // A clean shutdown marker is present, so the tail batch is checked on open via the index scan.
    const { logger, lines } = capturingLogger()
    log = openEmbeddedLog({ mode: 'file', dir, logger, cleanerIntervalMs: 0 })
    const report = lines.find((l) => /truncated/.test(l.msg) && /CRC/.test(l.msg))
    assert.ok(report, `the CRC failure is reported: ${JSON.stringify(lines)}`)
    assert.equal(report.file, file)
    assert.equal(report.position, secondBatchAt)
    assert.deepEqual((await readAll(log, 'rot')).map((r) => r.value?.toString()), ['first-batch'])
    await log.close()
  })

  it('fails a read of a corrupt batch in a closed segment with TRIB_LOG_CORRUPT naming file and position', async () => {
    let log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    await log.admin.createTopic({ name: 'old', partitions: 1, configs: { 'segment.bytes': '100' } })
    await log.producer().send([{ topic: 'old', value: 'x'.repeat(200) }])
    await log.producer().send([{ topic: 'old', value: 'y'.repeat(200) }])
    await log.close()
    const partitionDir = path.join(dir, 'topics', 'old', '0')
    const first = path.join(partitionDir, fs.readdirSync(partitionDir).filter((f) => f.endsWith('.log')).sort()[0])
    const bytes = fs.readFileSync(first)
    bytes[bytes.length - 5] ^= 0xff
    fs.writeFileSync(first, bytes)
    const { logger, lines } = capturingLogger()
    log = openEmbeddedLog({ mode: 'file', dir, logger, cleanerIntervalMs: 0 })
    assert.ok(lines.some((l) => /closed segment/.test(l.msg) && l.file === first), 'the corruption is reported on open')
    assert.equal((await log.offsets.endOffsets('old'))[0], 2, 'a closed segment is not cut')
    const consumer = log.consumer({ groupId: 'g', topics: ['old'] })
    await assert.rejects(consumer.poll({ timeoutMs: 500 }), (err: unknown) => {
      assert.ok(isTributaryError(err, 'TRIB_LOG_CORRUPT'))
      assert.match(err.message, new RegExp(first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      assert.equal(err.details.position, 0)
      return true
    })
    await log.close()
  })

  it('refuses a directory another live process holds, naming it and the process', async () => {
    const log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    assert.throws(() => openEmbeddedLog({ mode: 'file', dir }), (err: unknown) => isTributaryError(err, 'TRIB_LOG_LOCKED') && err.message.includes(dir))
    // A lock left by a dead process is taken over.
    await log.close()
    fs.writeFileSync(path.join(dir, 'LOCK'), '999999')
    const again = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    await again.close()
  })

  it('opens read-only beside the live owner: sees its data as of the open, refuses writes by name, touches nothing', async () => {
    const owner = spawn(process.execPath, [path.join(import.meta.dirname, 'fixtures/owner.ts'), dir], { stdio: ['pipe', 'pipe', 'inherit'] })
    try {
      await new Promise<void>((resolve, reject) => {
        owner.on('error', reject)
        owner.on('exit', (code) => reject(new Error(`the owner exited with ${code}`)))
        owner.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve())
      })
      assert.throws(() => openEmbeddedLog({ mode: 'file', dir }), (err: unknown) => isTributaryError(err, 'TRIB_LOG_LOCKED'))
      // The owner is mid-append: half a batch at the end of the active segment.
      fs.appendFileSync(segmentFile('orders', 0), Buffer.alloc(40, 9))
      const files = (): string[] =>
        fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort().map((f) => {
          const stat = fs.statSync(path.join(dir, f))
          return `${f} ${stat.isFile() ? stat.size : 'dir'} ${stat.isFile() ? fs.readFileSync(path.join(dir, f)).toString('base64') : ''}`
        })
      const before = files()

      const log = openEmbeddedLog({ mode: 'file', dir, readOnly: true })
      assert.deepEqual(await log.admin.listTopics(), ['orders'])
      assert.equal((await log.offsets.endOffsets('orders')).reduce((a, b) => a + b, 0), 100)
      const lag = await log.offsets.lag('billing', 'orders')
      assert.equal(lag.reduce((n, p) => n + p.lag, 0), 40, 'the owner committed 60 of 100')
      assert.deepEqual(await log.offsets.listGroups(), ['billing'])
      assert.ok(log.readCommits(0).length > 0, 'the commit history reads')
      const reader = log.reader({ topic: 'orders' })
      let read = 0
      for (let batch = await reader.poll({ timeoutMs: 50 }); batch.length > 0; batch = await reader.poll({ timeoutMs: 50 })) read += batch.length
      assert.equal(read, 100, 'a reader sees every record, and not the torn tail')
      await reader.close()
      const looker = log.consumer({ groupId: 'billing', topics: ['orders'] })
      const rest = await looker.poll({ timeoutMs: 500 })
      assert.ok(rest.length > 0, 'a group consumer resumes from the owner commits')
      const readOnly = (err: unknown): boolean => isTributaryError(err, 'TRIB_LOG_READ_ONLY') && err.message.includes(path.resolve(dir))
      await assert.rejects(looker.commit(), readOnly)
      await looker.close()
      assert.throws(() => log.producer(), readOnly)
      await assert.rejects(log.admin.createTopic({ name: 'more', partitions: 1 }), readOnly)
      await assert.rejects(log.admin.deleteTopic('orders'), readOnly)
      log.runCleaner(true)
      await log.close()
      assert.deepEqual(files(), before, 'no file was written, truncated, locked or removed')

      // The CLI's looking commands open read-only too.
      const cli = spawnSync(process.execPath, [path.join(import.meta.dirname, '../../src/cli/main.ts'), 'log', 'lag', 'billing', 'orders', '--log', `file:${dir}`], { encoding: 'utf8' })
      assert.equal(cli.status, 0, cli.stderr)
      assert.match(cli.stdout, /total lag 40/)
    } finally {
      owner.stdin.end()
      await new Promise((resolve) => owner.once('exit', resolve))
    }
  })

  it('refuses a read-only open of a directory that holds no log, naming it', () => {
    const missing = path.join(dir, 'nothing-here')
    assert.throws(() => openEmbeddedLog({ mode: 'file', dir: missing, readOnly: true }), (err: unknown) => isTributaryError(err, 'TRIB_LOG_NOT_FOUND') && err.message === `no log at ${missing}: no such directory`)
    assert.equal(fs.existsSync(missing), false, 'nothing was created')
  })

  it('drops old segments by retention.bytes and retention.ms, never the active one', async () => {
    const log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    await log.admin.createTopic({ name: 'small', partitions: 1, retentionBytes: 1_000, configs: { 'segment.bytes': '500' } })
    for (let i = 0; i < 20; i++) await log.producer().send({ topic: 'small', value: Buffer.alloc(200, i) })
    log.runCleaner()
    const [start] = await log.offsets.startOffsets('small')
    const [end] = await log.offsets.endOffsets('small')
    assert.equal(end, 20)
    assert.ok(start > 0 && start < 20, `old segments were dropped (start ${start})`)
    const kept = await readAll(log, 'small')
    assert.equal(kept[0].offset, start)
    assert.equal(kept[kept.length - 1].offset, 19, 'the newest records are kept')

    await log.admin.createTopic({ name: 'old', partitions: 1, retentionMs: 60_000, configs: { 'segment.bytes': '100' } })
    const long = Date.now() - 3_600_000
    await log.producer().send([{ topic: 'old', value: 'x'.repeat(150), timestamp: long }])
    await log.producer().send([{ topic: 'old', value: 'y'.repeat(150), timestamp: long }])
    await log.producer().send([{ topic: 'old', value: 'fresh' }])
    log.runCleaner()
    assert.deepEqual((await readAll(log, 'old')).map((r) => r.value?.toString()), ['fresh'])
    await log.close()
  })

  it('merges compacted segments instead of leaving small and empty files, keeping offsets and the start', async () => {
    let log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    await log.admin.createTopic({ name: 'counts', partitions: 1, cleanupPolicy: 'compact', configs: { 'segment.bytes': '2048', 'delete.retention.ms': '0' } })
    const producer = log.producer()
    const sent: { key: string; value: string; offset: number }[] = []
    for (let i = 0; i < 600; i++) {
      const key = `k${i % 5}`
      const [meta] = await producer.send({ topic: 'counts', key, value: `v${i}` })
      sent.push({ key, value: `v${i}`, offset: meta.offset })
    }
    const partitionDir = path.join(dir, 'topics', 'counts', '0')
    const segmentFiles = (): string[] => fs.readdirSync(partitionDir).filter((n) => n.endsWith('.log')).sort()
    const before = segmentFiles()
    assert.ok(before.length > 10, `many segments before compaction (${before.length})`)
    log.runCleaner(true)
    const after = segmentFiles()
    assert.ok(after.length <= 3, `compaction merged the closed segments: ${before.length} → ${after.length} files`)
    assert.equal(after[0], before[0], 'the first segment stays, so the log start offset does not move')
    assert.deepEqual(await log.offsets.startOffsets('counts'), [0])
    assert.deepEqual(await log.offsets.endOffsets('counts'), [600])
    const latest = new Map<string, { value: string; offset: number }>()
    for (const s of sent) latest.set(s.key, { value: s.value, offset: s.offset })
    const read = await readAll(log, 'counts')
    const last = new Map(read.map((r) => [r.key?.toString() ?? '', { value: r.value?.toString() ?? '', offset: r.offset }]))
    assert.deepEqual(Object.fromEntries(last), Object.fromEntries(latest), 'the latest value of every key, at its original offset')
    assert.ok(read.length < 40, `superseded records are gone (${read.length} left)`)
    await log.close()
    log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    assert.deepEqual((await readAll(log, 'counts')).map((r) => r.offset), read.map((r) => r.offset), 'the same after a restart')
    await log.close()
  })

  it('writes a large rewritten segment in bounded batches that read back from any offset', async () => {
    const log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    await log.admin.createTopic({ name: 'big', partitions: 1, cleanupPolicy: 'compact', configs: { 'segment.bytes': String(4 * 1024 * 1024), 'delete.retention.ms': '0' } })
    const producer = log.producer()
    for (let round = 0; round < 2; round++) {
      await producer.send(Array.from({ length: 2_000 }, (_, i) => ({ topic: 'big', key: `k${i}`, value: Buffer.alloc(1_000, round) })))
    }
    await producer.send({ topic: 'big', key: 'roll', value: Buffer.alloc(4 * 1024 * 1024) })
    await producer.send({ topic: 'big', key: 'last', value: 'x' })
    log.runCleaner(true)
    const survivors = (await readAll(log, 'big')).filter((r) => r.key?.toString().startsWith('k'))
    assert.equal(survivors.length, 2_000)
    assert.ok(survivors.every((r) => r.offset >= 2_000 && r.value?.[0] === 1), 'the second round survives')
    const reader = log.reader({ topic: 'big', from: new Map([[0, 3_500]]) })
    const [first] = await reader.poll({ timeoutMs: 100, maxRecords: 1 })
    assert.equal(first.offset, 3_500, 'a read from the middle of the rewritten segment starts where asked')
    await reader.close()
    await log.close()
  })

  it('drops the segments a crash left behind in the middle of a merge', async () => {
    let log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    await log.admin.createTopic({ name: 'counts', partitions: 1, cleanupPolicy: 'compact', configs: { 'segment.bytes': '1024', 'delete.retention.ms': '0' } })
    const producer = log.producer()
    for (let i = 0; i < 300; i++) await producer.send({ topic: 'counts', key: `k${i % 3}`, value: `v${i}` })
    await log.close()
    const partitionDir = path.join(dir, 'topics', 'counts', '0')
    const saved = path.join(dir, 'saved')
    fs.cpSync(partitionDir, saved, { recursive: true })
    log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    log.runCleaner(true)
    const merged = new Set(fs.readdirSync(partitionDir))
    const expected = (await readAll(log, 'counts')).map((r) => [r.offset, r.key?.toString(), r.value?.toString()])
    await log.close()
    // As if the process died after writing the merged segment but before removing the others.
    for (const name of fs.readdirSync(saved)) if (!merged.has(name)) fs.copyFileSync(path.join(saved, name), path.join(partitionDir, name))
    assert.ok(fs.readdirSync(partitionDir).length > merged.size, 'leftover segments are back')
    log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    assert.deepEqual((await readAll(log, 'counts')).map((r) => [r.offset, r.key?.toString(), r.value?.toString()]), expected, 'no duplicates, no gaps')
    assert.deepEqual(new Set(fs.readdirSync(partitionDir)), merged, 'the leftovers were removed on open')
    await log.close()
  })

  it('keeps compaction results across a restart and rejects keyless records on compacted topics', async () => {
    let log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    await log.admin.createTopic({ name: 'table', partitions: 1, cleanupPolicy: 'compact', configs: { 'segment.bytes': '64', 'delete.retention.ms': '0' } })
    const producer = log.producer()
    for (let i = 0; i < 10; i++) await producer.send({ topic: 'table', key: `k${i % 3}`, value: `v${i}` })
    await producer.send({ topic: 'table', key: 'k0', value: null })
    // Two more records roll the segment holding the tombstone; the active segment is never cleaned.
    await producer.send({ topic: 'table', key: 'last', value: 'x' })
    await producer.send({ topic: 'table', key: 'last2', value: 'y' })
    await assert.rejects(producer.send({ topic: 'table', value: 'no key' }), (err: unknown) => isTributaryError(err, 'TRIB_INVALID_ARGUMENT') && /needs a key/.test(err.message))
    log.runCleaner(true)
    await log.close()
    log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
    const table = new Map((await readAll(log, 'table')).map((r) => [r.key?.toString(), r.value?.toString()]))
    assert.deepEqual(Object.fromEntries(table), { k1: 'v7', k2: 'v8', last: 'x', last2: 'y' })
    await log.close()
  })
})
