/**
 * The processor interface: what a pipeline processor plugin implements (Conduit's
 * `sdk.Processor`), and the four outcomes it may give a record.
 *
 * `process` gets the batch's active records and returns one outcome per record, in order:
 * the record itself (possibly changed), {@link filterRecord}, {@link errorRecord} or
 * {@link multiRecord}. Returning fewer outcomes than records marks the rest for retry; returning
 * none is an error.
 *
 * @example
 * ```ts
 * const upper: ProcessorPlugin<{ field: string }> = {
 *   name: 'upper',
 *   summary: 'upper-cases one field',
 *   settings: z.object({ field: z.string() }),
 *   create: (s) => ({ process: (recs) => recs.map((r) => ({ ...r, key: Buffer.from(String(r.key).toUpperCase()) })) }),
 * }
 * ```
 * @module
 */
import type { ZodType } from 'zod'
import type { Logger } from '../core/logger.ts'
import type { PipelineRecord } from './record.ts'

/** The record is dropped from the stream (and acked with its neighbours). */
export interface FilterRecord {
  readonly kind: 'filter'
}

/** The record failed; it is nacked and goes to the DLQ with this error. */
export interface ErrorRecord {
  readonly kind: 'error'
  readonly error: Error
}

/** The record became several; they are acked through the original's position. */
export interface MultiRecord {
  readonly kind: 'multi'
  readonly records: PipelineRecord[]
}

/** One outcome of {@link PipelineProcessor.process}. */
export type ProcessedRecord = PipelineRecord | FilterRecord | ErrorRecord | MultiRecord

const FILTERED: FilterRecord = Object.freeze({ kind: 'filter' })

/** The outcome that filters a record out. */
export function filterRecord(): FilterRecord {
  return FILTERED
}

/** The outcome that nacks a record with `error`. */
export function errorRecord(error: Error): ErrorRecord {
  return { kind: 'error', error }
}

/** The outcome that splits a record into `records`. */
export function multiRecord(records: PipelineRecord[]): MultiRecord {
  return { kind: 'multi', records }
}

/** True when an outcome is a (single) record rather than a filter, error or split. */
export function isSingleRecord(outcome: ProcessedRecord): outcome is PipelineRecord {
  return !('kind' in outcome)
}

/** What the runtime gives a processor when it creates one. */
export interface ProcessorContext {
  readonly pipelineId: string
  /** The processor's id in the pipeline file. */
  readonly processorId: string
  readonly logger: Logger
}

/** A processor instance. */
export interface PipelineProcessor {
  open?(signal: AbortSignal): Promise<void>
  /** One outcome per record, in order (see the module docs). May be sync or async. */
  process(records: readonly PipelineRecord[], signal: AbortSignal): ProcessedRecord[] | Promise<ProcessedRecord[]>
  teardown?(): Promise<void>
}

/** A processor plugin: a name, settings, and a factory. */
export interface ProcessorPlugin<S = unknown> {
  /** The plugin name as used in pipeline files, without `builtin:` or a version (`field.set`, ...). */
  readonly name: string
  readonly summary: string
  /** Validates a processor's `settings` map (strings in Conduit files; coerce where Conduit does). */
  readonly settings: ZodType<S>
  /**
   * Makes an instance without I/O (that belongs in `open`). Settings it refuses throw
   * `TRIB_PIPELINE_CONFIG` naming the setting (`setting "value": ...`). It is also called once when
   * a pipeline file is loaded, with a silent logger, so such errors show at load time (and in
   * `tributary run --check`); that instance is dropped without `open` or `teardown`.
   */
  create(settings: S, ctx: ProcessorContext): PipelineProcessor
}
