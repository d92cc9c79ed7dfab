/**
 * Fetch responses with the records left as bytes, for {@link decodeRecordBatches}.
 *
 * platformatic's `Consumer.fetch` keeps what it does well — metadata, the leader's connection,
 * incremental fetch sessions, retries, API version negotiation — and asks the client for the `Fetch`
 * API of the negotiated version. {@link useRawRecordFetch} answers that request with an API of the
 * same version and the same request encoding whose response parser leaves each partition's records
 * as one `Buffer` (`recordBytes`, `records` null) instead of decoding them into batch and record
 * objects; the fetcher decodes them itself in one pass. Errors are reported exactly as platformatic's
 * parser reports them (a `ResponseError` carrying the parsed response), so its retry and session logic
 * sees the same thing. Versions 12–17 (Kafka 2.7 and later) are handled; a broker that speaks only
 * older versions gets a clear error.
 *
 * @example
 * ```ts
 * const client = new Consumer({ ... })
 * useRawRecordFetch(client)
 * client.fetch(options, (err, response) => { for (const t of response.responses) ... p.recordBytes ... })
 * ```
 * @module
 */
import { createAPI, fetchV12, fetchV13, fetchV14, fetchV15, fetchV16, fetchV17, kGetApi, ResponseError, type Consumer } from '@platformatic/kafka'
import { TributaryError } from '../../core/errors.ts'
import type { AbortedTransaction } from './record-decoder.ts'

/** One partition of a {@link RawFetchResponse}. */
export interface RawFetchPartition {
  partitionIndex: number
  errorCode: number
  highWatermark: bigint
  lastStableOffset: bigint
  logStartOffset: bigint
  divergingEpoch: { epoch: number; endOffset: bigint }
  currentLeader: { leaderId: number; leaderEpoch: number }
  snapshotId: { endOffset: bigint; epoch: number }
  abortedTransactions: AbortedTransaction[] | null
  preferredReadReplica: number
  /** Always null here: the records are in {@link recordBytes}. */
  records: null
  /** The partition's record batches, undecoded (null when there are none). */
  recordBytes: Buffer | null
}

/** A Fetch response whose records are undecoded. */
export interface RawFetchResponse {
  throttleTimeMs: number
  errorCode: number
  sessionId: number
  /** `topicId` is the topic's UUID (versions 13+) or, for version 12, its name. */
  responses: { topicId: string; partitions: RawFetchPartition[] }[]
  nodeEndpoints: { nodeId: number; host: string; port: number; rack: string | null }[]
}

type Request = (...args: unknown[]) => unknown
const REQUESTS: { [version: number]: Request } = {
  12: fetchV12.createRequest as Request,
  13: fetchV13.createRequest as Request,
  14: fetchV14.createRequest as Request,
  15: fetchV15.createRequest as Request,
  16: fetchV16.createRequest as Request,
  17: fetchV17.createRequest as Request,
}

type AnyApi = ((...args: unknown[]) => void) & { version: number }
const apis = new Map<number, AnyApi>()

/** The raw-records Fetch API of `version`, or undefined when the version is not handled. */
export function rawFetchApi(version: number): AnyApi | undefined {
  const createRequest = REQUESTS[version]
  if (createRequest === undefined) return undefined
  let api = apis.get(version)
  if (api === undefined) {
    api = createAPI(1, version, createRequest as never, ((_c: number, _k: number, v: number, reader: { buffer: { slice(start: number, end?: number): Buffer } }) => parseRawFetchResponse(v, reader.buffer.slice(0))) as never) as unknown as AnyApi
    apis.set(version, api)
  }
  return api
}

/** Makes `client.fetch` return {@link RawFetchResponse}s (for the versions {@link rawFetchApi} handles). */
export function useRawRecordFetch(client: Consumer): void {
  type GetApi = (name: string, callback: (error: Error | null, api?: AnyApi) => void) => void
  const target = client as unknown as { [kGetApi]: GetApi }
  const original = target[kGetApi]
  target[kGetApi] = function (this: unknown, name, callback) {
    if (name !== 'Fetch') return original.call(this, name, callback)
    original.call(this, name, (error, api) => {
      if (error || api === undefined) return callback(error, api)
      const raw = rawFetchApi(api.version)
      if (raw === undefined) return callback(new TributaryError('TRIB_LOG_KAFKA', `the broker speaks Fetch up to version ${api.version}; Tributary's Kafka consumer needs version 12 (Kafka 2.7) or later`))
      callback(null, raw)
    })
  }
}

/** A cursor over a contiguous response. */
class Cursor {
  pos = 0
  readonly buf: Buffer
  constructor(buf: Buffer) {
    this.buf = buf
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.pos)
    this.pos += 2
    return v
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.pos)
    this.pos += 4
    return v
  }
  int64(): bigint {
    const v = this.buf.readBigInt64BE(this.pos)
    this.pos += 8
    return v
  }
  uvarint(): number {
    let value = 0
    let shift = 0
    let b: number
    do {
      b = this.buf[this.pos++]
      value += (b & 0x7f) * 2 ** shift
      shift += 7
    } while (b > 0x7f)
    return value
  }
  /** COMPACT_STRING / COMPACT_NULLABLE_STRING. */
  string(): string | null {
    const n = this.uvarint() - 1
    if (n < 0) return null
    const s = this.buf.toString('utf8', this.pos, this.pos + n)
    this.pos += n
    return s
  }
  uuid(): string {
    const hex = this.buf.toString('hex', this.pos, this.pos + 16)
    this.pos += 16
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  }
  /** COMPACT_ARRAY; null when absent. */
  array<T>(item: (c: Cursor, i: number) => T): T[] | null {
    const n = this.uvarint() - 1
    if (n < 0) return null
    const out: T[] = new Array(n)
    for (let i = 0; i < n; i++) out[i] = item(this, i)
    return out
  }
  /** Tagged fields: known tags go to `known`, the rest are skipped. */
  taggedFields(known: { [tag: number]: (c: Cursor) => void } = {}): void {
    const count = this.uvarint()
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint()
      const size = this.uvarint()
      const end = this.pos + size
      known[tag]?.(this)
      this.pos = end
    }
  }
}

/** Parses a Fetch response (versions 12–17) with the records left as bytes. */
export function parseRawFetchResponse(version: number, buf: Buffer): RawFetchResponse {
  const c = new Cursor(buf)
  const errors: [string, [number, null]][] = []
  const throttleTimeMs = c.int32()
  const errorCode = c.int16()
  if (errorCode !== 0) errors.push([version >= 15 ? '' : '/', [errorCode, null]])
  const response: RawFetchResponse = {
    throttleTimeMs,
    errorCode,
    sessionId: c.int32(),
    nodeEndpoints: [],
    responses:
      c.array((c, i) => {
        const topicId = version >= 13 ? c.uuid() : (c.string() ?? '')
        const partitions =
          c.array((c, j) => {
            const partition: RawFetchPartition = {
              partitionIndex: c.int32(),
              errorCode: c.int16(),
              highWatermark: c.int64(),
              lastStableOffset: c.int64(),
              logStartOffset: c.int64(),
              divergingEpoch: { epoch: -1, endOffset: -1n },
              currentLeader: { leaderId: -1, leaderEpoch: -1 },
              snapshotId: { endOffset: -1n, epoch: -1 },
              abortedTransactions: c.array((c) => {
                const aborted = { producerId: c.int64(), firstOffset: Number(c.int64()) }
                c.taggedFields()
                return aborted
              }),
              preferredReadReplica: c.int32(),
              records: null,
              recordBytes: null,
            }
            if (partition.errorCode !== 0) errors.push([`/responses/${i}/partitions/${j}`, [partition.errorCode, null]])
            const size = c.uvarint() - 1
            if (size > 0) {
              partition.recordBytes = buf.subarray(c.pos, c.pos + size)
              c.pos += size
            }
            c.taggedFields({
              0: (c) => (partition.divergingEpoch = { epoch: c.int32(), endOffset: c.int64() }),
              1: (c) => (partition.currentLeader = { leaderId: c.int32(), leaderEpoch: c.int32() }),
              2: (c) => (partition.snapshotId = { endOffset: c.int64(), epoch: c.int32() }),
            })
            return partition
          }) ?? []
        c.taggedFields()
        return { topicId, partitions }
      }) ?? [],
  }
  c.taggedFields({
    0: (c) => {
      response.nodeEndpoints =
        c.array((c) => {
          const endpoint = { nodeId: c.int32(), host: c.string() ?? '', port: c.int32(), rack: c.string() }
          c.taggedFields()
          return endpoint
        }) ?? []
    },
  })
  if (errors.length > 0) throw new ResponseError(1, version, Object.fromEntries(errors), response)
  return response
}
