/**
 * `tributary bench monitor`: the monitor's hot paths on synthetic data.
 *
 * - **ingest**: `groups × partitions × commits` commits into storage (Burrow's ring rules: order,
 *   lag from the latest high watermark), in rounds, with broker offsets advancing between rounds;
 * - **evaluate all**: every group evaluated once (every partition's rules, group status, maxlag);
 * - **decode**: real-format `__consumer_offsets` records (offset commits with key v1 and values v3
 *   and v4, plus group metadata v3 with members and assignments), each distinct and decoded once
 *   from contiguous buffers as a fetch brings them (encoding is not timed);
 * - **RSS** after all of it (of this bench process; `monitor-rss.ts` measures a running monitor).
 *
 * ```
 * npm run bench -- monitor [--groups 1000] [--partitions 100] [--commits 10] [--json]
 * {"bench":"monitor","commits":1000000,"ingestPerSec":...,"evaluateAllMs":...,"decodePerSec":...,"rssMb":...}
 * ```
 * @module
 */
import { decodeOffsetsRecord, encodeGroupMetadataKey, encodeGroupMetadataValue, encodeOffsetCommitKey, encodeOffsetCommitValue, Evaluator, MonitorStorage, type CommitInput } from '../monitor/index.ts'

/** Options of {@link runMonitorBench}. */
export interface MonitorBenchOptions {
  groups: number
  partitions: number
  /** Commits per partition (also the ring size, Burrow's `intervals`). */
  commits: number
  /** Records to decode. */
  decodeRecords: number
  json: boolean
  print?: (line: string) => void
}

/** What the benchmark measured. */
export interface MonitorBenchResult {
  bench: 'monitor'
  groups: number
  partitions: number
  commits: number
  ingestPerSec: number
  evaluateAllMs: number
  evaluatedPartitions: number
  decodePerSec: number
  rssMb: number
  statuses: { [status: string]: number }
}

const TOPICS = 10
const CLUSTER = 'bench'

/** Runs the benchmark and prints the result. */
export function runMonitorBench(options: MonitorBenchOptions): MonitorBenchResult {
  const print = options.print ?? ((line: string) => console.log(line))
  const { groups, partitions, commits } = options
  const storage = new MonitorStorage({ intervals: commits, expireGroupMs: 7 * 86_400_000 })
  storage.addCluster(CLUSTER)
  const topics = Array.from({ length: TOPICS }, (_, t) => `topic-${t}`)
  const groupNames = Array.from({ length: groups }, (_, g) => `group-${g}`)
  const start = Date.now() - commits * 10_000
  const hwm = (round: number, partition: number): number => 1_000_000 + round * 1_000 + partition

  // Ingest: each round, brokers advance, then every group commits every partition once.
  const commit: CommitInput = { group: '', topic: '', partition: 0, offset: 0, timestamp: 0, order: 0 }
  let order = 0
  let ingestNs = 0n
  for (let round = 0; round < commits; round++) {
    const at = start + round * 10_000
    for (const topic of topics) storage.setBrokerOffsets(CLUSTER, topic, Array.from({ length: partitions }, (_, p) => hwm(round, p)), at)
    const t0 = process.hrtime.bigint()
    commit.timestamp = at
    for (let g = 0; g < groups; g++) {
      commit.group = groupNames[g]
      commit.topic = topics[g % TOPICS]
      // A mix: most groups keep up (caught up every third round), every 7th falls behind, every 11th stalls.
      const behind = g % 7 === 0 ? (round + 1) * 50 : round % 3 === 0 ? 0 : 5
      for (let p = 0; p < partitions; p++) {
        commit.partition = p
        commit.offset = g % 11 === 0 ? 1_000_000 : hwm(round, p) - behind
        commit.order = order++
        storage.addCommit(CLUSTER, commit, at)
      }
    }
    ingestNs += process.hrtime.bigint() - t0
  }
  const total = groups * partitions * commits
  const ingestPerSec = Math.round(total / (Number(ingestNs) / 1e9))

  // Evaluate every group once (no cache).
  const evaluator = new Evaluator(storage, { expireCacheMs: 0, allowedLag: 0, minimumComplete: 0 })
  const e0 = process.hrtime.bigint()
  const results = evaluator.evaluateAll(start + commits * 10_000)
  const evaluateAllMs = Math.round(Number(process.hrtime.bigint() - e0) / 1e5) / 10
  const statuses: { [status: string]: number } = {}
  let evaluatedPartitions = 0
  for (const r of results) {
    statuses[r.status] = (statuses[r.status] ?? 0) + 1
    evaluatedPartitions += r.partition_count
  }

  // Decode real-format records: 9 offset commits (values v3 and v4) per group-metadata record (v3).
  // Every record is decoded once: they are encoded chunk by chunk (untimed), each chunk a fresh
  // contiguous buffer of distinct records (groups, topics, partitions and offsets all vary), the way
  // a fetch response brings them — not a small pool decoded over and over from a warm cache.
  const CHUNK = 20_000
  let decoded = 0
  let checksum = 0
  let decodeNs = 0n
  const distinctGroups = Math.max(groups, 10_000)
  while (decoded < options.decodeRecords) {
    const n = Math.min(CHUNK, options.decodeRecords - decoded)
    const parts: Buffer[] = []
    const bounds: number[] = []
    let size = 0
    for (let k = 0; k < n; k++) {
      const i = decoded + k
      const group = `group-${(i * 7919) % distinctGroups}`
      let key: Buffer
      let value: Buffer
      if (i % 10 === 9) {
        const members = [0, 1, 2].map((m) => ({
          memberId: `consumer-${group}-${m}-${i.toString(36)}`,
          clientId: `consumer-${m}`,
          clientHost: `/10.${m}.${(i >> 8) % 250}.${i % 250}`,
          assignment: [{ topic: topics[i % TOPICS], partitions: Array.from({ length: Math.ceil(partitions / 3) }, (_, j) => j * 3 + m).filter((p) => p < partitions) }],
        }))
        key = encodeGroupMetadataKey(group)
        value = encodeGroupMetadataValue(3, { generation: i, currentStateTimestamp: start + i, members })
      } else {
        key = encodeOffsetCommitKey(group, `${topics[i % TOPICS]}-${i % 97}`, i % partitions)
        value = encodeOffsetCommitValue(i % 2 === 0 ? 3 : 4, { offset: 1_000_000 + i, commitTimestamp: start + i, leaderEpoch: i % 5 })
      }
      parts.push(key, value)
      bounds.push(size, size + key.length, size + key.length + value.length)
      size += key.length + value.length
    }
    const chunk = Buffer.concat(parts, size)
    parts.length = 0
    const d0 = process.hrtime.bigint()
    for (let k = 0; k < n; k++) {
      const m = decodeOffsetsRecord(chunk.subarray(bounds[3 * k], bounds[3 * k + 1]), chunk.subarray(bounds[3 * k + 1], bounds[3 * k + 2]))
      if (m.kind === 'offset-commit') checksum += m.offset
    }
    decodeNs += process.hrtime.bigint() - d0
    decoded += n
  }
  const decodePerSec = Math.round(decoded / (Number(decodeNs) / 1e9))
  if (checksum === 0) throw new Error('nothing decoded')

  const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20)
  const result: MonitorBenchResult = { bench: 'monitor', groups, partitions, commits: total, ingestPerSec, evaluateAllMs, evaluatedPartitions, decodePerSec, rssMb, statuses }
  if (options.json) {
    print(JSON.stringify(result))
  } else {
    print(`monitor ingest        ${total.toLocaleString('en')} commits (${groups.toLocaleString('en')} groups x ${partitions} partitions x ${commits})  ${ingestPerSec.toLocaleString('en')} commits/s  (target >= 500,000)`)
    print(`monitor evaluate all  ${evaluatedPartitions.toLocaleString('en')} partitions  ${evaluateAllMs} ms  (target < 1,000 ms)  statuses ${JSON.stringify(statuses)}`)
    print(`monitor decode        ${decoded.toLocaleString('en')} __consumer_offsets records  ${decodePerSec.toLocaleString('en')} records/s`)
    print(`monitor rss           ${rssMb} MB  (target < 500 MB)`)
  }
  return result
}
