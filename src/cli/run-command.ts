/**
 * `tributary run <file-or-dir>`: runs the pipelines of Conduit-style pipeline files until SIGINT or
 * SIGTERM (a second signal aborts the writes in flight), with a live progress line per pipeline on a
 * terminal and plain lines otherwise, and serves `/v1/pipelines`, `/v1/pipelines/:id` and
 * `/metrics` over HTTP.
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Command } from 'commander'
import { whenAborted } from '../core/backoff.ts'
import { TributaryError } from '../core/errors.ts'
import { createLogger } from '../core/logger.ts'
import type { ConnectorPlugin, PipelineStatus, PluginRegistry, ProcessorPlugin } from '../pipeline/index.ts'
import { hostPort, splitAddress } from './options.ts'
import { untilSignalled } from './stop-signals.ts'

/** Options of {@link runPipelines}. */
export interface RunPipelinesOptions {
  /** A pipeline file or a directory of them. */
  target: string
  /** Default `.tributary/pipelines`. */
  stateDir?: string
  /** `host:port` to serve HTTP on; default 127.0.0.1:8000, trying the next ports when taken. */
  address?: string
  /** Modules exporting `connectors` and/or `processors` arrays of extra plugins. */
  plugins?: string[]
  /** Show the live progress bars (default: when stdout is a TTY). */
  progress?: boolean
  /** Plain progress lines every this many ms when not a TTY (default 5000; 0 = none). */
  intervalMs?: number
  print?: (line: string) => void
}

const HELP = `
Pipeline files are Conduit's YAML v2.x (version, pipelines[] with connectors, processors and
dead-letter-queue); see docs/pipeline.md and examples/pipelines/. Plugin names may carry builtin:
and a version (builtin:file@v0.1.0). "log" is Conduit's logger destination; a Tributary Log is
"tributary-log".

Each source's last acknowledged position is kept in --state-dir and used on restart.
HTTP: GET /v1/pipelines, /v1/pipelines/:id (state, counters, last error), /metrics.
SIGINT/SIGTERM stop gracefully (the batch in flight is finished and acknowledged); a second signal aborts.`

/** Builds the `run` command. */
export function runCommand(): Command {
  return new Command('run')
    .description('run the pipelines of a pipeline file (or every .yaml in a directory) until stopped')
    .argument('<file-or-dir>', 'a pipeline file or a directory of them')
    .option('--state-dir <dir>', 'where source positions and connector state are kept', '.tributary/pipelines')
    .option('-a, --address <host:port>', 'serve HTTP here (default 127.0.0.1:8000, or the next free port)', hostPort)
    .option('--plugins <module...>', 'modules exporting extra `connectors` / `processors` plugin arrays')
    .option('--check', 'validate the files, print the pipelines and exit')
    .option('--no-progress', 'plain progress lines even on a terminal')
    .addHelpText('after', HELP)
    .action(async (target: string, opts: { stateDir: string; address?: string; plugins?: string[]; check?: boolean; progress: boolean }) => {
      if (opts.check) {
        const registry = await loadRegistry(opts.plugins ?? [])
        const { PipelineService } = await import('../pipeline/index.ts')
        const service = PipelineService.fromFiles(target, { registry, metrics: false })
        for (const w of service.warnings) console.error(`warning: ${w}`)
        for (const s of service.list()) console.log(describe(s))
        return
      }
      await untilSignalled((stop, hardStop) => runPipelines({ target, stateDir: opts.stateDir, address: opts.address, plugins: opts.plugins, progress: opts.progress && process.stdout.isTTY === true }, stop, hardStop))
    })
}

async function loadRegistry(modules: readonly string[]): Promise<PluginRegistry> {
  const { PluginRegistry } = await import('../pipeline/index.ts') // loaded on use: other commands start without it
  const registry = new PluginRegistry()
  for (const m of modules) {
    let mod: { connectors?: ConnectorPlugin<any>[]; processors?: ProcessorPlugin<any>[] }
    try {
      mod = (await import(pathToFileURL(path.resolve(m)).href)) as typeof mod
    } catch (err) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `--plugins ${m}: cannot load the module: ${(err as Error).message}`, { cause: err })
    }
    if (!mod.connectors && !mod.processors) throw new TributaryError('TRIB_INVALID_ARGUMENT', `--plugins ${m}: the module exports neither connectors nor processors`)
    for (const c of mod.connectors ?? []) registry.registerConnector(c)
    for (const p of mod.processors ?? []) registry.registerProcessor(p)
  }
  return registry
}

function describe(s: PipelineStatus): string {
  const procs = s.processors.map((p) => p.plugin).join(' → ')
  const dests = s.destinations.map((d) => `${d.processors.length > 0 ? `${d.processors.map((p) => p.plugin).join(' → ')} → ` : ''}${d.plugin} (${d.id})`).join(', ')
  return `${s.file}: pipeline ${s.id} [${s.config}]: ${s.source.plugin} (${s.source.id})${procs ? ` → ${procs}` : ''} → ${dests}; DLQ ${s.dlq.plugin} window ${s.dlq.windowSize} threshold ${s.dlq.windowNackThreshold}`
}

/** Formats a count with thousands separators. */
const fmt = (n: number): string => n.toLocaleString('en')

/** One line of counters for a pipeline: state, read (rate), written, filtered, nacked, DLQ, in flight. */
export function progressLine(s: PipelineStatus, perSec: number): string {
  const c = s.counters
  const err = s.state === 'running' || !s.lastError ? '' : `  last error: ${s.lastError.message}`
  return `${s.id} [${s.state}] read ${fmt(c.read)} (${fmt(Math.round(perSec))}/s)  written ${fmt(c.written)}  filtered ${fmt(c.filtered)}  nacked ${fmt(c.nacked)}  dlq ${fmt(c.dlq)}  in-flight ${fmt(c.inFlight)}${err}`
}

/** Runs pipelines until `signal` aborts (gracefully) or `hardStop` aborts (at once). */
export async function runPipelines(options: RunPipelinesOptions, signal: AbortSignal, hardStop?: AbortSignal): Promise<void> {
  const print = options.print ?? ((line: string) => console.log(line))
  const registry = await loadRegistry(options.plugins ?? [])
  const [{ PipelineService, pipelineRoutes }, { startHttpServer }] = await Promise.all([import('../pipeline/index.ts'), import('../server/index.ts')])
  const logger = createLogger({ name: 'tributary', level: process.env.TRIBUTARY_LOG_LEVEL ?? (options.progress ? 'warn' : 'info') })
  const service = PipelineService.fromFiles(options.target, { registry, stateDir: options.stateDir, logger })
  fs.mkdirSync(options.stateDir ?? '.tributary/pipelines', { recursive: true }) // also makes .tributary, where the examples write
  for (const w of service.warnings) print(`warning: ${w}`)
  const { host, port } = splitAddress(options.address)
  const server = await startHttpServer({ host, port, portFallback: options.address === undefined, routes: [pipelineRoutes(service, { metrics: true })] })
  service.start()
  const ids = [...service.runners.keys()]
  print(`tributary run: ${ids.length} pipeline(s) from ${options.target} (${ids.join(', ')}); HTTP ${server.url}/v1/pipelines, metrics ${server.url}/metrics`)
  for (const s of service.list()) print(describe(s))

  const last = new Map<string, { read: number; at: number }>()
  const rates = (): Map<string, number> => {
    const now = Date.now()
    const out = new Map<string, number>()
    for (const s of service.list()) {
      const prev = last.get(s.id)
      out.set(s.id, prev && now > prev.at ? ((s.counters.read - prev.read) * 1000) / (now - prev.at) : 0)
      last.set(s.id, { read: s.counters.read, at: now })
    }
    return out
  }
  let stopProgress = (): void => {}
  if (options.progress) {
    const { MultiBar, Presets } = await import('cli-progress')
    const multibar = new MultiBar({ format: '{line}', hideCursor: true, clearOnComplete: false, stopOnComplete: false, barsize: 0, fps: 4 }, Presets.legacy)
    const bars = new Map(service.list().map((s) => [s.id, multibar.create(1, 0, { line: progressLine(s, 0) })]))
    const timer = setInterval(() => {
      const r = rates()
      for (const s of service.list()) bars.get(s.id)?.update(0, { line: progressLine(s, r.get(s.id) ?? 0) })
    }, 500)
    stopProgress = () => {
      clearInterval(timer)
      const r = rates()
      for (const s of service.list()) bars.get(s.id)?.update(0, { line: progressLine(s, r.get(s.id) ?? 0) })
      multibar.stop()
    }
  } else if ((options.intervalMs ?? 5_000) > 0) {
    const timer = setInterval(() => {
      const r = rates()
      for (const s of service.list()) print(progressLine(s, r.get(s.id) ?? 0))
    }, options.intervalMs ?? 5_000)
    timer.unref()
    stopProgress = () => clearInterval(timer)
  }

  try {
    await whenAborted(signal)
    print('tributary run: stopping (finishing the batches in flight; a second signal aborts)')
    const graceful = service.stop()
    if (hardStop) {
      const aborted = whenAborted(hardStop).then(async () => {
        print('tributary run: aborting')
        await service.abort()
      })
      await Promise.race([graceful, aborted])
    } else await graceful
  } finally {
    stopProgress()
    await server.close()
    await service.close()
  }
  for (const s of service.list()) print(`${progressLine(s, 0).replace(/ \(0\/s\)/, '')}`)
}
