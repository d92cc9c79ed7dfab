/**
 * The monitor: one storage and evaluator, one offset source per cluster, notifiers run by the
 * leading monitor only, and the HTTP API with metrics and the dashboard.
 *
 * @example
 * ```ts
 * const monitor = new Monitor(loadConfig('monitor.yaml'))
 * await monitor.start()
 * const { url } = await monitor.listen()   // http://127.0.0.1:8000
 * // ... later
 * await monitor.stop()
 * ```
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { sleep } from '../core/backoff.ts'
import { TributaryError } from '../core/errors.ts'
import { rootLogger, type Logger } from '../core/logger.ts'
import { metricsRegistry } from '../core/metrics.ts'
import { openLog, parseLogUrl, type EmbeddedLog, type Log } from '../log/index.ts'
import { Registry } from 'prom-client'
import { buildApi, type MonitorView } from './api.ts'
import type { ClusterConfig, MonitorConfig } from './config.ts'
import { EmbeddedSnapshots } from './embedded-snapshots.ts'
import { EmbeddedOffsetSource } from './embedded-source.ts'
import { Evaluator } from './evaluator.ts'
import { OffsetIngest } from './ingest.ts'
import type { KafkaOffsetSource } from './kafka-source.ts'
import { LeaderElector } from './leader.ts'
import { MonitorMetrics, type TopicOffsetsSample } from './metrics.ts'
import { createNotifier, type Notifier } from './notifiers.ts'
import { NotifyCoordinator } from './notify-coordinator.ts'
import type { OffsetSource, SourceInfo } from './source.ts'
import { MonitorStorage } from './storage.ts'

/** Options of a {@link Monitor} beyond its config. */
export interface MonitorOptions {
  readonly logger?: Logger
  /**
   * Logs to use instead of opening a cluster's `log` URL, by cluster name. An embedded log lives in
   * one process: pass the application's own `Log` here to monitor it in-process.
   */
  readonly logs?: { readonly [cluster: string]: Log }
  /** The log for leader election, instead of opening `coordination.log`. */
  readonly coordinationLog?: Log
  /** A name for this monitor in logs and in the coordination group. */
  readonly memberName?: string
}

/** Where the API listens. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
  readonly url: string
}

function isEmbedded(log: Log): log is EmbeddedLog {
  return typeof (log as Partial<EmbeddedLog>).readCommits === 'function'
}

/** A running consumer-lag monitor. */
export class Monitor implements MonitorView {
  readonly config: MonitorConfig
  readonly storage: MonitorStorage
  readonly evaluator: Evaluator
  readonly metrics: MonitorMetrics
  readonly notifiers: readonly Notifier[]
  readonly coordinator: NotifyCoordinator
  readonly logger: Logger
  readonly #options: MonitorOptions
  readonly #sources = new Map<string, OffsetSource>()
  readonly #opened: Log[] = []
  /** Embedded logs by cluster name (shared or opened here). */
  readonly #clusterLogs = new Map<string, Log>()
  readonly #snapshots: EmbeddedSnapshots[] = []
  readonly #controller = new AbortController()
  #elector: LeaderElector | undefined
  #notifyLoop: Promise<void> | undefined
  #app: FastifyInstance | undefined
  #state: 'idle' | 'running' | 'stopped' = 'idle'
  #started = false

  constructor(config: MonitorConfig, options: MonitorOptions = {}) {
    this.config = config
    this.#options = options
    this.logger = options.logger ?? rootLogger().child({ component: 'monitor', member: options.memberName })
    const s = config.storage
    this.storage = new MonitorStorage({ intervals: s.intervals, expireGroupMs: s.expireGroupMs, minDistanceMs: s.minDistanceMs, groupAllowlist: s.groupAllowlist, groupDenylist: s.groupDenylist })
    this.evaluator = new Evaluator(this.storage, config.evaluator)
    this.metrics = new MonitorMetrics(() => ({ groups: this.evaluator.evaluateAll(), topics: this.#topicSamples() }))
    this.notifiers = config.notifiers.map((n) => createNotifier(n, { logger: this.logger, metrics: this.metrics }))
    this.coordinator = new NotifyCoordinator({ evaluator: this.evaluator, notifiers: this.notifiers, logger: this.logger })
    for (const c of config.clusters) this.storage.addCluster(c.name, { groupAllowlist: c.groupAllowlist, groupDenylist: c.groupDenylist })
  }

  /** Whether this monitor evaluates for notifiers and notifies (always, without `coordination`). */
  get isLeader(): boolean {
    return this.#elector ? this.#elector.isLeader : this.#state === 'running'
  }

  /** The leader elector, when `coordination` is configured. */
  get elector(): LeaderElector | undefined {
    return this.#elector
  }

  /** Whether `start()` finished and `stop()` was not called (`/burrow/admin/ready`). */
  get ready(): boolean {
    return this.#started && this.#state === 'running'
  }

  /** The monitor logger's level; setting it changes it (Burrow's `/v3/admin/loglevel`). */
  get logLevel(): string {
    return this.logger.level
  }

  set logLevel(level: string) {
    this.logger.level = level
  }

  get dashboardRefreshMs(): number {
    return this.config.dashboard.refreshMs
  }

  get dashboardEnabled(): boolean {
    return this.config.dashboard.enabled
  }

  /** Opens logs, starts every source (each after its first broker-offset refresh), leader election and notifiers. */
  async start(): Promise<void> {
    if (this.#state !== 'idle') throw new TributaryError('TRIB_INVALID_ARGUMENT', 'a monitor can be started once')
    this.#state = 'running'
    try {
      for (const cluster of this.config.clusters) this.#sources.set(cluster.name, await this.#createSource(cluster))
      await Promise.all([...this.#sources.values()].map((s) => s.start()))
      if (this.config.coordination) {
        const c = this.config.coordination
        this.#elector = new LeaderElector({
          log: await this.#coordinationLog(c.log),
          topic: c.topic,
          group: c.group,
          sessionTimeoutMs: c.sessionTimeoutMs,
          logger: this.logger,
          memberName: this.#options.memberName,
        })
        this.#elector.onChange((leading) => {
          this.metrics.leader.set(leading ? 1 : 0)
          if (!leading) this.coordinator.reset()
        })
        await this.#elector.start()
      } else {
        this.metrics.leader.set(1)
      }
      const tickMs = this.coordinator.tickMs
      if (tickMs !== undefined) this.#notifyLoop = this.#runNotifiers(tickMs)
      this.#started = true
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Serves the API (default: `httpserver.address` of the config). Port 0 picks a free port. */
  async listen(host = this.config.httpserver.host, port = this.config.httpserver.port): Promise<ListenAddress> {
    this.#app ??= buildApi(this)
    await this.#app.listen({ host, port })
    const address = this.#app.server.address()
    const actual = typeof address === 'object' && address ? address.port : port
    return { host, port: actual, url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}` }
  }

  /** The fastify app (for `inject` in tests), built on first use. */
  api(): FastifyInstance {
    this.#app ??= buildApi(this)
    return this.#app
  }

  /** Stops notifiers, the election (handing leadership over), sources and the API; closes logs it opened. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return
    this.#state = 'stopped'
    this.#controller.abort()
    await this.#notifyLoop
    await Promise.all(this.notifiers.map((n) => n.close()))
    await this.#elector?.stop()
    await Promise.all([...this.#sources.values()].map((s) => s.stop().catch((err: unknown) => this.logger.warn({ err }, 'stopping a source failed'))))
    await this.#app?.close()
    for (const log of this.#opened) await log.close().catch(() => {})
    for (const snapshots of this.#snapshots) await snapshots.close()
  }

  // ---- MonitorView ------------------------------------------------------------------------

  clusterInfo(cluster: string): SourceInfo | undefined {
    return this.#sources.get(cluster)?.info() ?? (this.storage.hasCluster(cluster) ? { 'class-name': this.#config(cluster)?.kind ?? 'kafka' } : undefined)
  }

  async metricsText(): Promise<string> {
    return Registry.merge([this.metrics.registry, metricsRegistry]).metrics()
  }

  deleteGroup(cluster: string, group: string): boolean {
    this.evaluator.invalidate(cluster, group)
    return this.storage.deleteGroup(cluster, group)
  }

  deleteGroupTopic(cluster: string, group: string, topic: string): boolean {
    this.evaluator.invalidate(cluster, group)
    return this.storage.deleteGroupTopic(cluster, group, topic)
  }

  // ---- internals --------------------------------------------------------------------------

  #config(cluster: string): ClusterConfig | undefined {
    return this.config.clusters.find((c) => c.name === cluster)
  }

  #topicSamples(): TopicOffsetsSample[] {
    const out: TopicOffsetsSample[] = []
    for (const cluster of this.storage.clusters()) {
      for (const topic of this.storage.topics(cluster) ?? []) out.push({ cluster, topic, offsets: this.storage.topicOffsets(cluster, topic) ?? [] })
    }
    return out
  }

  async #createSource(cluster: ClusterConfig): Promise<OffsetSource> {
    const logger = this.logger.child({ cluster: cluster.name })
    let kafkaSource: KafkaOffsetSource | undefined
    const ingest = new OffsetIngest(cluster.name, {
      storage: this.storage,
      metrics: this.metrics,
      logger,
      onGroupDeleted: (group) => this.evaluator.invalidate(cluster.name, group),
      onUnknownPartition: () => kafkaSource?.requestMetadata(),
    })
    if (cluster.kind === 'kafka') {
      // Loaded only for a Kafka cluster: the Kafka client is most of the monitor's memory.
      const { KafkaOffsetSource } = await import('./kafka-source.ts')
      kafkaSource = new KafkaOffsetSource(cluster, { storage: this.storage, ingest, logger })
      return kafkaSource
    }
    const given = this.#options.logs?.[cluster.name]
    const location = parseLogUrl(cluster.log)
    if (given === undefined && location.backend === 'file') {
      // The monitor only reads: it never locks (or creates) a directory that an app owns or will own.
      // It follows a read-only view, refreshed every poll interval (a refresh reads only what the app
      // wrote since).
      logger.info({ log: cluster.log }, 'the embedded log may be owned by another process; following a read-only view of it')
      const snapshots = new EmbeddedSnapshots(location.dir, cluster.pollIntervalMs, logger)
      this.#snapshots.push(snapshots)
      return new EmbeddedOffsetSource(cluster, () => snapshots.current(), { storage: this.storage, ingest, logger })
    }
    const log = given ?? (await this.#open(cluster.log, cluster))
    this.#clusterLogs.set(cluster.name, log)
    if (!isEmbedded(log)) {
      throw new TributaryError('TRIB_MONITOR_CONFIG', `clusters.${cluster.name}.log: ${cluster.log} is not an embedded log; use servers: or a kafka:// URL for Kafka`)
    }
    return new EmbeddedOffsetSource(cluster, log, { storage: this.storage, ingest, logger })
  }

  async #coordinationLog(target: string): Promise<Log> {
    if (this.#options.coordinationLog) return this.#options.coordinationLog
    const cluster = this.#config(target)
    if (cluster) return this.#clusterLogs.get(cluster.name) ?? this.#options.logs?.[cluster.name] ?? this.#open(cluster.log, cluster)
    return this.#open(target)
  }

  async #open(url: string, cluster?: ClusterConfig): Promise<Log> {
    const log = await openLog(url, { logger: this.logger, clientId: 'tributary-monitor', kafka: cluster?.kafka })
    this.#opened.push(log)
    return log
  }

  async #runNotifiers(tickMs: number): Promise<void> {
    const signal = this.#controller.signal
    while (!signal.aborted) {
      if (this.isLeader) {
        try {
          this.coordinator.tick(Date.now())
        } catch (err) {
          this.logger.error({ err }, 'notifier evaluation failed')
        }
      }
      await sleep(tickMs, signal).catch(() => {})
    }
  }
}
