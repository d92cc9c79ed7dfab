/**
 * The `generator` connector plugin (Conduit's `builtin:generator`): a source of made-up records.
 * @example
 * ```yaml
 * connectors:
 *   - id: gen
 *     type: source
 *     plugin: builtin:generator
 *     settings: { format.type: structured, format.options.id: int, recordCount: "1000" }
 * ```
 * @module
 */
import type { ConnectorPlugin } from '../../connector.ts'
import { generatorSettings, type GeneratorSettings } from './settings.ts'
import { GeneratorSource } from './source.ts'

export { generatorSettings, type GeneratorSettings, type CollectionSpec, type FieldSpec, FIELD_TYPES, FORMAT_TYPES, DEFAULT_GENERATOR_BATCH } from './settings.ts'
export { GeneratorSource, parseGeneratorPosition } from './source.ts'

/** The generator plugin. */
export const generatorConnector: ConnectorPlugin<GeneratorSettings> = {
  name: 'generator',
  summary: 'generates records with structured, raw or file payloads, at a rate, in bursts, up to a count',
  settings: generatorSettings,
  source: (settings, ctx) => new GeneratorSource(settings, ctx),
}
