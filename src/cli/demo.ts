/**
 * `tributary demo` (also `npm start`): the main job on the embedded log, and a page to watch it.
 *
 * The demo is a list of parts (demo-part.ts): the click counter (two processor instances and a
 * view, demo-clicks.ts), a pipeline with a dead-letter queue (demo-pipeline.ts) and the lag monitor
 * (demo-lag.ts). After the first batch is
 * counted and checked, one HTTP server serves the start page (`/`, demo-page.ts), the view
 * (`/users/:user`), the lag dashboard and Burrow's API (`/lag/`) on http://127.0.0.1:8000 (the next
 * free port when taken), and live clicks keep flowing until Ctrl-C. With `once`, the demo fetches a
 * few users' counts over HTTP, checks them, and stops: the run-and-exit form for scripts and tests.
 * @module
 */
import path from 'node:path'
import { whenAborted } from '../core/backoff.ts'
import { createLogger } from '../core/logger.ts'
import { openLog, parseLogUrl } from '../log/index.ts'
import { startHttpServer, type HttpServer } from '../server/index.ts'
import type { StoreBuilder } from '../state/index.ts'
import { CLICKS_GROUP, CLICKS_TOPIC, startClickCounter } from './demo-clicks.ts'
import { startLagMonitor } from './demo-lag.ts'
import { demoPageRoutes } from './demo-page.ts'
import type { DemoPipelineResult } from './demo-pipeline.ts'
import { waiter, type DemoContext, type DemoPart } from './demo-part.ts'
import { DEMO_PORT } from './options.ts'

/** Options of {@link runDemo}. */
export interface DemoOptions {
  log: string
  /** Click events in the first batch. */
  records: number
  /** Run the steps, check them over HTTP and return; no live traffic, no waiting for Ctrl-C. */
  once?: boolean
  /** Interface to serve on. Default 127.0.0.1. */
  host?: string
  /** Port to serve on. Default 8000 (with `once`: any free port). */
  port?: number
  /** When the port is taken, serve on the next free one. Default: true when `port` is not given and not `once`. */
  portFallback?: boolean
  /** Live clicks per second while serving. Default 20. */
  rate?: number
  /** Stops a serving demo (the CLI aborts it on Ctrl-C). */
  signal?: AbortSignal
  /** Where lines go (console.log by default). */
  print?: (line: string) => void
  /** Give up on the first steps after this long (ms). */
  timeoutMs?: number
}

/** What the demo did. */
export interface DemoResult {
  produced: number
  consumed: { member: string; records: number; partitions: number[] }[]
  /** Clicks per user fetched over HTTP. */
  fetched: { user: string; clicks: number }[]
  /** Sum of the table's counts; equals the events in the topic. */
  tableTotal: number
  /** Where the demo served. */
  url: string
  /** What the demo pipeline delivered and dead-lettered (undefined when its connectors are missing). */
  pipeline?: DemoPipelineResult
}

/** The demo pipeline's outcome as a part of the start page. */
function pipelinePart(result: DemoPipelineResult): DemoPart {
  const dlq = result.deadLettered
  return {
    name: 'pipeline',
    status: () => ({
      pipeline: 'demo-pipeline: generator → demo.reject → tributary-log, DLQ to a file',
      generated: result.generated,
      delivered: result.delivered,
      'dead-lettered': dlq.length,
      'DLQ positions': dlq.map((d) => d.position).join(', '),
      'DLQ error (first)': dlq[0]?.error ?? '',
    }),
    stop: async () => {},
  }
}

/** The default port of `npm start`. */

/** Runs the demo: until `signal` aborts, or once with `once`. */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => console.log(line))
  const once = options.once === true
  const location = parseLogUrl(options.log)
  // A serving demo runs for hours: retention and compaction on; a short run leaves them off.
  const log = await openLog(options.log, once ? { cleanerIntervalMs: 0 } : {})
  const logger = createLogger({ level: process.env.TRIBUTARY_LOG_LEVEL ?? 'warn' })
  const { lmdbStore, memoryStore } = await import('../state/index.ts')
  const stop = new AbortController()
  const onAbort = (): void => stop.abort()
  options.signal?.addEventListener('abort', onAbort, { once: true })
  const deadline = Date.now() + (options.timeoutMs ?? 120_000)
  const ctx: DemoContext = {
    log,
    url: options.log,
    location,
    logger,
    print,
    stores: (name: string): StoreBuilder =>
      location.backend === 'file' ? lmdbStore({ dir: path.join(location.dir, 'state', name), logger }) : memoryStore(),
    deadline,
    signal: stop.signal,
    once,
    ...waiter(deadline),
  }
  const parts: DemoPart[] = []
  let server: HttpServer | undefined
  try {
    print(`log: ${options.log} (${log.backend})`)
    const clicks = await startClickCounter(ctx, options.records)
    parts.push(clicks)
    // A pipeline with a dead-letter queue beside the processors (demo-pipeline.ts: it runs to the end
    // on a log of its own and checks that every record was delivered or dead-lettered).
    const pipeline = await (await import('./demo-pipeline.ts')).runDemoPipeline({ print })
    if (pipeline) parts.push(pipelinePart(pipeline))
    // Further parts start here, each on the same log: parts.push(await startMyPart(ctx))
    parts.push(await startLagMonitor(ctx))

    const startedAt = Date.now()
    const port = options.port ?? (once ? 0 : DEMO_PORT)
    server = await startHttpServer({
      host: options.host,
      port,
      portFallback: options.portFallback ?? (options.port === undefined && !once),
      routes: [demoPageRoutes(parts, { log: options.log, startedAt }), ...parts.flatMap((p) => p.routes ?? [])],
    })
    const fetched: { user: string; clicks: number }[] = []
    for (const user of ['user-0', 'user-7', 'user-42']) {
      const res = await fetch(`${server.url}/users/${user}`)
      const body = (await res.json()) as { user: string; clicks: number }
      fetched.push(body)
      print(`GET /users/${user} → ${res.status} ${JSON.stringify(body)}`)
    }
    const result: DemoResult = { ...clicks.batch, fetched, url: server.url, pipeline }
    if (once) return result

    const rate = options.rate ?? 20
    clicks.traffic(rate)
    print('')
    print(`serving on ${server.url}${server.port !== port ? ` (port ${port} is taken)` : ''} — open it in a browser; Ctrl-C stops`)
    print(`  ${server.url}/              the start page: clicks per user, processors, consumer lag (live)`)
    print(`  ${server.url}/lag/          the lag dashboard; Burrow's API at /lag/v3/kafka/local/consumer`)
    print(`  ${server.url}/users/user-7  a user's clicks from the view (JSON); /users for all, /status for everything`)
    print(`live traffic: ${rate} clicks/s into ${CLICKS_TOPIC}, counted by ${CLICKS_GROUP}`)
    await whenAborted(stop.signal)
    print('stopping')
    return result
  } finally {
    stop.abort()
    options.signal?.removeEventListener('abort', onAbort)
    await server?.close()
    for (const part of parts.reverse()) await part.stop().catch((err: unknown) => logger.error({ err, part: part.name }, 'demo: a part failed to stop'))
    await log.close()
  }
}
