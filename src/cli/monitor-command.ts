/**
 * `tributary monitor --config monitor.yaml`: the Burrow-compatible consumer-lag monitor.
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import v8 from 'node:v8'
import { Command } from 'commander'
import { sleep, whenAborted } from '../core/backoff.ts'
import { isTributaryError, TributaryError } from '../core/errors.ts'
import type { Log } from '../log/index.ts'
import type { MonitorConfig } from '../monitor/config.ts'
import { hostPort } from './options.ts'

/**
 * The monitor's modules, loaded when the command runs (not when the CLI starts): the modules
 * themselves, not the package index, which also exports the Kafka reader — its client is loaded only
 * when a Kafka cluster is configured.
 */
async function monitorModules() {
  const [{ loadConfig }, { Monitor }, { openLog, parseLogUrl }] = await Promise.all([import('../monitor/config.ts'), import('../monitor/monitor.ts'), import('../log/open-log.ts')])
  return { loadConfig, Monitor, openLog, parseLogUrl }
}

/**
 * A long-running monitor allocates little per second; V8 would still grow its young generation to
 * 16 MB semi-spaces during start-up bursts and keep them (about 30 MB of RSS). Keeping the
 * semi-spaces from growing costs a few more scavenges and nothing measurable here.
 */
function keepYoungGenerationSmall(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1')
}

/** Options of {@link runMonitor}. */
export interface RunMonitorOptions {
  config: string
  /** Overrides `httpserver.address`. */
  address?: string
  /** Also run a small demo workload on the first embedded cluster. */
  demo?: boolean
  /** Where lines go (console.log by default). */
  print?: (line: string) => void
}

const HELP = `
The config file is YAML shaped like Burrow's sections (durations in seconds):

  clusters:                    one entry per cluster to watch
    <name>:
      log: <url>               file:<dir> or memory: (embedded log), kafka://host:port[,...]
      servers: [host:port]     Kafka brokers (instead of log)
      offset-refresh: 10       read high watermarks every N seconds
      topic-refresh: 60        refresh Kafka topic metadata every N seconds
      offsets-topic: __consumer_offsets
      start-latest: false      start at the end of the offsets topic / commit history
      self-group: true         report the monitor's own progress as group burrow-<name> (Kafka)
      poll-interval: 0.25      read new commits every N seconds (embedded log)
      group-allowlist / group-denylist: <regex>
  storage:    intervals: 10, expire-group: 604800, min-distance: 0, group-allowlist/denylist
  evaluator:  expire-cache: 10, minimum-complete: 0, allowed-lag: 0
  httpserver: address: 127.0.0.1:8000
  dashboard:  enabled: true, refresh: 5
  notifiers:  <name>: class-name: http | log, interval, threshold, send-once, send-close,
              send-interval, group-allowlist/denylist, extras; http: url-open, method-open,
              template-open | body-open, url-close, method-close, template-close | body-close,
              headers, basic-auth {username, password}, timeout, retries, backoff {initial, max};
              log: level
  coordination: log: <cluster name or url>, topic, group, session-timeout
              (several monitors: only the one owning partition 0 of the topic notifies)

API (Burrow v3): GET /v3/kafka[/:cluster[/topic[/:topic[/consumers]]|/consumer[/:group[/status|/lag]]]],
DELETE /v3/kafka/:cluster/consumer/:group[/topic/:topic], GET /v3/config[/<kind>[/:name]],
GET|POST /v3/admin/loglevel, /burrow/admin[/ready], /metrics, dashboard at /.
Full reference: docs/monitor.md. Example: examples/monitor.yaml.`

/** Builds the `monitor` command. */
export function monitorCommand(): Command {
  return new Command('monitor')
    .description('run the Burrow-compatible consumer-lag monitor: HTTP API v3, /metrics and a dashboard')
    .requiredOption('-c, --config <file>', 'the monitor config (YAML), e.g. examples/monitor.yaml')
    .option('-a, --address <host:port>', 'listen here instead of httpserver.address (default 127.0.0.1:8000)', hostPort)
    .option('--check', 'validate the config, print a summary and exit')
    .option('--demo', 'also run a demo workload (a producer, a group that keeps up, one that falls behind) on the first embedded cluster')
    .addHelpText('after', HELP)
    .action(async (opts: { config: string; address?: string; check?: boolean; demo?: boolean }) => {
      if (opts.check) {
        const { loadConfig } = await monitorModules()
        const config = loadConfig(opts.config)
        console.log(summary(opts.config, config))
        return
      }
      keepYoungGenerationSmall()
      const controller = new AbortController()
      const stop = (): void => controller.abort()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      try {
        await runMonitor({ config: opts.config, address: opts.address, demo: opts.demo }, controller.signal)
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
      }
    })
}

function summary(file: string, config: MonitorConfig): string {
  const lines = [`${file}: OK`]
  for (const c of config.clusters) lines.push(`  cluster ${c.name}: ${c.kind} ${c.log}, offset-refresh ${c.offsetRefreshMs / 1000} s`)
  lines.push(`  storage: ${config.storage.intervals} intervals, expire-group ${config.storage.expireGroupMs / 1000} s`)
  for (const n of config.notifiers) lines.push(`  notifier ${n.name}: ${n.className}, interval ${n.intervalMs / 1000} s`)
  lines.push(`  http: ${config.httpserver.host}:${config.httpserver.port}${config.coordination ? `, coordination via ${config.coordination.log}` : ''}`)
  return lines.join('\n')
}

/** Runs a monitor until `signal` aborts. */
export async function runMonitor(options: RunMonitorOptions, signal: AbortSignal): Promise<void> {
  const print = options.print ?? ((line: string) => console.log(line))
  const { loadConfig, Monitor, openLog, parseLogUrl } = await monitorModules()
  const config = loadConfig(options.config)
  const demoCluster = options.demo ? config.clusters.find((c) => c.kind === 'embedded') : undefined
  if (options.demo && !demoCluster) throw new TributaryError('TRIB_INVALID_ARGUMENT', '--demo needs an embedded cluster (log: file:<dir> or memory:) in the config')
  const logs: { [cluster: string]: Log } = {}
  if (demoCluster) logs[demoCluster.name] = await openLog(demoCluster.log)
  for (const cluster of config.clusters) {
    const location = cluster.kind === 'embedded' && cluster !== demoCluster ? parseLogUrl(cluster.log) : undefined
    if (location?.backend === 'file' && !fs.existsSync(path.join(location.dir, 'topics'))) {
      print(`cluster ${cluster.name}: no log at ${path.resolve(location.dir)} yet; run \`npm start\` first or point clusters.${cluster.name}.log at one (watching for it meanwhile)`)
    }
  }
  const monitor = new Monitor(config, { logs })
  let demo: Promise<void> | undefined
  try {
    await monitor.start()
    const [host, port] = options.address ? [options.address.slice(0, options.address.lastIndexOf(':')), Number(options.address.slice(options.address.lastIndexOf(':') + 1))] : []
    const { url } = await monitor.listen(host, port)
    print(`tributary monitor: ${config.clusters.length} cluster(s), listening on ${url} (dashboard ${url}/, API ${url}/v3/kafka)`)
    if (demoCluster) {
      demo = runDemoWorkload(logs[demoCluster.name], signal)
      print(`demo workload on ${demoCluster.name}: groups demo-keeps-up (OK) and demo-falls-behind (WARN) on topic ${DEMO_TOPIC}`)
    }
    await whenAborted(signal)
    print('tributary monitor: stopping')
  } finally {
    await demo
    await monitor.stop()
    for (const log of Object.values(logs)) await log.close()
  }
}

const DEMO_TOPIC = 'demo-monitor-orders'

/**
 * A producer (10 records per partition per second) and two groups: `demo-keeps-up` reads and commits
 * everything every second; `demo-falls-behind` moves its committed offsets 5 records per partition
 * every 2 seconds, so its lag grows at every commit (WARN).
 */
async function runDemoWorkload(log: Log, signal: AbortSignal): Promise<void> {
  const partitions = 3
  try {
    if (!(await log.admin.listTopics()).includes(DEMO_TOPIC)) await log.admin.createTopic({ name: DEMO_TOPIC, partitions })
  } catch (err) {
    if (!isTributaryError(err, 'TRIB_LOG_TOPIC_EXISTS')) throw err
  }
  const producer = log.producer()
  const fast = log.consumer({ groupId: 'demo-keeps-up', topics: [DEMO_TOPIC] })
  const slow = log.consumer({ groupId: 'demo-falls-behind', topics: [DEMO_TOPIC], maxPollRecords: 1 })
  const slowOffsets = new Map<number, number>()
  let tick = 0
  try {
    while (!signal.aborted) {
      try {
        await demoTick()
      } catch (err) {
        console.error(`demo workload: ${(err as Error).message} (retrying)`)
      }
      tick++
      await sleep(1_000, signal).catch(() => {})
    }
  } finally {
    await fast.close()
    await slow.close()
    await producer.close()
  }

  async function demoTick(): Promise<void> {
    const records = []
    for (let partition = 0; partition < partitions; partition++) {
      for (let i = 0; i < 10; i++) records.push({ topic: DEMO_TOPIC, partition, value: JSON.stringify({ tick, i }) })
    }
    await producer.send(records)
    await fast.poll({ timeoutMs: 50 })
    await fast.commit()
    await slow.poll({ timeoutMs: 50 }) // stays a member; its commits are explicit
    if (tick % 2 === 0) {
      const owned = slow.assignment()
      const ends = await log.offsets.endOffsets(DEMO_TOPIC)
      const offsets = owned.map(({ topic, partition }) => {
        const next = Math.min(ends[partition], (slowOffsets.get(partition) ?? Math.max(0, ends[partition] - 20)) + 5)
        slowOffsets.set(partition, next)
        return { topic, partition, offset: next }
      })
      if (offsets.length > 0) await slow.commit(offsets)
    }
  }
}
