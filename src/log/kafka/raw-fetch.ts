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
import { WireReader } from '../wire.ts'

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
  abortedTransactions: AbortedTransaction[]
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

/** Parses a Fetch response (versions 12–17) with the records left as bytes. */
export function parseRawFetchResponse(version: number, buf: Buffer): RawFetchResponse {
  const r = new WireReader(buf)
  const errors: [string, [number, null]][] = []
  const throttleTimeMs = r.int32('Fetch throttle_time_ms')
  const errorCode = r.int16('Fetch error_code')
  if (errorCode !== 0) errors.push([version >= 15 ? '' : '/', [errorCode, null]])
  const sessionId = r.int32('Fetch session_id')
  const responses: RawFetchResponse['responses'] = []
  for (let i = 0, topics = r.compactArrayLength('Fetch responses'); i < topics; i++) {
    const topicId = version >= 13 ? r.uuid('Fetch topic_id') : r.compactString('Fetch topic')
    const partitions: RawFetchPartition[] = []
    for (let j = 0, n = r.compactArrayLength('Fetch partitions'); j < n; j++) {
      const partition: RawFetchPartition = {
        partitionIndex: r.int32('Fetch partition_index'),
        errorCode: r.int16('Fetch partition error_code'),
        highWatermark: BigInt(r.int64('Fetch high_watermark')),
        lastStableOffset: BigInt(r.int64('Fetch last_stable_offset')),
        logStartOffset: BigInt(r.int64('Fetch log_start_offset')),
        divergingEpoch: { epoch: -1, endOffset: -1n },
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
        snapshotId: { endOffset: -1n, epoch: -1 },
        abortedTransactions: [],
        preferredReadReplica: -1,
        records: null,
        recordBytes: null,
      }
      for (let k = 0, aborted = r.compactArrayLength('Fetch aborted_transactions', 17); k < aborted; k++) {
        partition.abortedTransactions.push({ producerId: BigInt(r.int64('Fetch aborted producer_id')), firstOffset: r.int64('Fetch aborted first_offset') })
        r.skipTaggedFields('Fetch aborted transaction')
      }
      partition.preferredReadReplica = r.int32('Fetch preferred_read_replica')
      if (partition.errorCode !== 0) errors.push([`/responses/${i}/partitions/${j}`, [partition.errorCode, null]])
      const records = r.compactBytes('Fetch records')
      if (records !== null && records.length > 0) partition.recordBytes = records
      r.taggedFields('Fetch partition', {
        0: (t) => (partition.divergingEpoch = { epoch: t.int32('diverging_epoch epoch'), endOffset: BigInt(t.int64('diverging_epoch end_offset')) }),
        1: (t) => (partition.currentLeader = { leaderId: t.int32('current_leader leader_id'), leaderEpoch: t.int32('current_leader leader_epoch') }),
        2: (t) => (partition.snapshotId = { endOffset: BigInt(t.int64('snapshot_id end_offset')), epoch: t.int32('snapshot_id epoch') }),
      })
      partitions.push(partition)
    }
    r.skipTaggedFields('Fetch topic')
    responses.push({ topicId, partitions })
  }
  const response: RawFetchResponse = { throttleTimeMs, errorCode, sessionId, responses, nodeEndpoints: [] }
  r.taggedFields('Fetch response', {
    0: (t) => {
      for (let i = 0, n = t.compactArrayLength('Fetch node_endpoints'); i < n; i++) {
        response.nodeEndpoints.push({ nodeId: t.int32('node_id'), host: t.compactString('host'), port: t.int32('port'), rack: t.compactNullableString('rack') })
        t.skipTaggedFields('Fetch node endpoint')
      }
    },
  })
  if (errors.length > 0) throw new ResponseError(1, version, Object.fromEntries(errors), response)
  return response
}
