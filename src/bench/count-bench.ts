/**
 * `bench count`: the standard stateful benchmark (Kafka Streams' `streamcount`, goka's word count):
 * a processor counts records per key over 10,000 Zipf-distributed keys with 100-byte values, and in
 * the same run two raw loops through the same Log client:
 *
 * - **the ceiling (same work, no store)**: poll, count per key in a plain `Map`, send per poll one
 *   record per key it changed with the key's latest count — the changelog records the processor
 *   sends (the last write per key of each send) — to a compacted topic, await them, and commit every
 *   `commitIntervalMs` as the processor does. What it does not do is the processor's: keep the table
 *   in LMDB, route through the graph. The ratio is ours / this;
 * - **uncoalesced, for context**: poll, send one 8-byte record per input, await, commit every poll.
 *
 * Phases: fill the input topic; both raw loops; ours (processor with LMDB stores, from start to
 * every input offset committed); latency (records produced at a steady pace while the processor
 * runs; end-to-end = changelog record visible to a reader minus the input's timestamp, which the
 * processor propagates); recovery (the resulting changelog into fresh LMDB stores, whose counts must
 * add up to the inputs). Reports records/s, p99 end-to-end latency, recovery records/s, peak RSS and
 * how many changelog records each side sent.
 * @module
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { codecs } from '../core/codec.ts'
import { createLogger } from '../core/logger.ts'
import type { ProduceRecord, Record as LogRecord, TopicPartitionOffset } from '../core/record.ts'
import { openLog } from '../log/open-log.ts'
import type { GroupConsumer, Log } from '../log/types.ts'
import { Processor } from '../processor/processor.ts'
import { defineGroup, groupTable, input, persist, type Group } from '../processor/graph.ts'
import type { Context } from '../processor/context.ts'
import { recoverStores } from '../processor/table-reader.ts'
import { lmdbStore } from '../state/lmdb-store.ts'
import type { Store } from '../state/store.ts'
import { machine, rate } from './report.ts'

/** Options of the count benchmark. */
export interface CountBenchOptions {
  backend: 'memory' | 'file' | 'kafka'
  records: number
  json: boolean
  partitions?: number
  /** Kafka brokers (default `KAFKA_BROKERS` or 127.0.0.1:9092). */
  brokers?: string
  /** Records of the latency phase. Default min(100,000, records / 5). */
  latencyRecords?: number
}

/** What `bench count --json` prints. */
export interface CountBenchResult {
  bench: 'count'
  backend: string
  records: number
  perSec: number
  ceilingPerSec: number
  ratio: number
  p99Ms: number
  recoveryPerSec: number
  rssMb: number
  /** Records in the resulting changelog (the processor sends the last write per key of each send). */
  changelogRecords: number
  /** Changelog records the processor sent during the throughput phase (before the latency phase). */
  throughputChangelogRecords: number
  /** Changelog records the same-work ceiling sent (one per key changed per poll). */
  ceilingChangelogRecords: number
  /** The uncoalesced raw loop (one output record per input, commit every poll), for context. */
  uncoalescedCeilingPerSec: number
  ratioUncoalesced: number
}

/** How often the processor commits in this bench, and so the same-work ceiling too (ms). */
const COMMIT_INTERVAL_MS = 1_000

const KEYS = 10_000
const VALUE_BYTES = 100

/** Zipf(s=1) sampler over `n` ranks by inverse CDF on a precomputed table; deterministic seed. */
export function zipfSampler(n: number, seed = 42): () => number {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1)
  for (let i = 0; i < n; i++) cdf[i] /= sum
  let state = seed >>> 0
  const random = (): number => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return () => {
    const u = random()
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid] < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

const keyNames = Array.from({ length: KEYS }, (_, i) => Buffer.from(`key-${i.toString().padStart(6, '0')}`))
const value = Buffer.alloc(VALUE_BYTES, 'v')

async function fill(log: Log, topic: string, records: number, next: () => number): Promise<void> {
  const producer = log.producer()
  const batch = 1_000
  for (let sent = 0; sent < records; ) {
    const n = Math.min(batch, records - sent)
    const chunk: ProduceRecord[] = new Array(n)
    for (let i = 0; i < n; i++) chunk[i] = { topic, key: keyNames[next()], value }
    await producer.send(chunk)
    sent += n
  }
  await producer.close()
}

/**
 * The same-work ceiling: poll, count per key in a `Map`, send one record per key changed in the
 * poll (its count, JSON as the processor's codec writes it) to the input's partition of a compacted
 * topic, await, commit every `COMMIT_INTERVAL_MS` and at the end. Records/s and records sent.
 */
async function coalescedCeiling(log: Log, topic: string, out: string, records: number): Promise<{ perSec: number; changelog: number }> {
  const consumer = log.consumer({ groupId: `bench-ceiling-same-${process.pid}-${Date.now()}`, topics: [topic] })
  const producer = log.producer()
  const counts = new Map<string, number>()
  const start = process.hrtime.bigint()
  let lastCommit = Date.now()
  let sent = 0
  await pollAll(consumer, records, async (batch) => {
    const changed = new Map<string, { key: Buffer; partition: number }>()
    for (const r of batch) {
      const key = (r.key as Buffer).toString()
      counts.set(key, (counts.get(key) ?? 0) + 1)
      changed.set(key, { key: r.key as Buffer, partition: r.partition })
    }
    const outRecords: ProduceRecord[] = []
    for (const [key, c] of changed) outRecords.push({ topic: out, key: c.key, value: Buffer.from(JSON.stringify(counts.get(key))), partition: c.partition })
    await producer.send(outRecords)
    sent += outRecords.length
    if (Date.now() - lastCommit >= COMMIT_INTERVAL_MS) {
      await consumer.commit()
      lastCommit = Date.now()
    }
  })
  await consumer.commit()
  const perSec = rate(records, start, process.hrtime.bigint())
  await consumer.close()
  await producer.close()
  return { perSec, changelog: sent }
}

/** Polls until `records` records were handed to `handle`, batch by batch; 30 empty polls in a row are an error. */
async function pollAll(consumer: GroupConsumer, records: number, handle: (batch: LogRecord[]) => Promise<void>): Promise<void> {
  let seen = 0
  let idle = 0
  while (seen < records) {
    const batch = await consumer.poll({ timeoutMs: 1_000 })
    if (batch.length === 0) {
      if (++idle > 30) throw new Error(`bench: ceiling stalled at ${seen} of ${records}`)
      continue
    }
    idle = 0
    await handle(batch)
    seen += batch.length
  }
}

/** Raw loop without coalescing (context): poll, send one 8-byte record per input, await it, commit every poll. Records/s. */
async function ceiling(log: Log, topic: string, out: string, records: number): Promise<number> {
  const consumer = log.consumer({ groupId: `bench-ceiling-${process.pid}-${Date.now()}`, topics: [topic] })
  const producer = log.producer()
  const eight = Buffer.alloc(8)
  const start = process.hrtime.bigint()
  await pollAll(consumer, records, async (batch) => {
    const outRecords: ProduceRecord[] = new Array(batch.length)
    for (let i = 0; i < batch.length; i++) outRecords[i] = { topic: out, key: batch[i].key, value: eight, partition: batch[i].partition }
    await producer.send(outRecords)
    await consumer.commit()
  })
  const perSec = rate(records, start, process.hrtime.bigint())
  await consumer.close()
  await producer.close()
  return perSec
}

function countGraph(group: string, topic: string) {
  return defineGroup(
    group,
    input(topic, codecs.bytes(), (ctx: Context<number>) => ctx.setValue((ctx.value() ?? 0) + 1)),
    persist(codecs.json<number>()),
  )
}

/** Waits until `committed` covers `ends` of `topic`. */
function untilCommitted(committed: Map<number, number>, ends: number[], wake: Set<() => void>, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench: the processor did not catch up in time')), timeoutMs)
    const check = (): void => {
      if (ends.every((end, p) => end === 0 || (committed.get(p) ?? 0) >= end)) {
        clearTimeout(timer)
        wake.delete(check)
        resolve()
      }
    }
    wake.add(check)
    check()
  })
}

/** Runs `bench count` and returns (and prints) the result. */
export async function runCountBench(options: CountBenchOptions): Promise<CountBenchResult> {
  const partitions = options.partitions ?? 4
  const records = options.records
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-count-bench-'))
  const url =
    options.backend === 'kafka'
      ? `kafka://${options.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'}`
      : options.backend === 'file'
        ? `file:${path.join(dir, 'log')}`
        : 'memory:'
  const log = await openLog(url, { cleanerIntervalMs: 0 })
  let peakRss = process.memoryUsage().rss
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
  }, 200)
  const say = (line: string): void => {
    if (!options.json) console.log(line)
  }
  try {
    const id = `${process.pid}-${Date.now().toString(36)}`
    const topic = `count-in-${id}`
    const out = `count-ceiling-out-${id}`
    const sameOut = `count-ceiling-table-${id}`
    const group = `count-${id}`
    await log.admin.createTopic({ name: topic, partitions })
    await log.admin.createTopic({ name: out, partitions })
    await log.admin.createTopic({ name: sameOut, partitions, cleanupPolicy: 'compact' })
    // Topics are provisioned before either side is timed: the ceiling's output topic above, the
    // processor's table topic here (on Kafka a create waits for metadata to spread).
    await log.admin.createTopic({ name: groupTable(group as Group), partitions, cleanupPolicy: 'compact' })
    const next = zipfSampler(KEYS)
    say(`# count: ${records.toLocaleString('en')} records, ${KEYS.toLocaleString('en')} Zipf keys, ${VALUE_BYTES}-byte values, ${partitions} partitions, ${log.backend} log`)
    await fill(log, topic, records, next)

    const same = await coalescedCeiling(log, topic, sameOut, records)
    const ceilingPerSec = same.perSec
    say(`ceiling (same changelog records and commit interval, counts in a Map, no store): ${ceilingPerSec.toLocaleString('en')} rec/s, ${same.changelog.toLocaleString('en')} changelog records`)
    const uncoalescedCeilingPerSec = await ceiling(log, topic, out, records)
    say(`context: uncoalesced raw loop (one output per input, commit every poll): ${uncoalescedCeilingPerSec.toLocaleString('en')} rec/s`)

    // Ours: from start until every input offset is committed.
    const committed = new Map<number, number>()
    const wake = new Set<() => void>()
    const onCommit = (offsets: readonly TopicPartitionOffset[]): void => {
      for (const o of offsets) if (o.topic === topic) committed.set(o.partition, o.offset)
      for (const w of [...wake]) w()
    }
    const processor = new Processor(log, countGraph(group, topic), {
      storage: lmdbStore({ dir: path.join(dir, 'state') }),
      onCommit,
      commitIntervalMs: COMMIT_INTERVAL_MS,
      logger: createLogger({ level: 'warn' }),
    })
    const start = process.hrtime.bigint()
    const run = processor.run()
    await untilCommitted(committed, await log.offsets.endOffsets(topic), wake, 30 * 60_000)
    const perSec = rate(records, start, process.hrtime.bigint())
    const throughputChangelogRecords = (await log.offsets.endOffsets(`${group}-table`)).reduce((a, b) => a + b, 0)
    say(
      `ours (count per key, LMDB, at-least-once): ${perSec.toLocaleString('en')} rec/s, ${throughputChangelogRecords.toLocaleString('en')} changelog records  ratio ${(perSec / ceilingPerSec).toFixed(3)} (uncoalesced: ${(perSec / uncoalescedCeilingPerSec).toFixed(3)})`,
    )

    // Latency: a steady producer at about a fifth of our throughput; a reader of the changelog.
    const latencyRecords = options.latencyRecords ?? Math.max(1_000, Math.min(100_000, Math.floor(records / 5)))
    const caughtUp = async (): Promise<void> => untilCommitted(committed, await log.offsets.endOffsets(topic), wake, 10 * 60_000)
    const latencyPerSec = Math.max(1_000, Math.min(50_000, Math.floor(perSec / 5)))
    const latencies = await measureLatency(log, topic, `${group}-table`, latencyRecords, latencyPerSec, next, caughtUp)
    latencies.sort((a, b) => a - b)
    const p99Ms = Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] * 10) / 10
    say(`end-to-end latency at ${latencyPerSec.toLocaleString('en')} rec/s: p50 ${latencies[Math.floor(latencies.length / 2)].toFixed(1)} ms, p99 ${p99Ms} ms`)
    await processor.stop()
    await run

    // Recovery of the resulting table (its whole changelog) into fresh stores.
    const fresh = lmdbStore({ dir: path.join(dir, 'recovery') })
    const stores: Store[] = []
    for (let p = 0; p < partitions; p++) stores.push(await fresh({ topic: `${group}-table`, partition: p, role: 'view' }))
    const changelog = (await log.offsets.endOffsets(`${group}-table`)).reduce((a, b) => a + b, 0)
    const rstart = process.hrtime.bigint()
    await recoverStores(log, `${group}-table`, stores.map((store, partition) => ({ partition, store })))
    const recoveryPerSec = rate(changelog, rstart, process.hrtime.bigint())
    const keys = stores.reduce((n, s) => n + s.size(), 0)
    // The recovered table must count every input exactly once (no failures happened in this run).
    let counted = 0
    for (const s of stores) for (const { value: v } of s.iterate()) counted += Number(v.toString())
    for (const s of stores) await s.close()
    const inputs = (await log.offsets.endOffsets(topic)).reduce((a, b) => a + b, 0)
    if (counted !== inputs) throw new Error(`bench: the recovered table counts ${counted} records, the input has ${inputs}`)
    say(`recovery: ${changelog.toLocaleString('en')} changelog records (for ${inputs.toLocaleString('en')} inputs) into fresh LMDB stores (${keys.toLocaleString('en')} keys, counts verified): ${recoveryPerSec.toLocaleString('en')} rec/s`)

    peakRss = Math.max(peakRss, process.memoryUsage().rss)
    const result: CountBenchResult = {
      bench: 'count',
      backend: log.backend,
      records,
      perSec,
      ceilingPerSec,
      ratio: Math.round((perSec / ceilingPerSec) * 1000) / 1000,
      p99Ms,
      recoveryPerSec,
      rssMb: Math.round(peakRss / 2 ** 20),
      changelogRecords: changelog,
      throughputChangelogRecords,
      ceilingChangelogRecords: same.changelog,
      uncoalescedCeilingPerSec,
      ratioUncoalesced: Math.round((perSec / uncoalescedCeilingPerSec) * 1000) / 1000,
    }
    if (options.json) console.log(JSON.stringify(result))
    else say(`peak RSS ${result.rssMb} MB  (${machine()})`)
    return result
  } finally {
    clearInterval(sampler)
    await log.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Produces `records` at `perSec` in 10 ms slices and measures, per changelog record, now − input
 * timestamp. Reading ends when the processor has committed every input (`caughtUp`) and the reader
 * has reached the changelog's end after that.
 */
async function measureLatency(
  log: Log,
  topic: string,
  table: string,
  records: number,
  perSec: number,
  next: () => number,
  caughtUp: () => Promise<void>,
): Promise<number[]> {
  const endsBefore = await log.offsets.endOffsets(table)
  const reader = log.reader({ topic: table, from: new Map(endsBefore.map((offset, partition) => [partition, offset])) })
  const positions = [...endsBefore]
  const latencies: number[] = []
  let target: number[] | undefined
  const reading = (async () => {
    while (target === undefined || target.some((end, p) => positions[p] < end)) {
      const batch = await reader.poll({ timeoutMs: 200 })
      const now = Date.now()
      for (const r of batch) {
        latencies.push(now - r.timestamp)
        positions[r.partition] = r.offset + 1
      }
    }
  })()
  const producer = log.producer()
  const sliceMs = 10
  const perSlice = Math.max(1, Math.round((perSec * sliceMs) / 1000))
  const started = Date.now()
  for (let sent = 0; sent < records; ) {
    const n = Math.min(perSlice, records - sent)
    const chunk: ProduceRecord[] = new Array(n)
    const now = Date.now()
    for (let i = 0; i < n; i++) chunk[i] = { topic, key: keyNames[next()], value, timestamp: now }
    await producer.send(chunk)
    sent += n
    const due = started + (sent / perSec) * 1000
    const wait = due - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }
  await producer.close()
  await caughtUp()
  target = await log.offsets.endOffsets(table)
  await reading
  await reader.close()
  return latencies
}
