/**
 * Keyed partitioning, byte-compatible with the Java client (murmur2) and with sarama/goka (FNV-1a).
 *
 * - `murmur2`: `(murmur2(key) & 0x7fffffff) % partitions`, as `org.apache.kafka.clients.producer`'s
 *   default partitioner does for keyed records.
 * - `fnv1a`: 32-bit FNV-1a read as a signed int32, `abs(hash % partitions)`, as sarama's
 *   `NewHashPartitioner` (goka's default) does.
 *
 * @example
 * ```ts
 * murmur2Partition(Buffer.from('user-1'), 12) // same partition the Java producer picks
 * ```
 * @module
 */

/** Picks a partition for a keyed record. */
export type Partitioner = (key: Buffer, partitions: number) => number

/** Names of the built-in partitioners. */
export type PartitionerName = 'murmur2' | 'fnv1a'

/** Kafka's murmur2 (seed 0x9747b28c), as a signed 32-bit integer. */
export function murmur2(data: Buffer): number {
  const length = data.length
  const m = 0x5bd1e995
  let h = (0x9747b28c ^ length) | 0
  const words = length >> 2
  for (let i = 0; i < words; i++) {
    const i4 = i << 2
    let k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const tail = words << 2
  const rest = length & 3
  if (rest === 3) h ^= data[tail + 2] << 16
  if (rest >= 2) h ^= data[tail + 1] << 8
  if (rest >= 1) {
    h ^= data[tail]
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

/** 32-bit FNV-1a, as an unsigned integer. */
export function fnv1a32(data: Buffer): number {
  let h = 0x811c9dc5
  for (let i = 0; i < data.length; i++) {
    h ^= data[i]
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The Java client's partition for a key. */
export const murmur2Partition: Partitioner = (key, partitions) => (murmur2(key) & 0x7fffffff) % partitions

/** sarama's (and so goka's) hash partition for a key. */
export const fnv1aPartition: Partitioner = (key, partitions) => Math.abs((fnv1a32(key) | 0) % partitions)

/** Resolves a partitioner option to a function. */
export function resolvePartitioner(option: PartitionerName | Partitioner | undefined): Partitioner {
  if (typeof option === 'function') return option
  return option === 'fnv1a' ? fnv1aPartition : murmur2Partition
}
