/**
 * The bodies of Burrow's read-only `/v3/config` routes and of the cluster detail, built from the
 * monitor's config with Burrow's field names and types (durations in whole seconds, as Burrow's
 * integer settings; regular expressions as their source text).
 *
 * Burrow has separate `cluster` and `consumer` modules; a Tributary cluster is both, so each
 * cluster name is listed under both. Storage and evaluator are one module each, named `default`.
 *
 * @example
 * ```ts
 * clusterModule(config.clusters[0])
 * // { 'class-name': 'kafka', servers: ['127.0.0.1:9092'], 'client-profile': {...}, 'topic-refresh': 60, 'offset-refresh': 10 }
 * ```
 * @module
 */
import type { ClusterConfig, MonitorConfig, NotifierConfig } from './config.ts'

/** The name of the single storage and evaluator module. */
export const DEFAULT_MODULE = 'default'

const seconds = (ms: number): number => Math.trunc(ms / 1000)
const source = (re: RegExp | undefined): string => re?.source ?? ''

/** Burrow's `client-profile` object for a cluster (no TLS or SASL profiles here: both null). */
function clientProfile(cluster: ClusterConfig): { [k: string]: unknown } {
  return { name: '', 'client-id': cluster.clientId, 'kafka-version': '', tls: null, sasl: null }
}

/** `GET /v3/kafka/:cluster` and `/v3/config/cluster/:cluster`: Burrow's five cluster fields. */
export function clusterModule(cluster: ClusterConfig): { [k: string]: unknown } {
  return {
    'class-name': cluster.kind,
    servers: [...cluster.servers],
    'client-profile': clientProfile(cluster),
    'topic-refresh': seconds(cluster.topicRefreshMs),
    'offset-refresh': seconds(cluster.offsetRefreshMs),
  }
}

/** `GET /v3/config/consumer/:name`: the cluster seen as Burrow's consumer module. */
export function consumerModule(cluster: ClusterConfig): { [k: string]: unknown } {
  return {
    'class-name': cluster.kind,
    cluster: cluster.name,
    servers: [...cluster.servers],
    'group-allowlist': source(cluster.groupAllowlist),
    'zookeeper-path': '',
    'zookeeper-timeout': 0,
    'client-profile': clientProfile(cluster),
    'offsets-topic': cluster.kind === 'kafka' ? cluster.offsetsTopic : '',
    'start-latest': cluster.startLatest,
  }
}

/** `GET /v3/config/storage/default`. */
export function storageModule(config: MonitorConfig): { [k: string]: unknown } {
  const s = config.storage
  return { 'class-name': 'inmemory', intervals: s.intervals, 'min-distance': seconds(s.minDistanceMs), 'group-allowlist': source(s.groupAllowlist), 'expire-group': seconds(s.expireGroupMs) }
}

/** `GET /v3/config/evaluator/default`. */
export function evaluatorModule(config: MonitorConfig): { [k: string]: unknown } {
  return { 'class-name': 'caching', 'expire-cache': seconds(config.evaluator.expireCacheMs) }
}

/** `GET /v3/config/notifier/:name`: Burrow's http notifier fields, or its null notifier's for a log notifier. */
export function notifierModule(n: NotifierConfig): { [k: string]: unknown } {
  const common = { 'class-name': n.className, 'group-allowlist': source(n.groupAllowlist), interval: seconds(n.intervalMs), threshold: n.threshold as number }
  if (n.className === 'log') {
    return { ...common, 'template-open': '', 'template-close': '', extra: { ...n.extras }, 'send-close': n.sendClose }
  }
  return {
    ...common,
    timeout: seconds(n.timeoutMs),
    keepalive: 0,
    'url-open': n.urlOpen.source,
    'url-close': n.urlClose?.source ?? '',
    'method-open': n.methodOpen,
    'method-close': n.methodClose,
    'template-open': n.bodyOpen.source,
    'template-close': n.bodyClose.source,
    extra: { ...n.extras },
    'send-close': n.sendClose,
    'extra-ca': '',
    noverify: '',
  }
}

/** `GET /v3/config`: Burrow's general, logging, zookeeper and httpserver sections. */
export function mainConfig(config: MonitorConfig, logLevel: string): { [k: string]: unknown } {
  const { host, port } = config.httpserver
  return {
    general: { pidfile: '', 'stdout-logfile': '', 'access-control-allow-origin': '' },
    logging: { filename: '', 'max-size': 0, 'max-backups': 0, 'max-age': 0, 'use-local-time': false, 'use-compression': false, level: logLevel },
    zookeeper: { servers: [], timeout: 0, 'root-path': '' },
    httpserver: { default: { address: `${host.includes(':') ? `[${host}]` : host}:${port}`, tls: '', timeout: 300 } },
  }
}
