/**
 * The builtin connector plugins, looked up by name by the pipeline runtime.
 * @module
 */
import type { ConnectorPlugin } from '../connector.ts'

/** Every builtin connector plugin. */
export const builtinConnectors: readonly ConnectorPlugin<any>[] = []
