/**
 * Plugin lookup by the names pipeline files use. `builtin:` prefixes and versions are accepted and
 * ignored (`builtin:file@v0.1.0` is `file`); `standalone:` plugins do not exist here. The builtin
 * connectors and processors are always there; code can add its own plugins.
 *
 * Names: `log` (or `builtin:log`) is Conduit's logger destination; Tributary's connector for its own
 * `Log` is `tributary-log`.
 *
 * @example
 * ```ts
 * const registry = createRegistry({ connectors: [myConnector] })
 * registry.connector('builtin:file@v0.1.0')   // the file plugin
 * registry.registerProcessor(myProcessor)
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import type { ConnectorPlugin } from './connector.ts'
import { builtinConnectors } from './connectors/index.ts'
import type { ProcessorPlugin } from './processor.ts'
import { builtinProcessors } from './processors/index.ts'

/** A plugin name without `builtin:` and version: `builtin:file@v0.1.0` → `file`. Throws for `standalone:` names. */
export function normalizePluginName(name: string): string {
  let n = name.trim()
  if (n.startsWith('standalone:')) throw new TributaryError('TRIB_INVALID_ARGUMENT', `plugin ${JSON.stringify(name)}: standalone (WASM/gRPC) plugins are not supported; use a builtin plugin or register one from code`)
  if (n.startsWith('builtin:')) n = n.slice('builtin:'.length)
  const at = n.indexOf('@')
  if (at >= 0) n = n.slice(0, at)
  return n
}

/** The plugins a pipeline can name. */
export class PluginRegistry {
  readonly #connectors = new Map<string, ConnectorPlugin<any>>()
  readonly #processors = new Map<string, ProcessorPlugin<any>>()

  constructor(options: { connectors?: readonly ConnectorPlugin<any>[]; processors?: readonly ProcessorPlugin<any>[]; builtins?: boolean } = {}) {
    if (options.builtins ?? true) {
      for (const p of builtinConnectors) this.#connectors.set(p.name, p)
      for (const p of builtinProcessors) this.#processors.set(p.name, p)
    }
    for (const p of options.connectors ?? []) this.registerConnector(p)
    for (const p of options.processors ?? []) this.registerProcessor(p)
  }

  /** Adds (or replaces) a connector plugin. */
  registerConnector(plugin: ConnectorPlugin<any>): this {
    this.#connectors.set(normalizePluginName(plugin.name), plugin)
    return this
  }

  /** Adds (or replaces) a processor plugin. */
  registerProcessor(plugin: ProcessorPlugin<any>): this {
    this.#processors.set(normalizePluginName(plugin.name), plugin)
    return this
  }

  /** The connector plugin `name` (any accepted spelling), or undefined. */
  connector(name: string): ConnectorPlugin<any> | undefined {
    return this.#connectors.get(normalizePluginName(name))
  }

  /** The processor plugin `name` (any accepted spelling), or undefined. */
  processor(name: string): ProcessorPlugin<any> | undefined {
    return this.#processors.get(normalizePluginName(name))
  }

  /** Names of connector plugins that can be a source (`kind` source) or a destination. */
  connectorNames(kind?: 'source' | 'destination'): string[] {
    return [...this.#connectors.values()].filter((p) => (kind === undefined ? true : kind === 'source' ? p.source : p.destination)).map((p) => p.name).sort()
  }

  processorNames(): string[] {
    return [...this.#processors.keys()].sort()
  }
}

/** A registry with the builtin plugins plus `extra` ones. */
export function createRegistry(extra: { connectors?: readonly ConnectorPlugin<any>[]; processors?: readonly ProcessorPlugin<any>[] } = {}): PluginRegistry {
  return new PluginRegistry(extra)
}
