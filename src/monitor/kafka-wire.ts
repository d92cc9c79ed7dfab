/**
 * The few Kafka requests the monitor sends itself — Metadata (including internal topics, which
 * platformatic's clients hide), ListOffsets to one leader, and Fetch from one leader — on its own
 * connections, without joining any consumer group (Burrow reads `__consumer_offsets` with
 * partition consumers for the same reason: a group would show up in what it monitors).
 *
 * API versions are negotiated with the broker (the highest version both sides support).
 *
 * @example
 * ```ts
 * const wire = new KafkaWire({ brokers: ['127.0.0.1:9092'], clientId: 'monitor' })
 * const meta = await wire.metadata(null)        // every topic, internal ones included
 * const hwm = await wire.listOffsets(1, [{ topic: 'orders', partitions: [0, 1] }], -1n)
 * await wire.close()
 * ```
 * @module
 */
import { Admin, ConnectionPool, kGetApi, type Connection, type listOffsetsV9, type metadataV12 } from '@platformatic/kafka'
import { TributaryError } from '../core/errors.ts'
import type { ResolvedSecurity } from '../log/index.ts'
import { rawFetchApi, type RawFetchResponse } from '../log/kafka/raw-fetch.ts'
import { decodeRecordBatches } from '../log/kafka/record-decoder.ts'

type AnyApi = ((connection: Connection, ...args: unknown[]) => void) & { version?: number }

/** A broker's address. */
export interface BrokerAddress {
  readonly host: string
  readonly port: number
}

/** One topic in a metadata answer. */
export interface TopicMetadata {
  readonly name: string
  readonly id: string
  readonly internal: boolean
  /** Leader node per partition (-1 when there is none), index = partition. */
  readonly leaders: number[]
  /** A partition-level error was reported: refresh metadata soon. */
  readonly hasErrors: boolean
}

/** A metadata answer. */
export interface ClusterMetadata {
  readonly brokers: Map<number, BrokerAddress>
  readonly topics: Map<string, TopicMetadata>
}

/** Options of {@link KafkaWire}. */
export interface KafkaWireOptions {
  brokers: readonly string[]
  clientId: string
  connectTimeoutMs?: number
  requestTimeoutMs?: number
  /** TLS and SASL of every connection (from `resolveSecurity`). */
  security?: ResolvedSecurity['connection']
}

/** A fetched record of one partition. */
export interface FetchedRecord {
  readonly offset: number
  readonly key: Buffer | null
  readonly value: Buffer | null
}

/** What one partition answered to a Fetch. */
export interface FetchedPartition {
  readonly partition: number
  readonly errorCode: number
  readonly highWatermark: number
  readonly records: FetchedRecord[]
  /** The offset to fetch next (past control batches too). */
  readonly nextOffset: number
}

/** Low-level requests to a Kafka cluster. */
export class KafkaWire {
  readonly #bootstrap: BrokerAddress[]
  readonly #admin: Admin
  readonly #pool: ConnectionPool
  #brokers = new Map<number, BrokerAddress>()
  #closed = false

  constructor(options: KafkaWireOptions) {
    this.#bootstrap = options.brokers.map((b) => {
      const at = b.lastIndexOf(':')
      return { host: b.slice(0, at), port: Number(b.slice(at + 1)) }
    })
    const connectTimeout = options.connectTimeoutMs ?? 10_000
    const requestTimeout = options.requestTimeoutMs ?? 30_000
    // The Admin client only negotiates API versions (ApiVersions); requests go through our pool.
    const security = options.security ?? {}
    this.#admin = new Admin({ clientId: options.clientId, bootstrapBrokers: [...options.brokers], connectTimeout, requestTimeout, retries: 0, ...security })
    this.#pool = new ConnectionPool(options.clientId, { connectTimeout, requestTimeout, maxInflights: 5, ...security })
  }

  /** Metadata of `topics` (null: all topics, internal ones included). */
  async metadata(topics: string[] | null): Promise<ClusterMetadata> {
    const known = [...this.#brokers.values()]
    const connection = await this.#pool.getFirstAvailable(known.length > 0 ? [...known, ...this.#bootstrap] : this.#bootstrap)
    const response = await this.#call<metadataV12.MetadataResponse>(connection, 'Metadata', topics, false, false)
    const brokers = new Map<number, BrokerAddress>()
    for (const b of response.brokers) brokers.set(b.nodeId, { host: b.host, port: b.port })
    this.#brokers = brokers
    const out = new Map<string, TopicMetadata>()
    for (const t of response.topics) {
      if (t.name === null || t.name === undefined || t.errorCode !== 0) continue
      const leaders: number[] = []
      let hasErrors = false
      for (const p of t.partitions) {
        leaders[p.partitionIndex] = p.errorCode === 0 || p.errorCode === 9 /* REPLICA_NOT_AVAILABLE */ ? p.leaderId : -1
        if (leaders[p.partitionIndex] < 0) hasErrors = true
      }
      out.set(t.name, { name: t.name, id: t.topicId, internal: t.isInternal, leaders, hasErrors })
    }
    return { brokers, topics: out }
  }

  /**
   * One ListOffsets request to `node` for the given partitions; `timestamp` -1n = latest (high
   * watermark), -2n = earliest. Per partition: the offset, or -1 on a partition error.
   */
  async listOffsets(node: number, topics: readonly { topic: string; partitions: readonly number[] }[], timestamp: bigint): Promise<Map<string, number[]>> {
    const connection = await this.#connection(node)
    const request = topics.map((t) => ({ name: t.topic, partitions: t.partitions.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp })) }))
    let response: listOffsetsV9.ListOffsetsResponse
    try {
      response = await this.#call<listOffsetsV9.ListOffsetsResponse>(connection, 'ListOffsets', -1, 0, request)
    } catch (err) {
      // platformatic rejects when any partition has an error; the parsed response is still attached.
      const partial = (err as { response?: listOffsetsV9.ListOffsetsResponse }).response
      if (!partial?.topics) throw err
      response = partial
    }
    const out = new Map<string, number[]>()
    for (const t of response.topics) {
      const offsets = out.get(t.name) ?? []
      for (const p of t.partitions) offsets[p.partitionIndex] = p.errorCode === 0 ? Number(p.offset) : -1
      out.set(t.name, offsets)
    }
    return out
  }

  /** One Fetch request to `node` for partitions of one topic, from the given offsets. */
  async fetch(node: number, topic: TopicMetadata, positions: ReadonlyMap<number, number>, maxWaitMs: number, maxBytes = 8 * 1024 * 1024): Promise<FetchedPartition[]> {
    const connection = await this.#connection(node)
    const negotiated = await this.#api('Fetch')
    // Records come back as bytes and are decoded in one pass (the consumer's decoder).
    const api = rawFetchApi(negotiated.version ?? 0)
    if (api === undefined) throw new TributaryError('TRIB_LOG_KAFKA', `the broker speaks Fetch up to version ${negotiated.version}; the monitor needs version 12 (Kafka 2.7) or later`)
    const byName = api.version <= 12
    const partitions = [...positions].map(([partition, offset]) => ({
      partition,
      currentLeaderEpoch: -1,
      fetchOffset: BigInt(offset),
      lastFetchedEpoch: -1,
      partitionMaxBytes: maxBytes,
    }))
    const topics = [{ topicId: byName ? topic.name : topic.id, partitions }]
    let response: RawFetchResponse
    try {
      response = await this.#send<RawFetchResponse>(api, connection, maxWaitMs, 1, maxBytes, 0, 0, -1, topics, [], '')
    } catch (err) {
      const partial = (err as { response?: RawFetchResponse }).response
      if (!partial?.responses) throw err
      response = partial
    }
    const out: FetchedPartition[] = []
    for (const t of response.responses) {
      for (const p of t.partitions) {
        const from = positions.get(p.partitionIndex) ?? 0
        // Read-uncommitted, as Burrow reads: no aborted-transaction filtering (commits are not transactional).
        const { records, next } = p.recordBytes === null ? { records: [], next: from } : decodeRecordBatches(p.recordBytes, topic.name, p.partitionIndex, from, [])
        out.push({ partition: p.partitionIndex, errorCode: p.errorCode, highWatermark: Number(p.highWatermark), records, nextOffset: next })
      }
    }
    return out
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.close().catch(() => {})
    await this.#admin.close().catch(() => {})
  }

  async #connection(node: number): Promise<Connection> {
    if (this.#closed) throw new TributaryError('TRIB_CLOSED', 'the monitor’s Kafka connections are closed')
    const broker = this.#brokers.get(node)
    if (!broker) throw new TributaryError('TRIB_LOG_KAFKA', `unknown broker node ${node}; refresh metadata first`, { retriable: true })
    return this.#pool.get(broker)
  }

  #api(name: string): Promise<AnyApi> {
    return new Promise((resolve, reject) => {
      const getter = (this.#admin as unknown as { [kGetApi]: (name: string, cb: (err: Error | null, api?: AnyApi) => void) => void })[kGetApi]
      getter.call(this.#admin, name, (err, api) => (err || !api ? reject(err ?? new Error(`no API ${name}`)) : resolve(api)))
    })
  }

  async #call<T>(connection: Connection, name: string, ...args: unknown[]): Promise<T> {
    return this.#send<T>(await this.#api(name), connection, ...args)
  }

  #send<T>(api: AnyApi, connection: Connection, ...args: unknown[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      api(connection, ...args, (err: Error | null, response?: T) => (err ? reject(err) : resolve(response as T)))
    })
  }
}
