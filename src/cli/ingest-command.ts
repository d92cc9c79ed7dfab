/**
 * `tributary ingest`: runs AresDB-style ingestion jobs until SIGINT or SIGTERM — job configs from a
 * watched directory (`--jobs`) and/or an HTTP controller speaking AresDB's protocol
 * (`--controller`, `--namespace`, `--instance`) — with a progress line per job on a terminal and
 * plain log lines otherwise, serving `/v1/jobs`, `/v1/jobs/:name`, `POST /v1/jobs/:name/restart`
 * and `/metrics`. `tributary ingest status` prints the status table of a running instance.
 * @module
 */
import { Command, InvalidArgumentError } from 'commander'
import { whenAborted } from '../core/backoff.ts'
import { TributaryError } from '../core/errors.ts'
import { createLogger } from '../core/logger.ts'
import type { DriverStatus, IngestSink, JobConfig } from '../ingest/index.ts'
import type { Log } from '../log/index.ts'
import { DEFAULT_LOG, hostPort, positiveInt, splitAddress } from './options.ts'
import { untilSignalled } from './stop-signals.ts'

/** Options of {@link runIngest}. */
export interface RunIngestOptions {
  /** A directory of job configs (`*.json`, `*.yaml`, `*.yml`). */
  jobs?: string
  /** An AresDB-protocol controller's base URL. */
  controller?: string
  /** The controller's job namespace. */
  namespace?: string
  /** This instance's id (AresDB's `INSTANCE_ID`). */
  instance: string
  /** The log jobs read; default `kafka://<streamConfig.kafkaBroker>` of each job, else the embedded file log. */
  log?: string
  /** `postgres://…` (a table per job) or `log` (rows to `<table>-rows` on the job's log). */
  sink: string
  /** `host:port`; default 127.0.0.1:8000, trying the next ports when taken. */
  address?: string
  /** A PostgreSQL URL holding the processor leases that spread jobs over instances; without it this instance runs every processor. */
  leases?: string
  /** Lease duration (ms); default 10 000. */
  leaseDurationMs?: number
  /** Default `.tributary/ingest`. */
  stateDir?: string
  /** Directory rescan and controller poll period; default 600 000 ms (AresDB's 10 minutes). */
  refreshIntervalMs?: number
  /** Live progress lines (default: when stdout is a TTY). */
  progress?: boolean
  /** Plain progress lines every this many ms when not a TTY (default 10 000; 0 = none). */
  intervalMs?: number
  print?: (line: string) => void
}

function sinkOption(value: string): string {
  if (value === 'log' || /^postgres(ql)?:\/\//.test(value)) return value
  throw new InvalidArgumentError(`expected postgres://… or log, got ${JSON.stringify(value)}`)
}

const fmt = (n: number): string => n.toLocaleString('en')

/** One progress line for a job. */
export function jobProgressLine(s: DriverStatus, perSec: number): string {
  const ctx = Object.values(s.processorContext)
  const total = ctx.reduce((n, p) => n + p.totalMessages, 0)
  const failed = ctx.reduce((n, p) => n + p.failedMessages, 0)
  const restarts = ctx.reduce((n, p) => n + p.restartCount, 0)
  const last = ctx.flatMap((p) => p.errors).sort((a, b) => a.timestamp - b.timestamp).at(-1)
  const err = last && s.runningProcessors < s.totalProcessors ? `  last error: ${last.message}` : ''
  return `${s.jobName}${s.aresCluster ? `@${s.aresCluster}` : ''} v${s.version} [${s.runningProcessors}/${s.totalProcessors} running${s.restartingProcessors ? `, ${s.restartingProcessors} restarting` : ''}${s.failedProcessors ? `, ${s.failedProcessors} failed` : ''}] messages ${fmt(total)} (${fmt(Math.round(perSec))}/s)  to DLQ ${fmt(failed)}  restarts ${fmt(restarts)}${err}`
}

/** The status table `tributary ingest status` prints. */
export function statusTable(jobs: readonly DriverStatus[]): string {
  const header = ['JOB', 'VERSION', 'TOPIC', 'PROCESSORS', 'RUNNING', 'RESTARTING', 'FAILED', 'STOPPED', 'MESSAGES', 'TO DLQ', 'RESTARTS', 'LAST ERROR']
  const rows = jobs.map((s) => {
    const ctx = Object.values(s.processorContext)
    const last = ctx.flatMap((p) => p.errors).sort((a, b) => a.timestamp - b.timestamp).at(-1)
    return [
      `${s.jobName}${s.aresCluster ? `@${s.aresCluster}` : ''}`,
      String(s.version),
      s.topic,
      String(s.totalProcessors),
      String(s.runningProcessors),
      String(s.restartingProcessors),
      String(s.failedProcessors),
      String(s.stoppedProcessors),
      fmt(ctx.reduce((n, p) => n + p.totalMessages, 0)),
      fmt(ctx.reduce((n, p) => n + p.failedMessages, 0)),
      fmt(ctx.reduce((n, p) => n + p.restartCount, 0)),
      last ? last.message.slice(0, 80) : '-',
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')
  return [line(header), ...rows.map(line)].join('\n')
}

/** Runs ingestion jobs until `signal` aborts. */
export async function runIngest(options: RunIngestOptions, signal: AbortSignal): Promise<void> {
  const print = options.print ?? ((line: string) => console.log(line))
  if (!options.jobs && !options.controller) throw new TributaryError('TRIB_INVALID_ARGUMENT', 'tributary ingest: give --jobs <dir> and/or --controller <url>')
  if (options.controller && !options.namespace) throw new TributaryError('TRIB_INVALID_ARGUMENT', 'tributary ingest: --controller needs --namespace (the job namespace, AresDB\'s -j)')
  const [ingest, { startHttpServer }, { openLog }] = await Promise.all([import('../ingest/index.ts'), import('../server/index.ts'), import('../log/index.ts')])
  const logger = createLogger({ name: 'tributary', level: process.env.TRIBUTARY_LOG_LEVEL ?? (options.progress ? 'warn' : 'info') })
  const stateDir = options.stateDir ?? '.tributary/ingest'
  const logs = new Map<string, Promise<Log>>()
  const sharedLog = (url: string): Promise<Log> => {
    let l = logs.get(url)
    if (!l) logs.set(url, (l = openLog(url)))
    return l
  }
  const logUrlOf = (job: JobConfig): string => options.log ?? (job.streamConfig.kafkaBroker ? `kafka://${job.streamConfig.kafkaBroker}` : DEFAULT_LOG)
  const sinkFor = (job: JobConfig): IngestSink => {
    if (options.sink === 'log') {
      // The log opens lazily inside open(), so a sink is cheap to make.
      let inner: IngestSink | undefined
      return {
        description: `topic ${job.rules.table}-rows`,
        async open(sig) {
          inner = new ingest.LogSink(job, await sharedLog(logUrlOf(job)))
          await inner.open(sig)
        },
        save: (rows, sig, origins) => inner!.save(rows, sig, origins),
        close: async () => inner?.close(),
      }
    }
    return new ingest.PostgresSink(job, { url: options.sink })
  }
  const jobs = new ingest.JobController({
    logger,
    driver: (job) =>
      new ingest.JobDriver(job, {
        logUrl: logUrlOf(job),
        sink: sinkFor,
        stateDir: `${stateDir}/${ingest.jobKey(job)}`,
        logger,
        ...(options.leases ? { processorIds: [] } : {}),
      }),
    onChange: (e) => print(`tributary ingest: job ${e.key} ${e.kind} (version ${e.job.version}, topic ${e.job.streamConfig.topic}, ${e.job.streamConfig.processorCount} processor(s))`),
  })
  let spread: InstanceType<typeof ingest.LeasedProcessors> | undefined
  if (options.leases) {
    const { postgresLeaseStore } = await import('../lease/index.ts')
    spread = new ingest.LeasedProcessors(jobs, { store: postgresLeaseStore({ connectionString: options.leases, tableName: 'tributary_ingest_leases' }), instance: options.instance, leaseDurationMs: options.leaseDurationMs, logger })
  }
  const refreshIntervalMs = options.refreshIntervalMs ?? 600_000
  const sources: { stop(): Promise<void> }[] = []
  const { host, port } = splitAddress(options.address)
  let server: Awaited<ReturnType<typeof startHttpServer>> | undefined
  let stopProgress = (): void => {}
  let final: string[] = []
  try {
    if (options.jobs) {
      const source = new ingest.DirectoryJobSource(options.jobs, jobs, { refreshIntervalMs, logger })
      sources.push(source)
      const scan = await source.start()
      for (const e of scan.errors) print(`error: ${e}`)
    }
    if (options.controller) {
      const source = new ingest.HttpJobSource({ url: options.controller, namespace: options.namespace!, instance: options.instance, refreshIntervalMs, logger }, jobs)
      sources.push(source)
      const first = await source.start()
      for (const e of first.errors) print(`error: ${e}`)
    }
    await spread?.start()
    server = await startHttpServer({ host, port, portFallback: options.address === undefined, routes: [ingest.ingestRoutes(jobs, { metrics: true, instance: options.instance })] })
    print(`tributary ingest: instance ${options.instance}, ${jobs.drivers.size} job(s); HTTP ${server.url}/v1/jobs, metrics ${server.url}/metrics`)

    const last = new Map<string, { n: number; at: number }>()
    const lines = (): string[] => {
      const now = Date.now()
      return [...jobs.drivers.values()].map((d) => {
        const s = d.status()
        const n = Object.values(s.processorContext).reduce((a, p) => a + p.totalMessages, 0)
        const prev = last.get(d.key)
        last.set(d.key, { n, at: now })
        return jobProgressLine(s, prev && now > prev.at ? ((n - prev.n) * 1000) / (now - prev.at) : 0)
      })
    }
    if (options.progress) {
      const { MultiBar, Presets } = await import('cli-progress')
      const multibar = new MultiBar({ format: '{line}', hideCursor: true, clearOnComplete: false, stopOnComplete: false, barsize: 0, fps: 4 }, Presets.legacy)
      const bars: ReturnType<typeof multibar.create>[] = []
      const draw = (): void => {
        const ls = lines()
        while (bars.length < ls.length) bars.push(multibar.create(1, 0, { line: '' }))
        bars.forEach((b, i) => b.update(0, { line: ls[i] ?? '' }))
      }
      const timer = setInterval(draw, 500)
      stopProgress = () => {
        clearInterval(timer)
        draw()
        multibar.stop()
      }
    } else if ((options.intervalMs ?? 10_000) > 0) {
      const timer = setInterval(() => lines().forEach((l) => print(l)), options.intervalMs ?? 10_000)
      timer.unref()
      stopProgress = () => clearInterval(timer)
    }
    await whenAborted(signal)
    print('tributary ingest: stopping (finishing the batches in flight)')
  } finally {
    stopProgress()
    for (const s of sources) await s.stop()
    await spread?.stop().catch((err: unknown) => print(`error: releasing the leases: ${(err as Error).message}`))
    await spread?.coordinator.store.close().catch(() => undefined)
    const drivers = [...jobs.drivers.values()]
    await jobs.stop()
    final = drivers.map((d) => jobProgressLine(d.status(), 0).replace(/ \(0\/s\)/, ''))
    await server?.close()
    for (const l of logs.values()) await (await l.catch(() => undefined))?.close()
  }
  for (const line of final) print(line)
  print('tributary ingest: stopped')
}

const HELP = `
Job configs are AresDB's job JSON (or the same in YAML), one job per file; see docs/ingest.md.
The directory is watched (and rescanned every --refresh-interval): a new file starts a job, a new
"version" replaces its driver, a removed file stops it, and a bad file is reported (file, line,
field) while the version running keeps running. --controller polls an AresDB controller:
GET /assignment/{namespace}/hash/{instance}, then /assignment/{namespace}/assignments/{instance}.

Each job reads --log, else kafka://<streamConfig.kafkaBroker>, in the consumer group
ares-subscriber_<DEPLOYMENT_NAME>_<job>_<cluster>_streaming, and writes to --sink: a PostgreSQL
table per job (upserts by primary key; each message applied once), or "log" (rows to <table>-rows).
Rows that cannot be mapped, and batches the sink still refuses after the retry window, go to the
topic <job>-dlq. HTTP: GET /v1/jobs, /v1/jobs/:name, POST /v1/jobs/:name/restart, /metrics.`

/** Builds the `ingest` command. */
export function ingestCommand(): Command {
  const cmd = new Command('ingest')
    .description('run AresDB-style ingestion jobs (Kafka or the embedded log → PostgreSQL or a topic) until stopped')
    .option('--jobs <dir>', 'a directory of job configs (*.json, *.yaml, *.yml), watched')
    .option('--controller <url>', "an AresDB controller's base URL (http://host:port)")
    .option('--namespace <ns>', "the controller's job namespace")
    .option('--instance <id>', 'this instance id', process.env.INSTANCE_ID ?? (process.env.HOSTNAME || 'tributary'))
    .option('--log <url>', "the log the jobs read (default: each job's kafka://<kafkaBroker>, else file:./.tributary)")
    .option('--sink <postgres://…|log>', 'where rows go', sinkOption, 'log')
    .option('-a, --address <host:port>', 'serve HTTP here (default 127.0.0.1:8000, or the next free port)', hostPort)
    .option('--state-dir <dir>', 'where pipeline state is kept', '.tributary/ingest')
    .option('--leases <postgres://…>', 'spread the processors of every job over the instances sharing this lease table (tributary_ingest_leases)')
    .option('--lease-duration <seconds>', 'a dead instance\'s processors move after this long', positiveInt, 10)
    .option('--refresh-interval <seconds>', 'directory rescan and controller poll period', positiveInt, 600)
    .option('--no-progress', 'plain progress lines even on a terminal')
    .addHelpText('after', HELP)
    .action(async (opts: { jobs?: string; controller?: string; namespace?: string; instance: string; log?: string; sink: string; address?: string; stateDir: string; leases?: string; leaseDuration: number; refreshInterval: number; progress: boolean }) => {
      await untilSignalled((stop) =>
        runIngest(
          {
            jobs: opts.jobs,
            controller: opts.controller,
            namespace: opts.namespace,
            instance: opts.instance,
            log: opts.log,
            sink: opts.sink,
            address: opts.address,
            stateDir: opts.stateDir,
            leases: opts.leases,
            leaseDurationMs: opts.leaseDuration * 1000,
            refreshIntervalMs: opts.refreshInterval * 1000,
            progress: opts.progress && process.stdout.isTTY === true,
            intervalMs: process.env.TRIBUTARY_PROGRESS_MS ? Number(process.env.TRIBUTARY_PROGRESS_MS) : undefined,
          },
          stop,
        ),
      )
    })
  cmd
    .command('status')
    .description('print the job status table of a running `tributary ingest`')
    .option('-a, --address <host:port>', 'where it serves HTTP', hostPort, '127.0.0.1:8000')
    .option('--json', 'print the raw /v1/jobs answer')
    .action(async (opts: { address: string; json?: boolean }, command: Command) => {
      // `ingest` has its own --address; commander gives it the value when both are spelt the same.
      opts = { ...opts, address: (command.parent?.opts() as { address?: string } | undefined)?.address ?? opts.address }
      const url = `http://${opts.address}/v1/jobs`
      let body: { instance: string | null; jobs: DriverStatus[] }
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(10_000) })
        if (!response.ok) throw new Error(`HTTP ${response.status}`)
        body = (await response.json()) as typeof body
      } catch (err) {
        const e = err as Error
        throw new TributaryError('TRIB_INVALID_ARGUMENT', `cannot read ${url}: ${e.cause instanceof Error ? e.cause.message : e.message} (is \`tributary ingest\` running there? --address)`, { cause: err })
      }
      if (opts.json) {
        console.log(JSON.stringify(body, null, 2))
        return
      }
      console.log(`instance ${body.instance ?? '?'} at ${opts.address}: ${body.jobs.length} job(s)`)
      console.log(statusTable(body.jobs))
    })
  return cmd
}
