/**
 * Opens a `Log` from a URL, the form the CLI and config files use:
 *
 * - `memory:` — the embedded log in memory
 * - `file:<dir>` (e.g. `file:./.tributary`, `file:///var/lib/tributary`) — the embedded log in files
 * - `kafka://host:port[,host:port...]` — Apache Kafka
 * - `kafka+ssl://host:port[,...]` — Apache Kafka over TLS; query parameters add a CA, a client
 *   certificate and SASL (`?ca=ca.pem&sasl=SCRAM-SHA-512&username=app&password-env=KAFKA_PASSWORD`,
 *   see `securityFromUrl`). Options in code (`{ kafka: { tls, sasl } }`) add to or override them.
 *
 * @example
 * ```ts
 * const log = await openLog(process.env.TRIBUTARY_LOG ?? 'file:./.tributary')
 * const secured = await openLog('kafka+ssl://broker-1:9094', {
 *   kafka: { tls: { ca: { file: 'ca.pem' } }, sasl: { mechanism: 'SCRAM-SHA-512', username: 'app', password: { env: 'KAFKA_PASSWORD' } } },
 * })
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { openEmbeddedLog } from './embedded/index.ts'
import { mergeSecurity, securityFromUrl, type KafkaSecurityOptions } from './kafka/security.ts'
import type { Log } from './types.ts'

/** A parsed log URL. */
export type LogLocation =
  | { backend: 'memory' }
  | { backend: 'file'; dir: string }
  | { backend: 'kafka'; brokers: string[]; security?: KafkaSecurityOptions }

/** Options passed on to the backend. */
export interface OpenLogOptions {
  logger?: Logger
  /** Kafka: fail if no broker answers within this time (ms). Default 10,000. */
  connectTimeoutMs?: number
  /** Kafka: the client id. */
  clientId?: string
  /** Embedded: retention/compaction interval (ms). */
  cleanerIntervalMs?: number
  /**
   * `file:` logs: open read-only, beside the process that owns the directory (see
   * `EmbeddedLogOptions.readOnly`). Other backends ignore it: their readers never lock anything.
   */
  readOnly?: boolean
  /** Kafka: TLS and SASL (added to, and overriding, what the URL says). */
  kafka?: KafkaSecurityOptions
}

/** Parses a log URL, or throws `TRIB_LOG_BAD_URL` saying which forms are accepted. */
export function parseLogUrl(url: string): LogLocation {
  // A secret someone put into the URL is not repeated in the error (errors end up in logs).
  const shown = url.replace(/([?&](?:password|token)=)[^&]*/gi, '$1***')
  const bad = (why: string): TributaryError =>
    new TributaryError('TRIB_LOG_BAD_URL', `invalid log URL ${JSON.stringify(shown)}: ${why}; use memory:, file:<dir>, kafka://host:port[,host:port] or kafka+ssl://host:port[,host:port][?ca=...&sasl=...]`, {
      details: { url: shown },
    })
  if (url === 'memory' || url === 'memory:' || url === 'memory://') return { backend: 'memory' }
  if (url.startsWith('file:')) {
    let dir = url.slice('file:'.length)
    if (dir.startsWith('//')) dir = dir.slice(2)
    if (dir === '') throw bad('no directory after file:')
    return { backend: 'file', dir }
  }
  const scheme = url.startsWith('kafka://') ? 'kafka://' : url.startsWith('kafka+ssl://') ? 'kafka+ssl://' : undefined
  if (scheme !== undefined) {
    const rest = url.slice(scheme.length)
    const query = rest.indexOf('?')
    const hosts = query < 0 ? rest : rest.slice(0, query)
    const brokers = hosts
      .replace(/\/$/, '')
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean)
    if (brokers.length === 0) throw bad('no broker address')
    for (const b of brokers) {
      const port = Number(b.slice(b.lastIndexOf(':') + 1))
      if (!b.includes(':') || !Number.isInteger(port) || port < 1 || port > 65535) throw bad(`broker ${JSON.stringify(b)} is not host:port`)
    }
    const security = securityFromUrl(scheme === 'kafka+ssl://', new URLSearchParams(query < 0 ? '' : rest.slice(query + 1)), bad)
    return security === undefined ? { backend: 'kafka', brokers } : { backend: 'kafka', brokers, security }
  }
  throw bad('unknown scheme')
}

/** Opens the log a URL names. The Kafka backend is loaded only when used. */
export async function openLog(url: string, options: OpenLogOptions = {}): Promise<Log> {
  const location = parseLogUrl(url)
  switch (location.backend) {
    case 'memory':
      return openEmbeddedLog({ mode: 'memory', logger: options.logger, cleanerIntervalMs: options.cleanerIntervalMs })
    case 'file':
      return openEmbeddedLog({ mode: 'file', dir: location.dir, logger: options.logger, cleanerIntervalMs: options.cleanerIntervalMs, readOnly: options.readOnly })
    case 'kafka': {
      const { openKafkaLog } = await import('./kafka/index.ts')
      return openKafkaLog({
        brokers: location.brokers,
        clientId: options.clientId,
        connectTimeoutMs: options.connectTimeoutMs,
        logger: options.logger,
        ...mergeSecurity(location.security, options.kafka),
      })
    }
  }
}
