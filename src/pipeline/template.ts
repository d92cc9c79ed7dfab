/**
 * Conduit's Go-template subset over a record (`{{ .Payload.After.x }}`, `eq`, `ne`, `and`, `or`,
 * `not`, `printf`, `index`), for `field.set` values, processor `condition`s and destination
 * table names.
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import type { PipelineRecord } from './record.ts'

/** A compiled template: renders a record to a string. */
export type RecordTemplate = (record: PipelineRecord) => string

/**
 * Compiles `source`; `where` names the setting for error messages (`processors[2].settings.value`).
 * Anything outside the supported subset is a `TRIB_PIPELINE_CONFIG` error naming `where`.
 */
export function compileTemplate(source: string, where: string): RecordTemplate {
  throw new TributaryError('TRIB_INVALID_ARGUMENT', `${where}: templates are not available yet (${source})`)
}

/** Compiles a processor `condition`: true when the rendered template is `true` (Conduit's rule). */
export function compileCondition(source: string, where: string): (record: PipelineRecord) => boolean {
  const template = compileTemplate(source, where)
  return (record) => template(record) === 'true'
}
