/**
 * `bench log`: produce then consume N records (16-byte keys, 100-byte values) through the Log API,
 * and in the same run the ceiling: for the embedded log raw sequential `fs` writes and reads of the
 * same bytes; for Kafka the Java client doing the same work (log-bench-kafka.ts).
 * @module
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { ProduceRecord } from '../core/record.ts'
import { openEmbeddedLog } from '../log/embedded/index.ts'
import type { Log } from '../log/types.ts'
import { rate, report } from './report.ts'

/** Options of the log benchmark. */
export interface LogBenchOptions {
  backend: 'memory' | 'file' | 'kafka'
  records: number
  json: boolean
  /** Records per `send` call. */
  batch?: number
  partitions?: number
  /**
   * Alternating rounds of ours and the ceiling. Embedded: the best of each is reported, default 2.
   * Kafka: the median of each with its spread, default 3.
   */
  rounds?: number
}

const KEY_BYTES = 16
const VALUE_BYTES = 100
const KEY_POOL = 10_000

/** Distinct 16-byte keys and one 100-byte value, shared by ours and the ceiling. */
export function benchData(): { keys: Buffer[]; value: Buffer } {
  const keys = Array.from({ length: KEY_POOL }, (_, i) => Buffer.from(i.toString(16).padStart(KEY_BYTES, '0')))
  const value = Buffer.alloc(VALUE_BYTES, 'v')
  return { keys, value }
}

/** Produces `records` records through `log` in batches, then consumes them with one group member. */
export async function measureLog(log: Log, topic: string, records: number, batch: number): Promise<{ produce: number; consume: number }> {
  const { keys, value } = benchData()
  const producer = log.producer()
  let start = process.hrtime.bigint()
  for (let sent = 0; sent < records; ) {
    const n = Math.min(batch, records - sent)
    const chunk: ProduceRecord[] = new Array(n)
    for (let i = 0; i < n; i++) chunk[i] = { topic, key: keys[(sent + i) % KEY_POOL], value }
    await producer.send(chunk)
    sent += n
  }
  await producer.flush()
  const produce = rate(records, start, process.hrtime.bigint())
  await producer.close()

  const consumer = log.consumer({ groupId: `bench-${process.pid}-${Date.now()}`, topics: [topic], maxPollRecords: 10_000 })
  // Timed from before the group join, as the raw-client ceiling is.
  start = process.hrtime.bigint()
  let received = 0
  let bytes = 0
  while (received < records) {
    const got = await consumer.poll({ timeoutMs: 5_000 })
    if (got.length === 0 && received < records) {
      const stalled = await consumer.poll({ timeoutMs: 5_000 })
      if (stalled.length === 0) throw new Error(`bench: consumer stalled at ${received} of ${records} records`)
      got.push(...stalled)
    }
    for (const r of got) bytes += (r.value as Buffer).length
    received += got.length
  }
  const consume = rate(records, start, process.hrtime.bigint())
  if (bytes !== records * VALUE_BYTES) throw new Error(`bench: consumed ${bytes} value bytes, expected ${records * VALUE_BYTES}`)
  await consumer.close()
  return { produce, consume }
}

/** Raw sequential write and read of the same bytes (keys and values back to back) with `fs`. */
export function measureDisk(dir: string, records: number): { produce: number; consume: number } {
  const { keys, value } = benchData()
  const file = path.join(dir, 'ceiling.bin')
  const recordBytes = KEY_BYTES + VALUE_BYTES
  const chunkRecords = 8_192
  const chunk = Buffer.allocUnsafe(chunkRecords * recordBytes)
  let start = process.hrtime.bigint()
  const fd = fs.openSync(file, 'w')
  for (let written = 0; written < records; ) {
    const n = Math.min(chunkRecords, records - written)
    for (let i = 0; i < n; i++) {
      keys[(written + i) % KEY_POOL].copy(chunk, i * recordBytes)
      value.copy(chunk, i * recordBytes + KEY_BYTES)
    }
    fs.writeSync(fd, chunk, 0, n * recordBytes)
    written += n
  }
  fs.closeSync(fd)
  const produce = rate(records, start, process.hrtime.bigint())
  start = process.hrtime.bigint()
  const rfd = fs.openSync(file, 'r')
  let total = 0
  for (;;) {
    const buf = Buffer.allocUnsafe(1 << 20)
    const n = fs.readSync(rfd, buf, 0, buf.length, null)
    if (n === 0) break
    total += n
  }
  fs.closeSync(rfd)
  const consume = rate(records, start, process.hrtime.bigint())
  if (total !== records * recordBytes) throw new Error('bench: ceiling read a different number of bytes')
  return { produce, consume }
}

/** Runs `bench log`. */
export async function runLogBench(options: LogBenchOptions): Promise<void> {
  const batch = options.batch ?? 1_000
  const partitions = options.partitions ?? 4
  const rounds = options.rounds ?? (options.backend === 'kafka' ? 3 : 2)
  if (options.backend === 'kafka') {
    const { runKafkaLogBench } = await import('./log-bench-kafka.ts')
    await runKafkaLogBench({ ...options, batch, partitions, rounds })
    return
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-bench-'))
  try {
    let ours = { produce: 0, consume: 0 }
    let ceiling = { produce: 0, consume: 0 }
    // Alternate ours and the ceiling over rounds and keep the best of each: the machine is noisy.
    for (let round = 0; round < rounds; round++) {
      const log = openEmbeddedLog({ mode: options.backend, dir: path.join(dir, `log-${round}`), cleanerIntervalMs: 0 })
      await log.admin.createTopic({ name: 'bench', partitions })
      const measured = await measureLog(log, 'bench', options.records, batch)
      await log.close()
      fs.rmSync(path.join(dir, `log-${round}`), { recursive: true, force: true })
      const raw = measureDisk(dir, options.records)
      ours = { produce: Math.max(ours.produce, measured.produce), consume: Math.max(ours.consume, measured.consume) }
      ceiling = { produce: Math.max(ceiling.produce, raw.produce), consume: Math.max(ceiling.consume, raw.consume) }
    }
    for (const phase of ['produce', 'consume'] as const) {
      report({ bench: 'log', backend: options.backend, phase, records: options.records, perSec: ours[phase], ceilingPerSec: ceiling[phase] }, options.json)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
