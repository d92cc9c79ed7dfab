/**
 * The builtin connector plugins, looked up by name by the pipeline runtime:
 *
 * | name | Conduit's | roles |
 * |---|---|---|
 * | `generator` | `builtin:generator` | source |
 * | `file` | `builtin:file` | source, destination |
 * | `kafka` | `builtin:kafka` | source, destination |
 * | `log` | `builtin:log` | destination (records to the logger) |
 * | `tributary-log` | — | source, destination (a Tributary Log by URL) |
 *
 * See docs/pipeline-connectors.md for every setting.
 * @module
 */
import type { ConnectorPlugin } from '../connector.ts'
import { fileConnector } from './file/plugin.ts'
import { generatorConnector } from './generator/plugin.ts'
import { kafkaConnector } from './kafka/plugin.ts'
import { logConnector } from './logger/plugin.ts'
import { tributaryLogConnector } from './tributary-log/plugin.ts'

export { fileConnector, generatorConnector, kafkaConnector, logConnector, tributaryLogConnector }
export { registerLog } from './tributary-log/plugin.ts'
export { parseConnectorSettings, connectorSettings, parseGoDuration, SDK_SETTINGS, type SettingsReader } from './settings.ts'
export { conduitRecordJson, conduitDataBytes, goJson } from './opencdc-json.ts'

/** Every builtin connector plugin. */
export const builtinConnectors: readonly ConnectorPlugin<any>[] = [generatorConnector, fileConnector, kafkaConnector, logConnector, tributaryLogConnector]
