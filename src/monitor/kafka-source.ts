/**
 * The Kafka offset source of one cluster (Burrow's kafka cluster + consumer modules):
 *
 * - **broker offsets**: every `offset-refresh`, one ListOffsets(latest) request per leader broker,
 *   in parallel, for every partition of every topic (internal ones included); metadata is refreshed
 *   every `topic-refresh`, after a partition error, and when a commit names an unknown topic.
 *   Topics that vanished are deleted from storage.
 * - **commits**: reads the offsets topic (`__consumer_offsets`) from the beginning (or the end with
 *   `start-latest`) with plain Fetch requests — no consumer group is joined — decodes each record,
 *   and applies it through {@link OffsetIngest}. The commit order is the record's offset.
 * - **self-reporting**: with `self-group`, the source's own progress through each offsets-topic
 *   partition is stored as commits of group `burrow-<cluster>`, so it can be watched like any group.
 *
 * Errors (broker down, leader moved) are logged and retried with backoff; the source never stops
 * on its own.
 *
 * @example
 * ```ts
 * const source = new KafkaOffsetSource(clusterConfig, { storage, ingest, logger })
 * await source.start()   // first broker-offset refresh done (or failed and retrying)
 * await source.stop()
 * ```
 * @module
 */
import { Backoff, sleep, whenAborted } from '../core/backoff.ts'
import type { Logger } from '../core/logger.ts'
import type { ClusterConfig } from './config.ts'
import type { OffsetIngest } from './ingest.ts'
import { kafkaSecurityError, resolveSecurity, type ResolvedSecurity } from '../log/index.ts'
import { KafkaWire, type ClusterMetadata, type TopicMetadata } from './kafka-wire.ts'
import type { OffsetSource, SourceInfo } from './source.ts'
import type { MonitorStorage } from './storage.ts'

/** Dependencies of a {@link KafkaOffsetSource}. */
export interface KafkaSourceDeps {
  readonly storage: MonitorStorage
  readonly ingest: OffsetIngest
  readonly logger: Logger
}

const OFFSET_OUT_OF_RANGE = 1

/** Reads one Kafka cluster's commits and high watermarks into storage. */
export class KafkaOffsetSource implements OffsetSource {
  readonly config: ClusterConfig
  readonly #deps: KafkaSourceDeps
  readonly #controller = new AbortController()
  #security: ResolvedSecurity | undefined
  #wire: KafkaWire | undefined
  #metadata: ClusterMetadata | undefined
  #lastTopicRefresh = 0
  #needMetadata = true
  /** Next offset to fetch per offsets-topic partition. */
  readonly #positions = new Map<number, number>()
  #loops: Promise<void>[] = []
  #readyToRead: Promise<void> | undefined
  #waitingForTopic = false

  constructor(config: ClusterConfig, deps: KafkaSourceDeps) {
    this.config = config
    this.#deps = deps
  }

  /** The self-reporting group name. */
  get selfGroup(): string {
    return `burrow-${this.config.name}`
  }

  info(): SourceInfo {
    return {
      'class-name': 'kafka',
      servers: [...this.config.servers],
      'client-id': this.config.clientId,
      'offsets-topic': this.config.offsetsTopic,
      'topic-refresh': this.config.topicRefreshMs / 1000,
      'offset-refresh': this.config.offsetRefreshMs / 1000,
      'start-latest': this.config.startLatest,
    }
  }

  /**
   * Starts both loops and resolves after the first broker-offset refresh was tried. Commits are read
   * only once broker offsets are known, so the commits already in the offsets topic are not dropped
   * for lack of them.
   */
  async start(): Promise<void> {
    this.#security = resolveSecurity(this.config.kafka)
    this.#wire = new KafkaWire({ brokers: this.config.servers, clientId: this.config.clientId, security: this.#security.connection })
    let signalReady: () => void = () => {}
    let signalTried: () => void = () => {}
    this.#readyToRead = new Promise<void>((resolve) => (signalReady = resolve))
    const tried = new Promise<void>((resolve) => (signalTried = resolve))
    this.#loops = [this.#refreshLoop(signalReady, signalTried), this.#offsetsLoop()]
    await tried
  }

  async stop(): Promise<void> {
    this.#controller.abort()
    await Promise.all(this.#loops)
    await this.#wire?.close()
  }

  /** Asks for a metadata refresh at the next broker-offset refresh (a commit named an unknown topic). */
  requestMetadata(): void {
    this.#needMetadata = true
  }

  /** An error for the log: TLS and SASL failures say the broker and the cause (never a secret). */
  #describe(err: unknown): string {
    return kafkaSecurityError(err, { op: 'monitor', brokers: this.config.servers, security: this.#security })?.message ?? (err as Error).message
  }

  async #refreshLoop(ready: () => void, tried: () => void): Promise<void> {
    const signal = this.#controller.signal
    const backoff = new Backoff({ initialMs: 250, maxMs: Math.max(1_000, this.config.offsetRefreshMs) })
    while (!signal.aborted) {
      let wait = this.config.offsetRefreshMs
      try {
        await this.#refreshBrokerOffsets()
        backoff.reset()
        ready()
      } catch (err) {
        if (signal.aborted) break
        wait = backoff.next()
        this.#needMetadata = true
        this.#deps.logger.warn({ cluster: this.config.name, err: this.#describe(err), retryInMs: wait }, 'refreshing broker offsets failed')
      }
      tried()
      await sleep(wait, signal).catch(() => {})
    }
  }

  /** One refresh: metadata if due, then one ListOffsets per leader, in parallel. */
  async #refreshBrokerOffsets(): Promise<void> {
    const wire = this.#wire as KafkaWire
    const now = Date.now()
    if (this.#needMetadata || !this.#metadata || now - this.#lastTopicRefresh >= this.config.topicRefreshMs) {
      const metadata = await wire.metadata(null)
      this.#metadata = metadata
      this.#lastTopicRefresh = now
      this.#needMetadata = false
      for (const topic of this.#deps.storage.topics(this.config.name) ?? []) {
        if (!metadata.topics.has(topic)) this.#deps.storage.deleteTopic(this.config.name, topic)
      }
    }
    const metadata = this.#metadata
    const byLeader = new Map<number, { topic: string; partitions: number[] }[]>()
    for (const t of metadata.topics.values()) {
      if (t.hasErrors) this.#needMetadata = true
      const perLeader = new Map<number, number[]>()
      t.leaders.forEach((leader, partition) => {
        if (leader < 0) return
        let list = perLeader.get(leader)
        if (!list) perLeader.set(leader, (list = []))
        list.push(partition)
      })
      for (const [leader, partitions] of perLeader) {
        let requests = byLeader.get(leader)
        if (!requests) byLeader.set(leader, (requests = []))
        requests.push({ topic: t.name, partitions })
      }
    }
    const answers = await Promise.all([...byLeader].map(([leader, topics]) => wire.listOffsets(leader, topics, -1n)))
    const merged = new Map<string, number[]>()
    for (const answer of answers) {
      for (const [topic, offsets] of answer) {
        const into = merged.get(topic) ?? []
        offsets.forEach((o, p) => {
          if (o === undefined) return
          into[p] = o
          if (o < 0) this.#needMetadata = true
        })
        merged.set(topic, into)
      }
    }
    const at = Date.now()
    for (const [topic, offsets] of merged) {
      const dense = Array.from({ length: offsets.length }, (_, p) => offsets[p] ?? -1)
      this.#deps.storage.setBrokerOffsets(this.config.name, topic, dense, at)
    }
  }

  async #offsetsLoop(): Promise<void> {
    const signal = this.#controller.signal
    await Promise.race([this.#readyToRead, whenAborted(signal)])
    const backoff = new Backoff({ initialMs: 250, maxMs: 5_000 })
    while (!signal.aborted) {
      try {
        const topic = this.#metadata?.topics.get(this.config.offsetsTopic)
        if (!topic) {
          // A fresh cluster creates __consumer_offsets with its first group: wait for it quietly.
          this.#needMetadata = true
          if (!this.#waitingForTopic) this.#deps.logger.info({ cluster: this.config.name }, `waiting for topic ${this.config.offsetsTopic} to exist`)
          this.#waitingForTopic = true
          await sleep(this.config.offsetRefreshMs, signal).catch(() => {})
          continue
        }
        this.#waitingForTopic = false
        await this.#initPositions(topic)
        await this.#fetchRound(topic)
        backoff.reset()
      } catch (err) {
        if (signal.aborted) break
        const wait = backoff.next()
        this.#deps.logger.warn({ cluster: this.config.name, err: this.#describe(err), retryInMs: wait }, `reading ${this.config.offsetsTopic} failed`)
        await sleep(wait, signal).catch(() => {})
      }
    }
  }

  async #initPositions(topic: TopicMetadata): Promise<void> {
    const missing: number[] = []
    for (let p = 0; p < topic.leaders.length; p++) if (!this.#positions.has(p)) missing.push(p)
    if (missing.length === 0) return
    if (!this.config.startLatest) {
      for (const p of missing) this.#positions.set(p, 0)
      return
    }
    await this.#resetPositions(topic, missing, -1n)
  }

  async #resetPositions(topic: TopicMetadata, partitions: number[], timestamp: bigint): Promise<void> {
    const wire = this.#wire as KafkaWire
    const byLeader = new Map<number, number[]>()
    for (const p of partitions) {
      const leader = topic.leaders[p]
      if (leader < 0) continue
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), p])
    }
    for (const [leader, list] of byLeader) {
      const answer = await wire.listOffsets(leader, [{ topic: topic.name, partitions: list }], timestamp)
      const offsets = answer.get(topic.name) ?? []
      for (const p of list) if (offsets[p] !== undefined && offsets[p] >= 0) this.#positions.set(p, offsets[p])
    }
  }

  /** One Fetch per leader, in parallel; each waits up to 500 ms for new records. */
  async #fetchRound(topic: TopicMetadata): Promise<void> {
    const wire = this.#wire as KafkaWire
    const byLeader = new Map<number, Map<number, number>>()
    for (const [p, offset] of this.#positions) {
      const leader = topic.leaders[p]
      if (leader === undefined || leader < 0) {
        this.#needMetadata = true
        continue
      }
      let positions = byLeader.get(leader)
      if (!positions) byLeader.set(leader, (positions = new Map()))
      positions.set(p, offset)
    }
    if (byLeader.size === 0) throw new Error(`no leader for any partition of ${topic.name}`)
    const results = await Promise.all([...byLeader].map(([leader, positions]) => wire.fetch(leader, topic, positions, 500)))
    const outOfRange: number[] = []
    for (const partitions of results) {
      for (const p of partitions) {
        if (p.errorCode === OFFSET_OUT_OF_RANGE) {
          outOfRange.push(p.partition)
          continue
        }
        if (p.errorCode !== 0) {
          this.#needMetadata = true
          this.#deps.logger.debug({ cluster: this.config.name, partition: p.partition, errorCode: p.errorCode }, 'fetch error on an offsets partition')
          continue
        }
        for (const r of p.records) this.#deps.ingest.record(p.partition, r.offset, r.key, r.value)
        if (p.nextOffset > (this.#positions.get(p.partition) ?? 0)) this.#positions.set(p.partition, p.nextOffset)
        if (this.config.selfGroup && p.records.length > 0) {
          const last = p.records[p.records.length - 1]
          this.#deps.ingest.commit({ group: this.selfGroup, topic: topic.name, partition: p.partition, offset: last.offset + 1, timestamp: Date.now(), order: last.offset })
        }
      }
    }
    if (outOfRange.length > 0) await this.#resetPositions(topic, outOfRange, -2n)
  }
}
