/**
 * A decoder for PostgreSQL's `pgoutput` logical replication messages (protocol version 1), with
 * column values mapped by the connector's type mapping ({@link decodeText}), plus LSN helpers.
 *
 * @example
 * ```ts
 * const decoder = new PgoutputDecoder(arrayTypes)
 * const msg = decoder.decode(xlogData)   // { tag: 'insert', relation, after: { id: 1, ... } } | ...
 * ```
 * @module
 */
import { TributaryError } from '../../../core/errors.ts'
import { BUILTIN_ARRAYS, decodeText } from './types.ts'

/** An LSN as a number (64 bits). */
export type Lsn = bigint

/** Parses `16/B374D848`. */
export function parseLsn(text: string): Lsn {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text)
  if (m === null) throw new TributaryError('TRIB_INVALID_ARGUMENT', `not an LSN: ${text}`)
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`)
}

/** Formats an LSN as PostgreSQL does (`16/B374D848`). */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
}

/** One column of a relation. */
export interface RelationColumn {
  readonly name: string
  readonly typeOid: number
  /** Part of the replica identity. */
  readonly key: boolean
}

/** A table as the replication stream describes it. */
export interface Relation {
  readonly oid: number
  readonly schema: string
  readonly name: string
  /** `d` default, `n` nothing, `f` full, `i` index. */
  readonly replicaIdentity: string
  readonly columns: readonly RelationColumn[]
}

/** A row: column name → mapped value; `undefined` for an unchanged TOAST value that was not sent. */
export type Row = { [column: string]: unknown }

/** The decoded messages the source acts on. */
export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: Lsn; commitTimeMicros: bigint; xid: number }
  | { tag: 'commit'; commitLsn: Lsn; endLsn: Lsn; commitTimeMicros: bigint }
  | { tag: 'relation'; relation: Relation }
  | { tag: 'insert'; relation: Relation; after: Row }
  | { tag: 'update'; relation: Relation; before: Row | null; keyOnly: boolean; after: Row }
  | { tag: 'delete'; relation: Relation; before: Row; keyOnly: boolean }
  | { tag: 'truncate'; relations: Relation[] }
  | { tag: 'other' }

/** Decodes `pgoutput` messages; keeps the relations it has been told about. */
export class PgoutputDecoder {
  readonly #relations = new Map<number, Relation>()
  readonly #arrays: ReadonlyMap<number, number>
  #buf: Buffer = Buffer.alloc(0)
  #at = 0

  /** `arrays` maps array type OIDs to element OIDs beyond the built-in ones. */
  constructor(arrays: ReadonlyMap<number, number> = new Map()) {
    this.#arrays = arrays
  }

  /** Decodes one message (the payload of an XLogData frame). */
  decode(buf: Buffer): PgoutputMessage {
    this.#buf = buf
    this.#at = 1
    switch (buf[0]) {
      case 0x42: // B
        return { tag: 'begin', finalLsn: this.#u64(), commitTimeMicros: this.#i64(), xid: this.#i32() }
      case 0x43: // C
        this.#at++ // flags
        return { tag: 'commit', commitLsn: this.#u64(), endLsn: this.#u64(), commitTimeMicros: this.#i64() }
      case 0x52: {
        // R
        const oid = this.#i32()
        const schema = this.#str()
        const name = this.#str()
        const replicaIdentity = String.fromCharCode(this.#u8())
        const n = this.#i16()
        const columns: RelationColumn[] = []
        for (let i = 0; i < n; i++) {
          const flags = this.#u8()
          const colName = this.#str()
          const typeOid = this.#i32()
          this.#i32() // typmod
          columns.push({ name: colName, typeOid, key: (flags & 1) === 1 })
        }
        const relation = { oid, schema, name, replicaIdentity, columns }
        this.#relations.set(oid, relation)
        return { tag: 'relation', relation }
      }
      case 0x49: {
        // I
        const relation = this.#relation()
        this.#at++ // 'N'
        return { tag: 'insert', relation, after: this.#tuple(relation, null) }
      }
      case 0x55: {
        // U
        const relation = this.#relation()
        let kind = this.#u8()
        let before: Row | null = null
        let keyOnly = false
        if (kind === 0x4b || kind === 0x4f) {
          keyOnly = kind === 0x4b
          before = this.#tuple(relation, null)
          kind = this.#u8()
        }
        return { tag: 'update', relation, before, keyOnly, after: this.#tuple(relation, before) }
      }
      case 0x44: {
        // D
        const relation = this.#relation()
        const kind = this.#u8()
        return { tag: 'delete', relation, before: this.#tuple(relation, null), keyOnly: kind === 0x4b }
      }
      case 0x54: {
        // T
        const n = this.#i32()
        this.#at++ // options
        const relations: Relation[] = []
        for (let i = 0; i < n; i++) relations.push(this.#relationById(this.#i32()))
        return { tag: 'truncate', relations }
      }
      default:
        return { tag: 'other' } // origin, type, message
    }
  }

  #relation(): Relation {
    return this.#relationById(this.#i32())
  }

  #relationById(oid: number): Relation {
    const relation = this.#relations.get(oid)
    if (relation === undefined) throw new TributaryError('TRIB_POSTGRES_REPLICATION', `pgoutput: a change for relation ${oid} before its relation message`)
    return relation
  }

  #tuple(relation: Relation, unchangedFrom: Row | null): Row {
    const n = this.#i16()
    const row: Row = {}
    for (let i = 0; i < n; i++) {
      const column = relation.columns[i]
      const kind = this.#u8()
      if (column === undefined) throw new TributaryError('TRIB_POSTGRES_REPLICATION', `pgoutput: a tuple of ${relation.name} with more columns than its relation`)
      if (kind === 0x6e) {
        row[column.name] = null // n
      } else if (kind === 0x75) {
        row[column.name] = unchangedFrom?.[column.name] // u: unchanged TOAST
      } else {
        const len = this.#i32()
        const text = this.#buf.toString('utf8', this.#at, this.#at + len)
        this.#at += len
        row[column.name] = decodeText(column.typeOid, text, BUILTIN_ARRAYS.get(column.typeOid) ?? this.#arrays.get(column.typeOid) ?? 0)
      }
    }
    return row
  }

  #u8(): number {
    return this.#buf.readUInt8(this.#at++)
  }
  #i16(): number {
    const v = this.#buf.readInt16BE(this.#at)
    this.#at += 2
    return v
  }
  #i32(): number {
    const v = this.#buf.readInt32BE(this.#at)
    this.#at += 4
    return v
  }
  #u64(): bigint {
    const v = this.#buf.readBigUInt64BE(this.#at)
    this.#at += 8
    return v
  }
  #i64(): bigint {
    const v = this.#buf.readBigInt64BE(this.#at)
    this.#at += 8
    return v
  }
  #str(): string {
    const end = this.#buf.indexOf(0, this.#at)
    const s = this.#buf.toString('utf8', this.#at, end)
    this.#at = end + 1
    return s
  }
}
