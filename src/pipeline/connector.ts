/**
 * The connector interface: what a source or destination plugin implements, and how plugins are
 * described for the registry (name, zod settings, factories).
 *
 * Conduit's model: a source reads batches of records and is told, in position order, which
 * positions are safely delivered (`ack`); a destination writes a batch and answers one ack per record,
 * in the order written, an ack with an error being a nack. Positions are opaque bytes that only the
 * source that made them interprets.
 *
 * @example
 * ```ts
 * const counter: ConnectorPlugin<{ to: number }> = {
 *   name: 'counter',
 *   summary: 'counts from 0 to `to`',
 *   settings: z.object({ to: z.coerce.number().int().positive() }),
 *   source: (settings, ctx) => new CounterSource(settings.to, ctx.lastPosition),
 * }
 * ```
 * @module
 */
import type { ZodType } from 'zod'
import type { Logger } from '../core/logger.ts'
import type { PipelineRecord } from './record.ts'

/** What the runtime gives a connector when it creates one. */
export interface ConnectorContext {
  /** The pipeline this connector belongs to. */
  readonly pipelineId: string
  /** The connector's id in the pipeline (Conduit: `<pipeline>:<connector>`). */
  readonly connectorId: string
  /** The last position the pipeline acknowledged for this source (stored by the runtime), or null on a first start. */
  readonly lastPosition: Buffer | null
  /** A directory the connector may keep state in (created on demand by the connector). */
  readonly stateDir: string
  readonly logger: Logger
}

/** A source of records. */
export interface Source {
  /** Connects and positions the source; `ctx.lastPosition` (if any) is where the last run's acks ended. */
  open(signal: AbortSignal): Promise<void>
  /**
   * Returns the next batch, waiting until at least one record is available or `signal` aborts
   * (then it returns `[]`). Every record has a non-empty position, unique and increasing in read order.
   */
  read(signal: AbortSignal): Promise<PipelineRecord[]>
  /**
   * Acknowledges delivered records: `positions` are in read order and each one is acked exactly
   * once. Acks never overlap each other, but the runtime reads ahead: `read` may be in progress
   * while `ack` runs. After `ack` returns, a restart never re-reads these positions (log offsets committed,
   * file positions stored, an LSN confirmed).
   */
  ack(positions: readonly Buffer[]): Promise<void>
  /** Releases everything. Called once, after the last `ack`. */
  teardown(): Promise<void>
}

/** The answer of a destination for one record: its position, and the error if it was not written. */
export interface DestinationAck {
  readonly position: Buffer
  readonly error?: Error
}

/** A destination for records. */
export interface Destination {
  open(signal: AbortSignal): Promise<void>
  /**
   * Writes `records` durably and answers one ack per record, in the same order. A record acked
   * without an error is written (and, for durable destinations, will survive a crash); one with an
   * error is nacked and goes to the DLQ. Throwing means nothing of the batch can be counted as
   * written; the runtime retries or stops.
   */
  write(records: readonly PipelineRecord[], signal: AbortSignal): Promise<DestinationAck[]>
  teardown(): Promise<void>
}

/** A connector plugin: a name, settings, and the factories for what it can be. */
export interface ConnectorPlugin<S = unknown> {
  /** The plugin name as used in pipeline files, without `builtin:` or a version (`file`, `generator`, ...). */
  readonly name: string
  /** One line for error messages and `--help`. */
  readonly summary: string
  /** Validates a connector's `settings` map (strings in Conduit files; coerce where Conduit does). */
  readonly settings: ZodType<S>
  source?(settings: S, ctx: ConnectorContext): Source
  destination?(settings: S, ctx: ConnectorContext): Destination
}
