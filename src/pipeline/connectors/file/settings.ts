/**
 * Settings of the `file` connector: Conduit's `path` (required), the destination's
 * `sdk.record.format` (`opencdc/json` or `template`), the source's `sdk.batch.size`, and two
 * Tributary additions for the source: `pollInterval` (how often a tail without new lines looks at
 * the file again, default 100ms; changes reported by the OS wake it sooner) and `maxLineBytes`
 * (default 64 MiB; a longer line is an error).
 * @module
 */
import type { ZodType } from 'zod'
import { readRecordFormat, type RecordFormat } from '../record-format.ts'
import { connectorSettings } from '../settings.ts'

export interface FileSettings {
  readonly path: string
  /** Most records per read (source). */
  readonly batchSize: number
  /** Milliseconds between looks at a file with nothing new (source). */
  readonly pollInterval: number
  /** The longest line the source accepts, in bytes. */
  readonly maxLineBytes: number
  /** The destination's output format. */
  readonly format: RecordFormat
}

/** Default records per read of the file source. */
export const DEFAULT_FILE_BATCH = 10_000

/** The zod schema of the file connector's settings. */
export const fileSettings: ZodType<FileSettings> = connectorSettings((s) => {
  const path = s.required('path')
  const batchSize = s.int('sdk.batch.size', 0, 0) || DEFAULT_FILE_BATCH
  const pollInterval = s.duration('pollInterval', 100)
  const maxLineBytes = s.int('maxLineBytes', 64 * 1024 * 1024, 1)
  const format = readRecordFormat(s, ['opencdc/json', 'template'], 'opencdc/json')
  s.accept('sdk.batch.delay')
  return { path, batchSize, pollInterval: Math.max(1, pollInterval), maxLineBytes, format }
})
