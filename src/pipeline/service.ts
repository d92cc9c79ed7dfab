/**
 * The pipeline service: every pipeline loaded from files, each run by a {@link PipelineRunner};
 * what `tributary run` and the HTTP routes use.
 *
 * @example
 * ```ts
 * const service = PipelineService.fromFiles('examples/pipelines', { stateDir: '.tributary/pipelines' })
 * service.start()             // pipelines with status: running
 * service.list()              // statuses, counters, last errors
 * await service.stop()
 * ```
 * @module
 */
import { loadPipelineFiles, type PipelineSpec } from './config.ts'
import { registerPipelineMetrics } from './metrics.ts'
import { PluginRegistry } from './registry.ts'
import { PipelineRunner, type PipelineRunnerOptions, type PipelineStatus } from './runner.ts'

/** Options of a {@link PipelineService}. */
export interface PipelineServiceOptions extends PipelineRunnerOptions {
  registry?: PluginRegistry
}

/** Runs a set of pipelines. */
export class PipelineService {
  readonly runners: ReadonlyMap<string, PipelineRunner>
  /** Warnings from loading the files (unknown fields, deprecated names). */
  readonly warnings: readonly string[]
  #unregister: (() => void) | undefined

  constructor(specs: readonly PipelineSpec[], options: PipelineServiceOptions = {}, warnings: readonly string[] = []) {
    this.runners = new Map(specs.map((s) => [s.id, new PipelineRunner(s, options)]))
    this.warnings = warnings
    if (options.metrics !== false) this.#unregister = registerPipelineMetrics({ pipelines: () => [...this.runners.values()].map((r) => ({ id: r.id, state: r.state, counters: r.counters })) })
  }

  /** Loads `fileOrDir` (see {@link loadPipelineFiles}) and makes a service of its pipelines. */
  static fromFiles(fileOrDir: string, options: PipelineServiceOptions = {}): PipelineService {
    const loaded = loadPipelineFiles(fileOrDir, options.registry ?? new PluginRegistry())
    return new PipelineService(loaded.pipelines, options, loaded.warnings)
  }

  /** Starts every pipeline whose configured status is running. */
  start(): void {
    for (const r of this.runners.values()) if (r.spec.status === 'running') r.start()
  }

  /** Stops every pipeline gracefully. */
  async stop(): Promise<void> {
    await Promise.all([...this.runners.values()].map((r) => r.stop()))
  }

  /** Stops every pipeline at once (a second signal). */
  async abort(): Promise<void> {
    await Promise.all([...this.runners.values()].map((r) => r.abort()))
  }

  /** Stops and releases the metrics registration. */
  async close(): Promise<void> {
    await this.stop()
    this.#unregister?.()
    this.#unregister = undefined
  }

  get(id: string): PipelineRunner | undefined {
    return this.runners.get(id)
  }

  list(): PipelineStatus[] {
    return [...this.runners.values()].map((r) => r.status())
  }
}
