/**
 * Options of the Kafka backend and the platformatic client options derived from them.
 *
 * @example
 * ```ts
 * const settings = resolveSettings({ brokers: ['127.0.0.1:9092'] })
 * const admin = new Admin(clientOptions(settings, 'admin'))
 * ```
 * @module
 */
import type { BaseOptions } from '@platformatic/kafka'
import { TributaryError } from '../../core/errors.ts'
import { rootLogger, type Logger } from '../../core/logger.ts'
import { resolveSecurity, type KafkaSaslOptions, type KafkaTlsOptions, type ResolvedSecurity } from './security.ts'

/**
 * Options of `openKafkaLog`.
 *
 * @example
 * ```ts
 * const options: KafkaLogOptions = { brokers: ['127.0.0.1:9092'], clientId: 'billing', connectTimeoutMs: 5_000 }
 * ```
 */
export interface KafkaLogOptions {
  /** Bootstrap brokers as `host:port` (use `127.0.0.1`, not `localhost`, to avoid IPv6 surprises). */
  brokers: string[]
  /** Kafka `client.id` prefix. Default `tributary`. */
  clientId?: string
  /** How long opening the log (and each new connection) may take before `TRIB_LOG_BROKER_UNREACHABLE`. Default 10,000 ms. */
  connectTimeoutMs?: number
  /** How long one request may wait for its response. Default 30,000 ms. */
  requestTimeoutMs?: number
  /**
   * How long the group waits for members to rejoin during a rebalance: a member that does not poll
   * this long while a rebalance is pending is removed. Default: the consumer's `maxPollIntervalMs`
   * (300 s), like the Java client, so one slow batch during a rebalance does not expel a member.
   */
  rebalanceTimeoutMs?: number
  /** Replication factor of new topics. Default: the broker's `default.replication.factor`. */
  replicationFactor?: number
  /** Logger; default the project's root logger. */
  logger?: Logger
  /** TLS for every connection (`true`: the system's CAs). See `KafkaTlsOptions`. */
  tls?: boolean | KafkaTlsOptions
  /** SASL authentication for every connection. See `KafkaSaslOptions`. */
  sasl?: KafkaSaslOptions
}

/** {@link KafkaLogOptions} with defaults applied. */
export interface KafkaSettings {
  readonly brokers: readonly string[]
  readonly clientId: string
  readonly connectTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly rebalanceTimeoutMs: number | undefined
  readonly replicationFactor: number
  readonly logger: Logger
  /** TLS and SASL, secrets already read (they sit in closures, not in this object). */
  readonly security: ResolvedSecurity
}

/** Validates options and applies defaults. */
export function resolveSettings(options: KafkaLogOptions): KafkaSettings {
  if (!options || !Array.isArray(options.brokers) || options.brokers.length === 0) {
    throw new TributaryError('TRIB_INVALID_ARGUMENT', 'openKafkaLog: brokers must list at least one "host:port"')
  }
  for (const broker of options.brokers) {
    if (typeof broker !== 'string' || !/^\S+:\d+$/.test(broker)) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `openKafkaLog: broker address ${JSON.stringify(broker)} is not "host:port"`)
    }
  }
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    if (value === undefined) return fallback
    if (!Number.isFinite(value) || value <= 0) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `openKafkaLog: ${name} must be a positive number of milliseconds, got ${value}`)
    }
    return value
  }
  const clientId = options.clientId ?? 'tributary'
  if (!/^\S+$/.test(clientId)) throw new TributaryError('TRIB_INVALID_ARGUMENT', `openKafkaLog: clientId must not contain spaces`)
  return {
    brokers: [...options.brokers],
    clientId,
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 10_000),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 30_000),
    rebalanceTimeoutMs: options.rebalanceTimeoutMs === undefined ? undefined : positive('rebalanceTimeoutMs', options.rebalanceTimeoutMs, 0),
    replicationFactor: options.replicationFactor ?? -1,
    logger: options.logger ?? rootLogger().child({ component: 'kafka-log' }),
    security: resolveSecurity({ tls: options.tls, sasl: options.sasl }),
  }
}

/**
 * Base options for a platformatic client. Auto-creation of topics is always off; retries are few
 * and quick because the callers above retry with their own deadlines.
 */
export function clientOptions(settings: KafkaSettings, role: string): BaseOptions {
  return {
    clientId: `${settings.clientId}-${role}`,
    bootstrapBrokers: [...settings.brokers],
    connectTimeout: settings.connectTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    timeout: settings.requestTimeoutMs,
    retries: 3,
    retryDelay: 200,
    metadataMaxAge: 5_000,
    autocreateTopics: false,
    ...settings.security.connection,
  }
}

/** Options of a platformatic `ConnectionPool` of ours: timeouts plus TLS and SASL. */
export function poolOptions(settings: KafkaSettings, requestTimeoutMs = settings.requestTimeoutMs): { connectTimeout: number; requestTimeout: number; maxInflights: number } & ResolvedSecurity['connection'] {
  return { connectTimeout: settings.connectTimeoutMs, requestTimeout: requestTimeoutMs, maxInflights: 5, ...settings.security.connection }
}
