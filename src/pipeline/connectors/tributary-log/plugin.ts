/**
 * The `tributary-log` connector plugin: read from and write to a Tributary {@link Log} (embedded
 * memory or file log, or Kafka) by URL. The source is a consumer group committing offsets only for
 * acknowledged records; the destination is a producer mapping records as Conduit's Kafka connector
 * does. Logs are shared per URL within a process (see {@link registerLog}).
 *
 * @example
 * ```yaml
 * connectors:
 *   - { id: in, type: source, plugin: tributary-log, settings: { url: "file:./.tributary", topics: orders } }
 *   - { id: out, type: destination, plugin: tributary-log, settings: { url: "file:./.tributary", topic: orders-copy } }
 * ```
 * @module
 */
import { TributaryError } from '../../../core/errors.ts'
import type { ConnectorContext, ConnectorPlugin } from '../../connector.ts'
import { LogDestination } from './destination.ts'
import { tributaryLogSettings, type TributaryLogSettings } from './settings.ts'
import { LogSource, type LogSourceOptions } from './source.ts'

export { registerLog, acquireLog, logKey, type LogLease } from './log-registry.ts'
export { encodeLogPosition, decodeLogPosition, type LogPosition } from './position.ts'
export { LogSource, METADATA_KAFKA_HEADER_PREFIX, type LogSourceOptions } from './source.ts'
export { LogDestination, fixedTopic, collectionTopic, TOPIC_NAME, type LogDestinationOptions, type TopicOf } from './destination.ts'
export { tributaryLogSettings, readTopic, readLogSettings, DEFAULT_TOPIC_TEMPLATE, DEFAULT_LOG_BATCH, type TributaryLogSettings } from './settings.ts'

/** Throws `TRIB_CONNECTOR_SETTINGS` when a source has no topics. */
export function requireTopics(plugin: string, topics: readonly string[]): void {
  if (topics.length === 0) throw new TributaryError('TRIB_CONNECTOR_SETTINGS', `${plugin} source: "topics" is required (a comma-separated list of topics to read)`, { details: { setting: 'topics' } })
}

/** How a plugin built on the log connector names itself and the setting of where the log is, in messages. */
export type LogPluginNames = Pick<LogSourceOptions, 'plugin' | 'locationSetting'>

/**
 * The log source of a plugin's settings; `defaultGroupId` gives the group when neither the settings
 * nor the stored position name one. The caller checks the topics first ({@link requireTopics}).
 *
 * @example
 * requireTopics('kafka', settings.topics)
 * return logSource(settings, ctx, { plugin: 'kafka', locationSetting: 'servers' }, () => randomUUID())
 */
export function logSource(settings: TributaryLogSettings, ctx: ConnectorContext, names: LogPluginNames, defaultGroupId: () => string): LogSource {
  return new LogSource(
    {
      plugin: names.plugin,
      locationSetting: names.locationSetting,
      url: settings.url,
      topics: settings.topics,
      groupId: settings.groupId,
      defaultGroupId,
      readFromBeginning: settings.readFromBeginning,
      batchSize: settings.batchSize,
      clientId: settings.clientId,
      connectTimeoutMs: settings.connectTimeoutMs,
    },
    ctx,
  )
}

/**
 * The log destination of a plugin's settings.
 *
 * @example
 * return logDestination(settings, ctx, { plugin: 'tributary-log', locationSetting: 'url' })
 */
export function logDestination(settings: TributaryLogSettings, ctx: ConnectorContext, names: LogPluginNames): LogDestination {
  return new LogDestination(
    {
      plugin: names.plugin,
      locationSetting: names.locationSetting,
      url: settings.url,
      topic: settings.topic,
      fixedTopic: settings.fixedTopic,
      format: settings.format,
      partitions: settings.partitions,
      clientId: settings.clientId,
      connectTimeoutMs: settings.connectTimeoutMs,
    },
    ctx,
  )
}

/** The tributary-log plugin. */
export const tributaryLogConnector: ConnectorPlugin<TributaryLogSettings> = {
  name: 'tributary-log',
  summary: 'reads topics of a Tributary log as a consumer group, committing on ack (source); produces to a topic (destination)',
  settings: tributaryLogSettings,
  source(settings, ctx: ConnectorContext) {
    requireTopics('tributary-log', settings.topics)
    return logSource(settings, ctx, { plugin: 'tributary-log', locationSetting: 'url' }, () => ctx.connectorId)
  },
  destination(settings, ctx) {
    return logDestination(settings, ctx, { plugin: 'tributary-log', locationSetting: 'url' })
  },
}
