/**
 * The `kafka` connector plugin: Conduit's `builtin:kafka` settings on Tributary's Kafka backend, so
 * Conduit pipeline files using it run unchanged. It is the `tributary-log` connector underneath,
 * with Conduit's names and defaults:
 *
 * - both: `servers` (required, comma-separated host:port), `clientID` (default
 *   `conduit-connector-kafka`);
 * - source: `topics` (required; the legacy `topic` is read when `topics` is absent), `groupID`
 *   (default: the group in the stored position, else a new random UUID — as Conduit),
 *   `readFromBeginning` (default false: a group without committed offsets starts at the end),
 *   `commitOffsetsSize`, `commitOffsetsDelay`, `retryGroupJoinErrors` (accepted; Tributary commits
 *   on every ack, see the docs);
 * - destination: `topic` (default `{{ index .Metadata "opencdc.collection" }}`; a fixed name or a
 *   template), `acks` (`all` — the default; `one`/`none` are accepted with a warning, Tributary always
 *   waits for all in-sync replicas), `compression` (accepted, ignored with a warning),
 *   `deliveryTimeout`, `batchBytes` (accepted), `sdk.record.format` (`opencdc/json` — Conduit's
 *   default —, `template`, `payload`).
 *
 * TLS and SASL settings are refused with an error naming the setting: the Kafka backend does not
 * support them yet.
 *
 * @example
 * ```yaml
 * - id: in
 *   type: source
 *   plugin: builtin:kafka
 *   settings: { servers: "127.0.0.1:9092", topics: "orders", readFromBeginning: "true" }
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { ZodType } from 'zod'
import type { ConnectorPlugin } from '../../connector.ts'
import { connectorSettings } from '../settings.ts'
import { logDestination, logSource, requireTopics } from '../tributary-log/plugin.ts'
import { DEFAULT_TOPIC_TEMPLATE, readLogSettings, readTopic, type TributaryLogSettings } from '../tributary-log/settings.ts'

/** Conduit's default client id. */
export const DEFAULT_KAFKA_CLIENT_ID = 'conduit-connector-kafka'

const UNSUPPORTED = ['caCert', 'clientCert', 'clientKey', 'insecureSkipVerify', 'saslMechanism', 'saslPassword', 'saslUsername', 'tls.enabled'] as const

/** The tributary-log settings under Conduit's names, with the broker list and a client id always set. */
export interface KafkaSettings extends TributaryLogSettings {
  readonly servers: readonly string[]
  readonly clientId: string
  /** Settings accepted but not honoured, to log when a connector is made. */
  readonly warnings: readonly string[]
}

/** The zod schema of the kafka connector's settings. */
export const kafkaSettings: ZodType<KafkaSettings> = connectorSettings((s) => {
  const servers = s.list('servers', [])
  if (servers.length === 0) s.fail('servers', 'is required (comma-separated host:port list of Kafka brokers)')
  for (const server of servers) {
    const port = Number(server.slice(server.lastIndexOf(':') + 1))
    if (!server.includes(':') || !Number.isInteger(port) || port < 1 || port > 65535) s.fail('servers', `has ${JSON.stringify(server)}, which is not host:port`)
  }
  const common = readLogSettings(s, { readFromBeginning: false, formats: ['opencdc/json', 'template', 'payload'], format: 'opencdc/json', topicSetting: ['topic'] })
  const { topic, fixed } = readTopic(s, 'topic', DEFAULT_TOPIC_TEMPLATE)
  const warnings: string[] = []
  const acks = s.oneOf('acks', ['none', 'one', 'all'], 'all')
  if (acks !== 'all') warnings.push(`"acks" is ${acks}: Tributary always waits for all in-sync replicas (acks=all)`)
  const compression = s.oneOf('compression', ['none', 'gzip', 'snappy', 'lz4', 'zstd'], 'snappy')
  if (s.has('compression') && compression !== 'none') warnings.push(`"compression" ${compression} is ignored: Tributary's Kafka producer sends uncompressed batches`)
  s.duration('deliveryTimeout', 0)
  s.int('batchBytes', 1_000_012, 1)
  s.bool('retryGroupJoinErrors', true)
  s.int('commitOffsetsSize', 1_000, 0)
  s.duration('commitOffsetsDelay', 5_000)
  s.accept('sdk.batch.delay')
  for (const name of UNSUPPORTED) {
    const v = s.optional(name)
    if (v !== undefined && v !== 'false') s.fail(name, "is not supported: Tributary's Kafka backend has no TLS or SASL yet")
  }
  return {
    ...common,
    servers,
    url: `kafka://${servers.join(',')}`,
    clientId: s.string('clientID', DEFAULT_KAFKA_CLIENT_ID),
    topic,
    fixedTopic: fixed,
    warnings,
  }
})

/** The kafka plugin. */
export const kafkaConnector: ConnectorPlugin<KafkaSettings> = {
  name: 'kafka',
  summary: "Conduit's Kafka connector settings on Tributary's Kafka backend: a consumer group source, a producer destination",
  settings: kafkaSettings,
  source(settings, ctx) {
    requireTopics('kafka', settings.topics)
    for (const warning of settings.warnings) ctx.logger.warn({ connector: ctx.connectorId }, `kafka source: ${warning}`)
    return logSource(settings, ctx, { plugin: 'kafka', locationSetting: 'servers' }, () => randomUUID())
  },
  destination(settings, ctx) {
    for (const warning of settings.warnings) ctx.logger.warn({ connector: ctx.connectorId }, `kafka destination: ${warning}`)
    return logDestination(settings, ctx, { plugin: 'kafka', locationSetting: 'servers' })
  },
}
