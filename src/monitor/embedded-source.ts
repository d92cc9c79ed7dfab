/**
 * The embedded-log offset source of one cluster: reads the log's committed-offset history
 * (`EmbeddedLog.readCommits`, the embedded counterpart of `__consumer_offsets`) every
 * `poll-interval`, and its end offsets every `offset-refresh`. Tombstones (offsets deleted with their
 * topic) delete the partition's commits; topics that vanished are deleted from storage.
 *
 * The embedded log lives in one process: the monitor shares the `Log` object with the application
 * (`new Monitor(config, { logs: { local: log } })`), owns the log directory itself, or, when another
 * process owns it, reads fresh read-only snapshots of it (`log` is then a function returning the
 * current snapshot; see `embedded-snapshots.ts`).
 *
 * @example
 * ```ts
 * const source = new EmbeddedOffsetSource(clusterConfig, log, { storage, ingest, logger })
 * await source.start()
 * ```
 * @module
 */
import { sleep } from '../core/backoff.ts'
import { isTributaryError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { EmbeddedLog } from '../log/index.ts'
import type { ClusterConfig } from './config.ts'
import type { OffsetIngest } from './ingest.ts'
import type { OffsetSource, SourceInfo } from './source.ts'
import type { MonitorStorage } from './storage.ts'

/** Dependencies of an {@link EmbeddedOffsetSource}. */
export interface EmbeddedSourceDeps {
  readonly storage: MonitorStorage
  readonly ingest: OffsetIngest
  readonly logger: Logger
}

const BATCH = 10_000

/** Reads an embedded log's commits and end offsets into storage. */
export class EmbeddedOffsetSource implements OffsetSource {
  readonly config: ClusterConfig
  readonly #log: () => EmbeddedLog
  readonly #deps: EmbeddedSourceDeps
  readonly #controller = new AbortController()
  #next = 0
  #loops: Promise<void>[] = []

  constructor(config: ClusterConfig, log: EmbeddedLog | (() => EmbeddedLog), deps: EmbeddedSourceDeps) {
    this.config = config
    this.#log = typeof log === 'function' ? log : () => log
    this.#deps = deps
  }

  info(): SourceInfo {
    return {
      'class-name': 'embedded',
      log: this.config.log,
      'offset-refresh': this.config.offsetRefreshMs / 1000,
      'poll-interval': this.config.pollIntervalMs / 1000,
      'start-latest': this.config.startLatest,
    }
  }

  async start(): Promise<void> {
    await this.refreshEndOffsets().catch((err: unknown) => this.#warn('reading end offsets failed', err))
    if (this.config.startLatest) while (this.#skip() === BATCH);
    this.#loops = [this.#commitLoop(), this.#refreshLoop()]
  }

  async stop(): Promise<void> {
    this.#controller.abort()
    await Promise.all(this.#loops)
  }

  /** Reads the end offsets of every topic now. */
  async refreshEndOffsets(): Promise<void> {
    const cluster = this.config.name
    const log = this.#log()
    const topics = await log.admin.listTopics()
    const present = new Set(topics)
    for (const known of this.#deps.storage.topics(cluster) ?? []) if (!present.has(known)) this.#deps.storage.deleteTopic(cluster, known)
    for (const topic of topics) {
      let ends: number[]
      try {
        ends = await log.offsets.endOffsets(topic)
      } catch {
        continue // deleted meanwhile
      }
      this.#deps.storage.setBrokerOffsets(cluster, topic, ends, Date.now())
    }
  }

  /** Applies the commits stored since the last call; returns how many records were read. */
  readCommits(): number {
    const records = this.#log().readCommits(this.#next, BATCH)
    for (const c of records) {
      if (c.offset === null) {
        this.#deps.ingest.deleteOffset(c.group, c.topic, c.partition)
      } else {
        this.#deps.ingest.commit({ group: c.group, topic: c.topic, partition: c.partition, offset: c.offset, timestamp: c.timestamp, order: c.position })
      }
      this.#next = c.position + 1
    }
    return records.length
  }

  #skip(): number {
    const records = this.#log().readCommits(this.#next, BATCH)
    if (records.length > 0) this.#next = records[records.length - 1].position + 1
    return records.length
  }

  async #commitLoop(): Promise<void> {
    const signal = this.#controller.signal
    while (!signal.aborted) {
      let read = 0
      try {
        read = this.readCommits()
      } catch (err) {
        if (signal.aborted) break
        if (isTributaryError(err, 'TRIB_CLOSED')) {
          this.#warn('the embedded log was closed; this cluster is no longer read', err)
          this.#controller.abort()
          break
        }
        this.#warn('reading the commit history failed', err)
      }
      if (read === BATCH) await new Promise<void>((resolve) => setImmediate(resolve))
      else await sleep(this.config.pollIntervalMs, signal).catch(() => {})
    }
  }

  async #refreshLoop(): Promise<void> {
    const signal = this.#controller.signal
    while (!signal.aborted) {
      await sleep(this.config.offsetRefreshMs, signal).catch(() => {})
      if (signal.aborted) break
      await this.refreshEndOffsets().catch((err: unknown) => this.#warn('reading end offsets failed', err))
    }
  }

  #warn(message: string, err: unknown): void {
    this.#deps.logger.warn({ cluster: this.config.name, err: (err as Error).message }, message)
  }
}
