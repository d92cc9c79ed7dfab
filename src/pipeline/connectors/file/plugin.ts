/**
 * The `file` connector plugin (Conduit's `builtin:file`): a source that tails a file line by line,
 * and a destination that appends one OpenCDC JSON record per line, synced before it acknowledges.
 * @example
 * ```yaml
 * connectors:
 *   - { id: in, type: source, plugin: builtin:file, settings: { path: ./in.txt } }
 *   - { id: out, type: destination, plugin: builtin:file, settings: { path: ./out.jsonl } }
 * ```
 * @module
 */
import type { ConnectorPlugin } from '../../connector.ts'
import { FileDestination } from './destination.ts'
import { fileSettings, type FileSettings } from './settings.ts'
import { FileSource } from './source.ts'

export { fileSettings, type FileSettings, DEFAULT_FILE_BATCH } from './settings.ts'
export { FileSource, parseFilePosition, METADATA_FILE_PATH } from './source.ts'
export { FileDestination } from './destination.ts'

/** The file plugin. */
export const fileConnector: ConnectorPlugin<FileSettings> = {
  name: 'file',
  summary: 'tails a file line by line (source); appends OpenCDC JSON lines, synced per batch (destination)',
  settings: fileSettings,
  source: (settings, ctx) => new FileSource(settings, ctx),
  destination: (settings, ctx) => new FileDestination(settings, ctx),
}
