/**
 * Positions of the PostgreSQL source, as small JSON documents (readable in DLQ metadata and logs):
 *
 * - `{"m":"snapshot","t":"users","r":1042}` — row 1042 of table `users` in the initial snapshot;
 * - `{"m":"cdc","lsn":"0/16B3748","seq":3}` — the third change of the transaction that commits at
 *   that LSN (changes arrive in commit order, so `(lsn, seq)` increases in read order);
 * - `{"m":"poll","v":{"users":"1042"}}` — long polling: the last ordering value read per table.
 *
 * @example
 * ```ts
 * const pos = encodePosition({ m: 'cdc', lsn: '0/16B3748', seq: 3 })
 * decodePosition(pos)   // { m: 'cdc', lsn: '0/16B3748', seq: 3 }
 * ```
 * @module
 */
import { TributaryError } from '../../../core/errors.ts'
import { parseLsn } from './pgoutput.ts'

/** A position of the snapshot phase. */
export interface SnapshotPosition {
  m: 'snapshot'
  /** The table (its `opencdc.collection`). */
  t: string
  /** 1-based row number in the table's snapshot. */
  r: number
}

/** A position in the logical replication stream. */
export interface CdcPosition {
  m: 'cdc'
  /** Commit LSN of the change's transaction. */
  lsn: string
  /** 1-based index of the change in its transaction. */
  seq: number
}

/** A position of long polling. */
export interface PollPosition {
  m: 'poll'
  /** Per table, the ordering column's last value read (PostgreSQL text). */
  v: { [table: string]: string }
  /** Per table, the largest ordering value when polling started: rows up to it are the snapshot. */
  s?: { [table: string]: string | null }
}

/** Any position of the source. */
export type SourcePosition = SnapshotPosition | CdcPosition | PollPosition

/** The bytes of a position. */
export function encodePosition(position: SourcePosition): Buffer {
  return Buffer.from(JSON.stringify(position))
}

/** Parses a position this source made; throws `TRIB_INVALID_ARGUMENT` for anything else. */
export function decodePosition(bytes: Buffer): SourcePosition {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    value = null
  }
  const v = value as { m?: unknown } | null
  if (v !== null && typeof v === 'object' && (v.m === 'snapshot' || v.m === 'cdc' || v.m === 'poll')) return v as SourcePosition
  throw new TributaryError('TRIB_INVALID_ARGUMENT', `postgres source: position ${bytes.toString('utf8').slice(0, 80)} was not made by the postgres source`)
}

/** Compares two CDC positions: negative when `a` comes first. */
export function compareCdc(a: { lsn: string; seq: number }, b: { lsn: string; seq: number }): number {
  const la = parseLsn(a.lsn)
  const lb = parseLsn(b.lsn)
  if (la !== lb) return la < lb ? -1 : 1
  return a.seq - b.seq
}
