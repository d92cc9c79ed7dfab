/**
 * AresDB's shard rule for a row: the primary key as bytes (fixed-width values little-endian in
 * schema order, then enum strings), hashed with MurmurHash3 (x86, 32-bit, seed 0), and mapped onto
 * `numShards`.
 *
 * Fixed from AresDB (reference §6.8): key columns are taken in schema order (AresDB used Go's
 * random map order, so one row could land on different shards), and the hash is scaled with
 * `floor(h * n / 2^32)`, which is always below `n` (AresDB's `h / (MaxUint32 / n)` can equal `n`).
 * Enum keys are lower-cased when the column is case-insensitive (AresDB had the test inverted).
 *
 * @example
 * ```ts
 * const shardOf = shardFunction(job)
 * producer.send([{ topic, partition: shardOf(row), key: primaryKeyBytes(job, row), value }])
 * ```
 * @module
 */
import type { JobConfig } from './job-config.ts'
import type { Row } from './row-mapper.ts'

/** MurmurHash3 x86 32-bit of `key`. */
export function murmur3(key: Buffer, seed = 0): number {
  const c1 = 0xcc9e2d51
  const c2 = 0x1b873593
  let h = seed >>> 0
  const blocks = key.length & ~3
  for (let i = 0; i < blocks; i += 4) {
    let k = key.readUInt32LE(i)
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  let k = 0
  const tail = key.length & 3
  if (tail === 3) k ^= key[blocks + 2] << 16
  if (tail >= 2) k ^= key[blocks + 1] << 8
  if (tail >= 1) {
    k ^= key[blocks]
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
  }
  h ^= key.length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

function fixedBytes(type: string, value: unknown): Buffer {
  switch (type) {
    case 'Bool':
      return Buffer.from([value ? 1 : 0])
    case 'Int8':
    case 'Uint8': {
      const b = Buffer.alloc(1)
      b.writeUInt8((value as number) & 0xff)
      return b
    }
    case 'Int16':
    case 'Uint16': {
      const b = Buffer.alloc(2)
      b.writeUInt16LE((value as number) & 0xffff)
      return b
    }
    case 'Int32':
    case 'Uint32': {
      const b = Buffer.alloc(4)
      b.writeUInt32LE((value as number) >>> 0)
      return b
    }
    case 'Float32': {
      const b = Buffer.alloc(4)
      b.writeFloatLE(value as number)
      return b
    }
    case 'Int64': {
      const b = Buffer.alloc(8)
      b.writeBigInt64LE(BigInt(value as bigint))
      return b
    }
    case 'UUID':
      return Buffer.from((value as string).replace(/-/g, ''), 'hex')
    default:
      return Buffer.from(String(value), 'utf8')
  }
}

/** The primary key of a row as AresDB lays it out: fixed-width values in schema order, then enum strings. */
export function primaryKeyBytes(job: JobConfig, row: Row): Buffer {
  const fixed: Buffer[] = []
  const strings: Buffer[] = []
  const schema = job.aresTableConfig.schema
  const keyColumns = [...job.rules.columns.entries()].filter(([, c]) => c.primaryKey).sort((a, b) => a[1].schemaIndex - b[1].schemaIndex)
  for (const [i, c] of keyColumns) {
    if (c.type === 'SmallEnum' || c.type === 'BigEnum') {
      const text = String(row[i])
      strings.push(Buffer.from(schema.columns[c.schemaIndex].caseInsensitive ? text.toLowerCase() : text, 'utf8'))
    } else {
      fixed.push(fixedBytes(c.type, row[i]))
    }
  }
  return Buffer.concat([...fixed, ...strings])
}

/** The shard of a hash among `numShards`: `floor(h * n / 2^32)`, always in `0 .. n-1`. */
export function shardOfHash(hash: number, numShards: number): number {
  return Math.floor((hash * numShards) / 2 ** 32)
}

/** A function giving each row's shard, or null when the job is not sharded (`numShards` 0 or 1). */
export function shardFunction(job: JobConfig): ((row: Row) => number) | null {
  const n = job.numShards
  if (n <= 1) return null
  return (row) => shardOfHash(murmur3(primaryKeyBytes(job, row)), n)
}
