/**
 * The lease write rules as pure functions over rows: each takes the stored row and returns the row
 * to write, or `undefined` when its condition fails. Stores without conditional expressions (the
 * embedded store) run them inside one transaction; the DynamoDB and PostgreSQL stores express the
 * same conditions in their own languages, and the conformance suite holds all three to them.
 * @module
 */
import type { Lease, NewLease } from './types.ts'

/** RFC 3339 time `durationMs` from now (gokini's `LeaseTimeout`). */
export function leaseTimeout(durationMs: number, now = Date.now()): string {
  return new Date(now + durationMs).toISOString()
}

/** A fresh, free lease row. */
export function newLease(key: string, fields: NewLease = {}): Lease {
  return { key, owner: undefined, counter: 0, timeout: undefined, checkpoint: fields.checkpoint, parents: [...(fields.parents ?? [])], claim: undefined, closed: false }
}

/** The row with every field present (stores that drop `undefined` fields read back through this). */
export function normalizeLease(row: Lease): Lease {
  return {
    key: row.key,
    owner: row.owner ?? undefined,
    counter: row.counter ?? 0,
    timeout: row.timeout ?? undefined,
    checkpoint: row.checkpoint ?? undefined,
    parents: [...(row.parents ?? [])],
    claim: row.claim ?? undefined,
    closed: row.closed ?? false,
  }
}

/** Whether `row` is still as `observed` (same owner and counter). */
export function unchanged(row: Lease | undefined, observed: Lease): row is Lease {
  return row !== undefined && row.owner === observed.owner && row.counter === observed.counter
}

export function takeRow(row: Lease | undefined, observed: Lease, owner: string, durationMs: number): Lease | undefined {
  if (!unchanged(row, observed)) return undefined
  return { ...row, owner, counter: row.counter + 1, timeout: leaseTimeout(durationMs), claim: undefined }
}

export function renewRow(row: Lease | undefined, held: Lease, durationMs: number): Lease | undefined {
  if (!unchanged(row, held) || held.owner === undefined || row.claim !== undefined) return undefined
  return { ...row, counter: row.counter + 1, timeout: leaseTimeout(durationMs) }
}

export function releaseRow(row: Lease | undefined, held: Lease): Lease | undefined {
  if (!unchanged(row, held) || held.owner === undefined) return undefined
  return { ...row, owner: undefined, counter: row.counter + 1, timeout: undefined }
}

export function claimRow(row: Lease | undefined, observed: Lease, claimer: string): Lease | undefined {
  if (!unchanged(row, observed) || row.claim !== undefined) return undefined
  return { ...row, claim: claimer }
}

export function checkpointRow(row: Lease | undefined, held: Lease, checkpoint: string, close: boolean): Lease | undefined {
  if (!unchanged(row, held) || held.owner === undefined) return undefined
  return { ...row, checkpoint, closed: row.closed || close }
}
