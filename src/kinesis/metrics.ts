/**
 * Worker metrics with vmware-go-kcl's names and labels, in a prom-client registry:
 * `<prefix>_processed_records`, `_processed_bytes` (counters), `_behind_latest_millis` (gauge), all
 * labelled `{kinesisStream, shard}`; `_leases_held` (gauge) and `_lease_renewals` (counter, which
 * vmware-go-kcl declares but never moves) labelled `{kinesisStream, workerID}`;
 * `_get_records_duration_milliseconds` and `_process_records_duration_milliseconds` (histograms).
 * @module
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** The worker's metrics. */
export interface KinesisMetrics {
  readonly processedRecords: Counter<'kinesisStream' | 'shard'>
  readonly processedBytes: Counter<'kinesisStream' | 'shard'>
  readonly behindLatestMillis: Gauge<'kinesisStream' | 'shard'>
  readonly leasesHeld: Gauge<'kinesisStream' | 'workerID'>
  readonly leaseRenewals: Counter<'kinesisStream' | 'workerID'>
  readonly getRecordsDuration: Histogram<'kinesisStream' | 'shard'>
  readonly processRecordsDuration: Histogram<'kinesisStream' | 'shard'>
}

const BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

/** Registers (or finds, when already registered) the metrics under `prefix` in `registry`. */
export function kinesisMetrics(registry: Registry, prefix: string): KinesisMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(`${prefix}_${name}`) as T | undefined) ?? make()
  const shard = ['kinesisStream', 'shard'] as const
  const worker = ['kinesisStream', 'workerID'] as const
  const registers = [registry]
  return {
    processedRecords: get('processed_records', () => new Counter({ name: `${prefix}_processed_records`, help: 'records handed to processRecords', labelNames: shard, registers })),
    processedBytes: get('processed_bytes', () => new Counter({ name: `${prefix}_processed_bytes`, help: 'bytes of data handed to processRecords', labelNames: shard, registers })),
    behindLatestMillis: get('behind_latest_millis', () => new Gauge({ name: `${prefix}_behind_latest_millis`, help: 'MillisBehindLatest of the last GetRecords', labelNames: shard, registers })),
    leasesHeld: get('leases_held', () => new Gauge({ name: `${prefix}_leases_held`, help: 'shard leases held by this worker', labelNames: worker, registers })),
    leaseRenewals: get('lease_renewals', () => new Counter({ name: `${prefix}_lease_renewals`, help: 'successful lease renewals', labelNames: worker, registers })),
    getRecordsDuration: get('get_records_duration_milliseconds', () => new Histogram({ name: `${prefix}_get_records_duration_milliseconds`, help: 'GetRecords call time', labelNames: shard, buckets: BUCKETS, registers })),
    processRecordsDuration: get(
      'process_records_duration_milliseconds',
      () => new Histogram({ name: `${prefix}_process_records_duration_milliseconds`, help: 'processRecords call time', labelNames: shard, buckets: BUCKETS, registers }),
    ),
  }
}
