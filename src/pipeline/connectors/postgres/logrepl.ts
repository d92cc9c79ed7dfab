/**
 * The logical replication reader of the PostgreSQL source: `START_REPLICATION` with `pgoutput` on
 * a `pg` replication connection, the CopyBoth stream through `pg-copy-streams` (`both`, one frame
 * per read, so the socket is only read as fast as the pipeline reads), changes turned into
 * OpenCDC records, and the slot's confirmed flush LSN moved **only** by acknowledgements.
 *
 * Ledger: each change gets the position `(commit LSN of its transaction, index in it)`. A
 * transaction's end LSN is confirmed to the server once all of its changes are acknowledged; when
 * nothing is unacknowledged and no transaction is open, keepalives' WAL end is confirmed too, so
 * traffic on other tables does not hold WAL. Standby status updates go out on a timer, on
 * keepalives that ask for one, and when the confirmed LSN moves.
 *
 * After a lost connection the reader reconnects with backoff and starts again at the confirmed
 * LSN; changes it had already returned are skipped, so positions stay unique and increasing.
 *
 * @example
 * ```ts
 * const reader = new ReplicationReader({ url, slot: 's', publication: 'p', ... })
 * const records = await reader.read(1000, signal)
 * reader.ack(decodePosition(records.at(-1)!.position) as CdcPosition)
 * ```
 * @module
 */
import type pg from 'pg'
import * as copyStreams from 'pg-copy-streams'
import type { Duplex } from 'node:stream'
import { Backoff } from '../../../core/backoff.ts'
import { TributaryError, isTributaryError } from '../../../core/errors.ts'
import type { Logger } from '../../../core/logger.ts'
import { unixNanos, type PipelineRecord, type StructuredData } from '../../record.ts'
import { closeQuietly, connect, quoteIdent, sleep, type PgError } from './connection.ts'
import { formatLsn, PgoutputDecoder, type Lsn, type PgoutputMessage, type Relation, type Row } from './pgoutput.ts'
import { compareCdc, encodePosition, type CdcPosition } from './position.ts'

/** Options of {@link ReplicationReader}. */
export interface ReplicationReaderOptions {
  url: string
  slot: string
  publication: string
  /** Array type OID → element OID (for arrays of non-built-in types). */
  arrays: ReadonlyMap<number, number>
  /** Relation OID → primary key columns (from the catalog); relations not here use the replica identity. */
  primaryKeys: ReadonlyMap<number, readonly string[]>
  /** The last position acknowledged before this run: changes up to it are skipped. */
  resumeAfter: CdcPosition | null
  /** The slot's confirmed flush LSN when the reader starts. */
  confirmedLsn: Lsn
  statusIntervalMs: number
  logger: Logger
  /** How long to keep reconnecting before `read` throws `TRIB_POSTGRES_UNAVAILABLE`. */
  retryForMs?: number
}

/** `pg-copy-streams`' CopyBoth duplex (its type definitions leave `both` out). */
type CopyBothQuery = Duplex & pg.Submittable
const copyBoth = (copyStreams as unknown as { both(text: string, options: object): CopyBothQuery }).both

interface Txn {
  commitLsn: string
  endLsn: Lsn
  count: number
}

const PG_EPOCH_MICROS = 946_684_800_000_000n

/** Reads changes from a replication slot. */
export class ReplicationReader {
  readonly #o: ReplicationReaderOptions
  #client: pg.Client | null = null
  #stream: Duplex | null = null
  #failure: Error | null = null
  #decoder: PgoutputDecoder
  #timer: NodeJS.Timeout | null = null
  /** Highest WAL position received (for the `write` field of status updates). */
  #received: Lsn = 0n
  #confirmed: Lsn
  #sentConfirmed: Lsn = -1n
  /** Changes up to this position are not returned again (last acknowledged, then last returned). */
  #skipUntil: CdcPosition | null
  #acked: CdcPosition | null
  /** Committed transactions with returned changes not yet all acknowledged, in commit order. */
  readonly #pending: Txn[] = []
  #txn: { commitLsn: string; commitTimeMicros: bigint; seq: number } | null = null
  #closed = false

  constructor(options: ReplicationReaderOptions) {
    this.#o = options
    this.#decoder = new PgoutputDecoder(options.arrays)
    this.#confirmed = options.confirmedLsn
    this.#skipUntil = options.resumeAfter
    this.#acked = options.resumeAfter
  }

  /** The LSN confirmed to the server so far. */
  get confirmedLsn(): Lsn {
    return this.#confirmed
  }

  /** Connects and starts streaming from the slot's confirmed LSN. */
  async start(): Promise<void> {
    this.#client = await connect(this.#o.url, 'postgres source', { replication: true })
    const publication = `'${quoteIdent(this.#o.publication).replaceAll("'", "''")}'`
    const sql = `START_REPLICATION SLOT ${quoteIdent(this.#o.slot)} LOGICAL ${formatLsn(this.#confirmed)} (proto_version '1', publication_names ${publication})`
    const options = { alignOnCopyDataFrame: true, readableObjectMode: true, readableHighWaterMark: 2048 }
    const stream = this.#client.query(copyBoth(sql, options))
    this.#failure = null
    this.#decoder = new PgoutputDecoder(this.#o.arrays)
    this.#txn = null
    stream.on('error', (err: Error) => {
      this.#failure ??= err
    })
    stream.on('end', () => {
      this.#failure ??= new Error('the server ended the replication stream')
    })
    stream.on('close', () => {
      this.#failure ??= new Error('the replication stream closed')
    })
    this.#stream = stream
    this.#timer ??= setInterval(() => this.#sendStatus(true), this.#o.statusIntervalMs)
    this.#timer.unref()
    this.#sendStatus(true)
  }

  /**
   * Returns up to `max` records, waiting until at least one is there or `signal` aborts (then
   * `[]`). Reconnects after a lost connection.
   */
  async read(max: number, signal: AbortSignal): Promise<PipelineRecord[]> {
    const backoff = new Backoff({ initialMs: 100, maxMs: 5_000 })
    let downSince = 0
    for (;;) {
      if (signal.aborted || this.#closed) return []
      if (this.#stream === null || this.#failure !== null) {
        const failure = this.#failure
        await this.#stop()
        if (failure !== null) this.#fatalCheck(failure)
        downSince ||= Date.now()
        if (Date.now() - downSince > (this.#o.retryForMs ?? 120_000)) {
          throw new TributaryError('TRIB_POSTGRES_UNAVAILABLE', `postgres source: logical replication from slot ${this.#o.slot} did not come back: ${failure?.message ?? 'not connected'}`, { cause: failure, retriable: true })
        }
        if (failure !== null) {
          const delay = backoff.next()
          this.#o.logger.warn({ err: failure.message, delayMs: delay }, 'postgres source: replication connection lost, reconnecting')
          await sleep(delay, signal)
          if (signal.aborted) return []
        }
        try {
          await this.start()
        } catch (err) {
          if (isTributaryError(err, 'TRIB_POSTGRES_CONFIG')) throw err
          this.#failure = err as Error
        }
        continue
      }
      downSince = 0
      const out: PipelineRecord[] = []
      let frame: Buffer | null
      while (out.length < max && (frame = this.#stream.read() as Buffer | null) !== null) this.#onFrame(frame, out)
      if (out.length > 0) {
        const last = out[out.length - 1] as PipelineRecord
        this.#skipUntil = JSON.parse(last.position.toString()) as CdcPosition
        return out
      }
      if (this.#failure === null) await this.#readable(this.#stream, signal)
    }
  }

  /** Acknowledges every change up to `position`; confirms whole transactions to the server. */
  ack(position: CdcPosition): void {
    if (this.#acked === null || compareCdc(position, this.#acked) > 0) this.#acked = position
    this.#advance()
  }

  /** Stops streaming (after a last status update) and closes the connection. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    this.#sendStatus(true)
    await this.#stop()
  }

  #fatalCheck(err: Error): void {
    const code = (err as PgError).code
    if (code === '42704' || /replication slot .* does not exist/.test(err.message)) {
      throw new TributaryError('TRIB_POSTGRES_REPLICATION', `postgres source: setting logrepl.slotName: replication slot ${this.#o.slot} does not exist (dropped while the pipeline was stopped?): ${err.message}`, { cause: err, details: { setting: 'logrepl.slotName' } })
    }
    if (/publication .* does not exist/.test(err.message)) {
      throw new TributaryError('TRIB_POSTGRES_REPLICATION', `postgres source: setting logrepl.publicationName: ${err.message}`, { cause: err, details: { setting: 'logrepl.publicationName' } })
    }
  }

  async #stop(): Promise<void> {
    const client = this.#client
    this.#stream?.removeAllListeners()
    this.#stream?.on('error', () => undefined)
    this.#stream?.destroy()
    this.#stream = null
    this.#client = null
    await closeQuietly(client)
  }

  #readable(stream: Duplex, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        stream.off('readable', done)
        stream.off('error', done)
        stream.off('end', done)
        stream.off('close', done)
        signal.removeEventListener('abort', done)
        resolve()
      }
      stream.on('readable', done)
      stream.on('error', done)
      stream.on('end', done)
      stream.on('close', done)
      signal.addEventListener('abort', done, { once: true })
      if (this.#failure !== null || stream.readableLength > 0) done()
    })
  }

  #onFrame(frame: Buffer, out: PipelineRecord[]): void {
    const kind = frame[0]
    if (kind === 0x77) {
      // XLogData: 'w' walStart walEnd sendTime data
      const walEnd = frame.readBigUInt64BE(9)
      if (walEnd > this.#received) this.#received = walEnd
      this.#onMessage(this.#decoder.decode(frame.subarray(25)), out)
    } else if (kind === 0x6b) {
      // keepalive: 'k' walEnd sendTime replyRequested
      const walEnd = frame.readBigUInt64BE(1)
      if (walEnd > this.#received) this.#received = walEnd
      if (this.#pending.length === 0 && this.#txn === null && walEnd > this.#confirmed) this.#confirmed = walEnd
      this.#sendStatus(frame[17] === 1)
    }
  }

  #onMessage(msg: PgoutputMessage, out: PipelineRecord[]): void {
    switch (msg.tag) {
      case 'begin':
        this.#txn = { commitLsn: formatLsn(msg.finalLsn), commitTimeMicros: msg.commitTimeMicros, seq: 0 }
        return
      case 'commit': {
        const txn = this.#txn
        this.#txn = null
        if (txn === null) return
        if (!this.#pending.some((t) => t.commitLsn === txn.commitLsn)) this.#pending.push({ commitLsn: txn.commitLsn, endLsn: msg.endLsn, count: txn.seq })
        this.#advance()
        return
      }
      case 'insert':
        this.#emit(out, msg.relation, 'create', this.#key(msg.relation, msg.after), null, msg.after)
        return
      case 'update':
        this.#emit(out, msg.relation, 'update', this.#key(msg.relation, msg.after), msg.keyOnly ? null : msg.before, msg.after)
        return
      case 'delete':
        this.#emit(out, msg.relation, 'delete', this.#key(msg.relation, msg.before), msg.keyOnly ? null : msg.before, null)
        return
      case 'truncate':
        for (const relation of msg.relations) this.#emit(out, relation, 'delete', null, null, null, { 'postgres.operation': 'truncate' })
        return
      default:
        return
    }
  }

  #key(relation: Relation, row: Row): StructuredData | null {
    const pk = this.#o.primaryKeys.get(relation.oid) ?? (relation.replicaIdentity === 'f' ? [] : relation.columns.filter((c) => c.key).map((c) => c.name))
    if (pk.length === 0) return null
    const key: StructuredData = {}
    for (const k of pk) key[k] = row[k] ?? null
    return key
  }

  #emit(out: PipelineRecord[], relation: Relation, operation: PipelineRecord['operation'], key: StructuredData | null, before: Row | null, after: Row | null, extra: { [k: string]: string } = {}): void {
    const txn = this.#txn
    if (txn === null) throw new TributaryError('TRIB_POSTGRES_REPLICATION', 'pgoutput: a change outside a transaction')
    txn.seq++
    const position: CdcPosition = { m: 'cdc', lsn: txn.commitLsn, seq: txn.seq }
    if (this.#skipUntil !== null && compareCdc(position, this.#skipUntil) <= 0) return
    out.push({
      position: encodePosition(position),
      operation,
      metadata: {
        'opencdc.collection': relation.schema === 'public' ? relation.name : `${relation.schema}.${relation.name}`,
        'opencdc.createdAt': ((txn.commitTimeMicros + PG_EPOCH_MICROS) * 1000n).toString(),
        'opencdc.readAt': unixNanos(),
        ...extra,
      },
      key,
      payload: { before, after },
    })
  }

  /** Confirms every leading transaction whose changes are all acknowledged. */
  #advance(): void {
    const acked = this.#acked
    let moved = false
    for (;;) {
      const head = this.#pending[0]
      if (head === undefined) break
      const done = head.count === 0 || (acked !== null && compareCdc({ lsn: head.commitLsn, seq: head.count }, acked) <= 0)
      if (!done) break
      this.#pending.shift()
      if (head.endLsn > this.#confirmed) {
        this.#confirmed = head.endLsn
        moved = true
      }
    }
    if (moved) this.#sendStatus(false)
  }

  /** Sends a standby status update (`force`: even when the confirmed LSN did not move). */
  #sendStatus(force: boolean): void {
    const stream = this.#stream
    if (stream === null || this.#failure !== null || !stream.writable) return
    if (!force && this.#confirmed === this.#sentConfirmed) return
    const msg = Buffer.alloc(34)
    msg[0] = 0x72 // 'r'
    msg.writeBigUInt64BE(this.#received > this.#confirmed ? this.#received : this.#confirmed, 1)
    msg.writeBigUInt64BE(this.#confirmed, 9)
    msg.writeBigUInt64BE(this.#confirmed, 17)
    msg.writeBigInt64BE(BigInt(Date.now()) * 1000n - PG_EPOCH_MICROS, 25)
    msg[33] = 0
    stream.write(msg)
    this.#sentConfirmed = this.#confirmed
  }
}

