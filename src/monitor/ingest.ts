/**
 * Where offset sources deliver what they read: applies commits, tombstones and group metadata of one
 * cluster to storage, counts what it drops, and turns records that cannot be decoded into a metric
 * and a warning naming the partition and offset — never an exception that stops a source.
 *
 * @example
 * ```ts
 * const ingest = new OffsetIngest('local', { storage, metrics, logger, onGroupChanged: (g) => evaluator.invalidate('local', g) })
 * ingest.record(0, 1234, key, value)   // decodes and applies one __consumer_offsets record
 * ```
 * @module
 */
import type { Logger } from '../core/logger.ts'
import { decodeOffsetsRecord, type GroupMetadataMessage } from './consumer-offsets.ts'
import type { MonitorMetrics } from './metrics.ts'
import type { AddCommitResult, CommitInput, MonitorStorage } from './storage.ts'

/** Dependencies of {@link OffsetIngest}. */
export interface OffsetIngestOptions {
  readonly storage: MonitorStorage
  readonly metrics: MonitorMetrics
  readonly logger: Logger
  /** Called when a group was deleted, so cached evaluations can be dropped. */
  readonly onGroupDeleted?: (group: string) => void
  /** Called when a commit was dropped because its partition is unknown (a metadata refresh may help). */
  readonly onUnknownPartition?: (topic: string) => void
  /** The clock (ms). */
  readonly now?: () => number
}

/** Applies one cluster's offset records to storage. */
export class OffsetIngest {
  readonly cluster: string
  readonly #o: OffsetIngestOptions
  readonly #now: () => number
  readonly #records
  readonly #dropped = new Map<string, { inc(): void }>()

  constructor(cluster: string, options: OffsetIngestOptions) {
    this.cluster = cluster
    this.#o = options
    this.#now = options.now ?? Date.now
    this.#records = options.metrics.offsetsRecords.labels({ cluster })
  }

  /** Decodes and applies one `__consumer_offsets` record of `partition` at `offset`. Never throws. */
  record(partition: number, offset: number, key: Buffer | null, value: Buffer | null): void {
    this.#records.inc()
    let message
    try {
      message = decodeOffsetsRecord(key, value)
    } catch (err) {
      this.malformed(partition, offset, err)
      return
    }
    switch (message.kind) {
      case 'offset-commit':
        this.commit({ group: message.group, topic: message.topic, partition: message.partition, offset: message.offset, timestamp: message.commitTimestamp, order: offset })
        return
      case 'offset-delete':
        this.deleteOffset(message.group, message.topic, message.partition)
        return
      case 'group-metadata':
        this.groupMetadata(message)
        return
      case 'group-delete':
        this.deleteGroup(message.group)
        return
      case 'ignored':
        return
    }
  }

  /** Stores a commit; counts it when dropped. */
  commit(commit: CommitInput): AddCommitResult {
    const result = this.#o.storage.addCommit(this.cluster, commit, this.#now())
    if (result !== 'appended' && result !== 'inserted' && result !== 'overwritten') {
      this.#drop(result)
      if (result === 'no-broker-offsets') this.#o.onUnknownPartition?.(commit.topic)
    }
    return result
  }

  /** An offset tombstone: forgets the partition's commits (and the group when nothing is left). */
  deleteOffset(group: string, topic: string, partition: number): void {
    this.#o.storage.deleteCommit(this.cluster, group, topic, partition)
    this.#o.onGroupDeleted?.(group)
  }

  /** New group metadata: sets partition owners (an empty group clears them). */
  groupMetadata(message: GroupMetadataMessage): void {
    if (message.members.length > 0 && message.protocolType !== 'consumer') return
    this.#o.storage.setOwners(this.cluster, message.group, message.members)
  }

  /** A group tombstone: the group was deleted. */
  deleteGroup(group: string): void {
    this.#o.storage.deleteGroup(this.cluster, group)
    this.#o.onGroupDeleted?.(group)
  }

  /** Counts and logs a record that could not be decoded. */
  malformed(partition: number, offset: number, err: unknown): void {
    this.#o.metrics.malformedRecords.inc({ cluster: this.cluster, partition: String(partition) })
    this.#o.logger.warn({ cluster: this.cluster, partition, offset, err: (err as Error).message }, `skipping a malformed offsets record at partition ${partition} offset ${offset}`)
  }

  #drop(reason: string): void {
    let counter = this.#dropped.get(reason)
    if (!counter) this.#dropped.set(reason, (counter = this.#o.metrics.droppedCommits.labels({ cluster: this.cluster, reason })))
    counter.inc()
  }
}
