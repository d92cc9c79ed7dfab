/**
 * A batch of records moving through a pipeline, with a status per record (Conduit's funnel `Batch`).
 *
 * Every record starts `ack`. A task may mark records `nack` (with the error and the id of the node
 * that nacked them), `retry` or `filter`. Filtered records stay in the batch — later tasks skip them
 * and they are acked at the source with their neighbours — and their status never changes again.
 * Indices given to {@link Batch.ack}, {@link Batch.nack}, {@link Batch.retry}, {@link Batch.filter},
 * {@link Batch.setRecords} and {@link Batch.splitRecord} point into {@link Batch.activeRecords}, the
 * records not filtered, as in Conduit.
 *
 * The source positions are kept apart from the records (a processor may change a record's
 * `position` field; the source gets back exactly what it produced). When a record is split into
 * several, the pieces share one source position: every piece but the last gets an empty position and
 * the last one carries the original, so the source hears about it only when every piece is
 * somewhere (Conduit acks through the first piece; acking through the last is what at-least-once
 * needs when a later piece is nacked).
 *
 * A batch with a nack or a retry is *tainted*; {@link Batch.runs} cuts it into consecutive runs
 * (ack and filter together, nack, retry) that the worker handles in order.
 *
 * @example
 * ```ts
 * const batch = Batch.fromRecords(records)        // [a, b, c, d, e], all ack
 * batch.nack(2, new Error('bad c'), 'proc-1')     // [a, b, c✗, d, e]
 * batch.runs().map((r) => r.kind)                  // ['ack', 'nack', 'ack']
 * ```
 * @module
 */
import type { PipelineRecord } from './record.ts'

/** A record's status in a batch. */
export type RecordFlag = 'ack' | 'nack' | 'retry' | 'filter'

const ACK = 0
const NACK = 1
const RETRY = 2
const FILTER = 3
const FLAG_NAMES: readonly RecordFlag[] = ['ack', 'nack', 'retry', 'filter']

const EMPTY_POSITION = Buffer.alloc(0)

/** Why a record was nacked. */
export interface NackReason {
  readonly error: Error
  /** The node (processor or destination id) that nacked it. */
  readonly nodeId: string
}

/** The kind of a run cut from a tainted batch: ack (acks and filters), nack or retry. */
export type RunKind = 'ack' | 'nack' | 'retry'

/** A batch of records with per-record status. */
export class Batch {
  /** The records, one per slot (filtered ones included). */
  records: PipelineRecord[]
  /** The source position of each slot; empty for all but the last piece of a split record. */
  positions: Buffer[]
  #flags: Uint8Array
  #reasons: (NackReason | undefined)[] | undefined
  #filtered = 0
  #tainted = 0
  /** Active index → slot, or undefined while nothing is filtered (identity). */
  #active: number[] | undefined
  /** For a run cut by {@link runs}: what kind it is. */
  readonly kind: RunKind

  private constructor(records: PipelineRecord[], positions: Buffer[], flags: Uint8Array, reasons: (NackReason | undefined)[] | undefined, kind: RunKind) {
    this.records = records
    this.positions = positions
    this.#flags = flags
    this.#reasons = reasons
    this.kind = kind
    for (let i = 0; i < flags.length; i++) {
      const f = flags[i]
      if (f === FILTER) this.#filtered++
      else if (f !== ACK) this.#tainted++
    }
  }

  /** A batch of records just read from a source: every record acked, positions taken from the records. */
  static fromRecords(records: PipelineRecord[]): Batch {
    const positions = new Array<Buffer>(records.length)
    for (let i = 0; i < records.length; i++) positions[i] = records[i].position
    return new Batch(records, positions, new Uint8Array(records.length), undefined, 'ack')
  }

  /** Slots in the batch, filtered ones included. */
  get length(): number {
    return this.records.length
  }

  /** Records not filtered. */
  get activeCount(): number {
    return this.records.length - this.#filtered
  }

  /** Slots filtered out. */
  get filteredCount(): number {
    return this.#filtered
  }

  /** True when any record is nacked or marked for retry. */
  get tainted(): boolean {
    return this.#tainted > 0
  }

  /** True when some record is not filtered. */
  hasActiveRecords(): boolean {
    return this.#filtered < this.records.length
  }

  /** The records not filtered, in order. Do not change the array (it may be the batch's own). */
  activeRecords(): readonly PipelineRecord[] {
    if (this.#filtered === 0) return this.records
    const map = this.#activeMap()
    const out = new Array<PipelineRecord>(map.length)
    for (let i = 0; i < map.length; i++) out[i] = this.records[map[i]]
    return out
  }

  /** The slot of the active record at `index`. */
  slotOf(index: number): number {
    if (this.#filtered === 0) return index
    const slot = this.#activeMap()[index]
    if (slot === undefined) throw new RangeError(`active record ${index} out of range (${this.activeCount} active)`)
    return slot
  }

  /** The status of the record in `slot` (a slot index, not an active index). */
  flagAt(slot: number): RecordFlag {
    return FLAG_NAMES[this.#flags[slot]]
  }

  /** Why the record in `slot` was nacked, if it was. */
  reasonAt(slot: number): NackReason | undefined {
    return this.#reasons?.[slot]
  }

  /** Marks active records `i` (to `j`, exclusive) acked. */
  ack(i: number, j: number = i + 1): void {
    for (let k = i; k < j; k++) this.#set(this.slotOf(k), ACK)
  }

  /** Marks active records `i` (to `j`, exclusive) for retry on the same task. */
  retry(i: number, j: number = i + 1): void {
    for (let k = i; k < j; k++) this.#set(this.slotOf(k), RETRY)
  }

  /** Like {@link retry}, by slot. */
  retrySlot(slot: number): void {
    this.#set(slot, RETRY)
  }

  /** Marks active record `i` nacked by `nodeId` with `error`. */
  nack(i: number, error: Error, nodeId: string): void {
    this.nackSlot(this.slotOf(i), error, nodeId)
  }

  /** Like {@link nack}, by slot. */
  nackSlot(slot: number, error: Error, nodeId: string): void {
    this.#set(slot, NACK)
    this.#reasons ??= new Array(this.records.length)
    this.#reasons[slot] = { error, nodeId }
  }

  /** Marks active records `i` (to `j`, exclusive) filtered. Filtered records keep that status. */
  filter(i: number, j: number = i + 1): void {
    const slots: number[] = []
    for (let k = i; k < j; k++) slots.push(this.slotOf(k))
    for (const slot of slots) this.filterSlot(slot)
  }

  /** Like {@link filter}, by slot. */
  filterSlot(slot: number): void {
    this.#set(slot, FILTER)
  }

  /** Replaces active records from `i` on with `records` (statuses unchanged). */
  setRecords(i: number, records: readonly PipelineRecord[]): void {
    for (let k = 0; k < records.length; k++) this.records[this.slotOf(i + k)] = records[k]
  }

  /** Splits active record `i` into `pieces` (at least one), acked through the original's position. */
  splitRecord(i: number, pieces: readonly PipelineRecord[]): void {
    this.splitSlots(new Map([[this.slotOf(i), pieces]]))
  }

  /**
   * Splits several slots at once (one pass, however many splits). Each piece starts `ack`; all but
   * the last of a split get an empty position. An empty list of pieces filters the slot.
   */
  splitSlots(splits: ReadonlyMap<number, readonly PipelineRecord[]>): void {
    let extra = 0
    for (const [slot, pieces] of splits) {
      if (pieces.length === 0) this.filterSlot(slot)
      else extra += pieces.length - 1
    }
    const n = this.records.length + extra
    const records = new Array<PipelineRecord>(n)
    const positions = new Array<Buffer>(n)
    const flags = new Uint8Array(n)
    const reasons = this.#reasons ? new Array<NackReason | undefined>(n) : undefined
    let out = 0
    for (let slot = 0; slot < this.records.length; slot++) {
      const pieces = splits.get(slot)
      if (pieces && pieces.length > 0) {
        for (let p = 0; p < pieces.length; p++) {
          records[out] = pieces[p]
          positions[out] = p === pieces.length - 1 ? this.positions[slot] : EMPTY_POSITION
          flags[out] = ACK
          out++
        }
        if (this.#flags[slot] !== ACK && this.#flags[slot] !== FILTER) this.#tainted--
        continue
      }
      records[out] = this.records[slot]
      positions[out] = this.positions[slot]
      flags[out] = this.#flags[slot]
      if (reasons) reasons[out] = this.#reasons![slot]
      out++
    }
    this.records = records
    this.positions = positions
    this.#flags = flags
    this.#reasons = reasons
    this.#active = undefined
  }

  /** Source positions in this batch (empty ones, of split pieces, skipped), in order. */
  sourcePositions(): Buffer[] {
    const out: Buffer[] = []
    for (const p of this.positions) if (p.length > 0) out.push(p)
    return out
  }

  /** How many slots carry a source position. */
  sourcePositionCount(): number {
    let n = 0
    for (const p of this.positions) if (p.length > 0) n++
    return n
  }

  /**
   * Cuts the batch into consecutive runs by status: acks and filters together, nacks, retries. An
   * untainted batch is one run (itself). Retry runs come back with their records reset to ack.
   */
  runs(): Batch[] {
    if (this.#tainted === 0) return [this]
    const out: Batch[] = []
    let start = 0
    const group = (slot: number): RunKind => {
      const f = this.#flags[slot]
      return f === NACK ? 'nack' : f === RETRY ? 'retry' : 'ack'
    }
    for (let slot = 1; slot <= this.records.length; slot++) {
      if (slot < this.records.length && group(slot) === group(start)) continue
      out.push(this.#slice(start, slot, group(start)))
      start = slot
    }
    return out
  }

  /** A copy for one branch of a fan-out: same records and positions, its own statuses. */
  fork(cloneRecords?: (r: PipelineRecord) => PipelineRecord): Batch {
    const records = cloneRecords ? this.records.map(cloneRecords) : this.records.slice()
    return new Batch(records, this.positions.slice(), this.#flags.slice(), this.#reasons?.slice(), this.kind)
  }

  #slice(from: number, to: number, kind: RunKind): Batch {
    const flags = this.#flags.slice(from, to)
    if (kind === 'retry') flags.fill(ACK)
    const reasons = kind === 'nack' ? this.#reasons?.slice(from, to) : undefined
    return new Batch(this.records.slice(from, to), this.positions.slice(from, to), flags, reasons, kind)
  }

  #set(slot: number, flag: number): void {
    const old = this.#flags[slot]
    if (old === FILTER || old === flag) return
    if (old !== ACK) this.#tainted--
    if (flag === FILTER) {
      this.#filtered++
      this.#active = undefined
    } else if (flag !== ACK) this.#tainted++
    this.#flags[slot] = flag
    if (old === NACK && this.#reasons) this.#reasons[slot] = undefined
  }

  #activeMap(): number[] {
    if (this.#active) return this.#active
    const map: number[] = []
    for (let slot = 0; slot < this.#flags.length; slot++) if (this.#flags[slot] !== FILTER) map.push(slot)
    this.#active = map
    return map
  }
}
