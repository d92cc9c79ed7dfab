/**
 * The lease model: a {@link Lease} is a named unit of work (a Kinesis shard, an ingestion job, any
 * key) with at most one owner at a time, a counter that moves on every ownership write, a checkpoint,
 * parents, a pending claim and a closed flag. A {@link LeaseStore} keeps leases and makes every write
 * conditional, so two workers can never both believe they own a lease after a write succeeded.
 *
 * @example
 * ```ts
 * const store = embeddedLeaseStore({ dir: './leases' })
 * await store.init()
 * await store.create('job-1')
 * const [lease] = await store.list()
 * const mine = await store.take(lease, 'worker-a', 10_000)   // conditional on `lease` as observed
 * ```
 * @module
 */

/** One lease row. */
export interface Lease {
  /** The lease key (gokini's `ShardID`). */
  readonly key: string
  /** The worker that holds it, or `undefined` when free (gokini's `AssignedTo`). */
  readonly owner: string | undefined
  /**
   * Moves on every take, renew and release. Expiry is judged by watching this counter locally
   * (Java KCL's `leaseCounter`), never by comparing clocks.
   */
  readonly counter: number
  /**
   * Wall-clock time until which the owner meant to hold the lease (RFC 3339, gokini's
   * `LeaseTimeout`). Written for tools and gokini compatibility; never used to judge expiry.
   */
  readonly timeout: string | undefined
  /** The last checkpoint (gokini's `SequenceID`, vmware-go-kcl's `Checkpoint`). */
  readonly checkpoint: string | undefined
  /** Leases that must be finished before this one starts (shard parents). */
  readonly parents: readonly string[]
  /** A worker that asked to take this lease over; the owner lets go at its next renewal. */
  readonly claim: string | undefined
  /** Finished for good (a shard at `SHARD_END`, a completed job): nobody takes it any more. */
  readonly closed: boolean
}

/** Fields of a new lease row. */
export interface NewLease {
  /** Leases that must be finished before this one starts. */
  readonly parents?: readonly string[]
  /** An initial checkpoint. */
  readonly checkpoint?: string
}

/** Options of a fenced checkpoint write. */
export interface CheckpointOptions {
  /** Also mark the lease closed (finished for good). */
  readonly close?: boolean
}

/**
 * Storage of leases. Every write is conditional on the row as the caller last saw it, and returns
 * the row as written, or `undefined` when the condition failed (someone else wrote first). Errors
 * are thrown only for failures of the store itself.
 *
 * Implementations: {@link DynamoLeaseStore}, {@link PostgresLeaseStore}, {@link EmbeddedLeaseStore}.
 * One conformance suite (`test/lease/conformance.ts`) runs against each.
 */
export interface LeaseStore {
  /** A name for logs and errors (`dynamodb:table`, `postgres:table`, `embedded:dir`). */
  readonly name: string
  /** Creates the table when missing and checks its schema. Idempotent. */
  init(): Promise<void>
  /** Creates a free lease row unless `key` exists. Returns whether it created it. */
  create(key: string, fields?: NewLease): Promise<boolean>
  /** Reads one lease. */
  get(key: string): Promise<Lease | undefined>
  /** Reads every lease (a consistent read per row). */
  list(): Promise<Lease[]>
  /**
   * Takes `observed` for `owner` if the row is still as observed (same counter and owner): sets the
   * owner, moves the counter and clears the claim. The caller decides that `observed` was free,
   * expired, or released to it.
   */
  take(observed: Lease, owner: string, durationMs: number): Promise<Lease | undefined>
  /** Renews a held lease: succeeds only while `held.owner` still owns it at `held.counter` and nobody claimed it. */
  renew(held: Lease, durationMs: number): Promise<Lease | undefined>
  /** Gives a held lease up (owner cleared, counter moved; a pending claim stays for the claimer). */
  release(held: Lease): Promise<Lease | undefined>
  /** Asks for `observed`: sets `claim` if the row is as observed and nobody claimed it yet. */
  claim(observed: Lease, claimer: string): Promise<Lease | undefined>
  /**
   * A fenced checkpoint: writes `checkpoint` only while `held.owner` owns the lease at
   * `held.counter`. Never touches the claim. The counter does not move.
   */
  checkpoint(held: Lease, checkpoint: string, options?: CheckpointOptions): Promise<Lease | undefined>
  /** Deletes a row (tests, clean-up of finished leases). */
  delete(key: string): Promise<void>
  /** Releases connections. */
  close(): Promise<void>
}
