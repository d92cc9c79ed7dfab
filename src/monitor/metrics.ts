/**
 * The monitor's Prometheus metrics, in a registry of its own (one per monitor, so several can run
 * in one process): Burrow's gauges, filled from the evaluator at every scrape, and counters for the
 * offsets the sources read, the records they could not decode, the commits storage dropped, and
 * notifications.
 *
 * | metric | labels |
 * |---|---|
 * | `burrow_kafka_consumer_lag_total`, `burrow_kafka_consumer_status` | `cluster, consumer_group` |
 * | `burrow_kafka_topic_partition_status`, `burrow_kafka_consumer_current_offset`, `burrow_kafka_consumer_partition_lag` | `cluster, consumer_group, topic, partition` |
 * | `burrow_kafka_topic_partition_offset` | `cluster, topic, partition` |
 * | `tributary_monitor_offsets_records_total` | `cluster` |
 * | `tributary_monitor_offsets_malformed_total` | `cluster, partition` |
 * | `tributary_monitor_commits_dropped_total` | `cluster, reason` |
 * | `tributary_monitor_notifications_total` | `notifier, event, result` |
 * | `tributary_monitor_leader` | — |
 *
 * @example
 * ```ts
 * const metrics = new MonitorMetrics(() => ({ groups: evaluator.evaluateAll(), topics: [] }))
 * await metrics.registry.metrics() // Prometheus text
 * ```
 * @module
 */
import { Counter, Gauge, Registry } from 'prom-client'
import { Status, type GroupStatus, type StatusName } from './status.ts'

/** High watermarks of one topic, for `burrow_kafka_topic_partition_offset`. */
export interface TopicOffsetsSample {
  readonly cluster: string
  readonly topic: string
  readonly offsets: readonly number[]
}

/** What a scrape reads. */
export interface MetricsSnapshot {
  readonly groups: readonly GroupStatus[]
  readonly topics: readonly TopicOffsetsSample[]
}

const code = (name: StatusName): number => Status[name]

/** The metrics of one monitor. */
export class MonitorMetrics {
  readonly registry = new Registry()
  readonly offsetsRecords: Counter<'cluster'>
  readonly malformedRecords: Counter<'cluster' | 'partition'>
  readonly droppedCommits: Counter<'cluster' | 'reason'>
  readonly notifications: Counter<'notifier' | 'event' | 'result'>
  readonly leader: Gauge

  constructor(snapshot: () => MetricsSnapshot) {
    const registers = [this.registry]
    const groupLag: Gauge<'cluster' | 'consumer_group'> = new Gauge({
      name: 'burrow_kafka_consumer_lag_total',
      help: 'Sum of the current lag of all partitions of a consumer group',
      labelNames: ['cluster', 'consumer_group'],
      registers,
      collect: () => collect(),
    })
    const groupStatus = new Gauge({ name: 'burrow_kafka_consumer_status', help: 'Status of a consumer group (1 OK, 2 WARN, 3 ERR)', labelNames: ['cluster', 'consumer_group'], registers })
    const partitionStatus = new Gauge({
      name: 'burrow_kafka_topic_partition_status',
      help: 'Status of a consumer group partition (1 OK, 2 WARN, 3 ERR, 4 STOP, 5 STALL, 6 REWIND)',
      labelNames: ['cluster', 'consumer_group', 'topic', 'partition'],
      registers,
    })
    const currentOffset = new Gauge({ name: 'burrow_kafka_consumer_current_offset', help: 'Latest offset committed by a consumer group for a partition', labelNames: ['cluster', 'consumer_group', 'topic', 'partition'], registers })
    const partitionLag = new Gauge({ name: 'burrow_kafka_consumer_partition_lag', help: 'Current lag of a consumer group on a partition', labelNames: ['cluster', 'consumer_group', 'topic', 'partition'], registers })
    const topicOffset = new Gauge({ name: 'burrow_kafka_topic_partition_offset', help: 'High watermark of a partition', labelNames: ['cluster', 'topic', 'partition'], registers })
    // One collect fills every Burrow gauge from the same evaluation, so a scrape is consistent. It
    // hangs on the first gauge registered: prom-client reads metrics in registration order, so all
    // of them are filled before any is read.
    const collect = (): void => {
      for (const g of [groupLag, groupStatus, partitionStatus, currentOffset, partitionLag, topicOffset]) g.reset()
      const { groups, topics } = snapshot()
      for (const g of groups) {
        const labels = { cluster: g.cluster, consumer_group: g.group }
        groupLag.set(labels, g.totallag)
        groupStatus.set(labels, code(g.status))
        for (const p of g.partitions) {
          const pl = { ...labels, topic: p.topic, partition: String(p.partition) }
          partitionStatus.set(pl, code(p.status))
          partitionLag.set(pl, p.current_lag)
          if (p.end) currentOffset.set(pl, p.end.offset)
        }
      }
      for (const t of topics) {
        t.offsets.forEach((offset, partition) => {
          if (offset >= 0) topicOffset.set({ cluster: t.cluster, topic: t.topic, partition: String(partition) }, offset)
        })
      }
    }
    this.offsetsRecords = new Counter({ name: 'tributary_monitor_offsets_records_total', help: 'Records read from the offsets topic or commit history', labelNames: ['cluster'], registers })
    this.malformedRecords = new Counter({
      name: 'tributary_monitor_offsets_malformed_total',
      help: 'Offsets-topic records that could not be decoded and were skipped',
      labelNames: ['cluster', 'partition'],
      registers,
    })
    this.droppedCommits = new Counter({
      name: 'tributary_monitor_commits_dropped_total',
      help: 'Commits storage did not keep, by reason (expired, denied, no-broker-offsets, duplicate, too-old)',
      labelNames: ['cluster', 'reason'],
      registers,
    })
    this.notifications = new Counter({
      name: 'tributary_monitor_notifications_total',
      help: 'Notifications by notifier, event (open, close) and result (sent, failed, retried)',
      labelNames: ['notifier', 'event', 'result'],
      registers,
    })
    this.leader = new Gauge({ name: 'tributary_monitor_leader', help: '1 while this monitor evaluates and notifies, else 0', registers })
  }
}
