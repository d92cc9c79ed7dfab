/**
 * Settings of the `tributary-log` connector, and the pieces the `kafka` connector shares with it.
 *
 * Source: `url` (required: `memory:[name]`, `file:<dir>`, `kafka://host:port[,...]`), `topics`
 * (required, comma-separated), `groupID` (default: the connector's id), `readFromBeginning`
 * (default true), `clientID`, `connectTimeout` (default 10s), `sdk.batch.size` (records per read,
 * default 10,000).
 * Destination: `url`, `topic` (a fixed name, or a template; default
 * `{{ index .Metadata "opencdc.collection" }}`), `sdk.record.format` (`payload` — the default —,
 * `opencdc/json`, `template`), `partitions` of created topics (default 1), `clientID`,
 * `connectTimeout`.
 * @module
 */
import type { ZodType } from 'zod'
import { compileTemplate } from '../../template.ts'
import { readRecordFormat, type RecordFormatName } from '../record-format.ts'
import { connectorSettings, type SettingsReader } from '../settings.ts'
import { TOPIC_NAME, collectionTopic, fixedTopic, type LogDestinationOptions, type TopicOf } from './destination.ts'
import type { LogSourceOptions } from './source.ts'

/** Conduit's default destination topic. */
export const DEFAULT_TOPIC_TEMPLATE = '{{ index .Metadata "opencdc.collection" }}'

/** Records per read of log sources when `sdk.batch.size` is 0 or absent. */
export const DEFAULT_LOG_BATCH = 10_000

/**
 * The settings of both roles: the source's and the destination's options without what names the
 * plugin (`plugin`, `locationSetting`) and the source's group fallback, which each plugin brings.
 */
export interface TributaryLogSettings
  extends Omit<LogSourceOptions, 'plugin' | 'locationSetting' | 'defaultGroupId'>, Omit<LogDestinationOptions, 'plugin' | 'locationSetting'> {}

const COLLECTION_TEMPLATE = /^\{\{-?\s*index\s+\.Metadata\s+"opencdc\.collection"\s*-?\}\}$/

/** Reads a destination `topic` setting: a fixed topic, Conduit's collection default, or a template. */
export function readTopic(s: SettingsReader, name: string, fallback: string): { topic: TopicOf; fixed: string | undefined } {
  const text = s.string(name, fallback)
  if (TOPIC_NAME.test(text)) {
    if (text.length > 249) s.fail(name, 'is longer than 249 characters, the longest Kafka topic name')
    return { topic: fixedTopic(text), fixed: text }
  }
  if (COLLECTION_TEMPLATE.test(text)) return { topic: collectionTopic(name), fixed: undefined }
  if (!text.includes('{{') || !text.includes('}}')) {
    s.fail(name, `is ${JSON.stringify(text)}: neither a valid topic name (letters, digits, . _ -) nor a template`)
    return { topic: fixedTopic(text), fixed: undefined }
  }
  try {
    const render = compileTemplate(text, name)
    return {
      topic: (record) => {
        const topic = render(record)
        if (topic === '') throw new Error(`"${name}" template ${text} gave an empty topic for record ${record.position.toString()}`)
        return topic
      },
      fixed: undefined,
    }
  } catch (err) {
    s.fail(name, `is not a usable template: ${(err as Error).message}`)
    return { topic: fixedTopic(text), fixed: undefined }
  }
}

/** Source and destination settings read by both plugins, given their names and defaults. */
export function readLogSettings(
  s: SettingsReader,
  o: { readFromBeginning: boolean; formats: readonly RecordFormatName[]; format: RecordFormatName; topicSetting: readonly string[] },
): Omit<TributaryLogSettings, 'url' | 'clientId' | 'topic' | 'fixedTopic'> {
  let topics = s.list('topics', [])
  for (const legacy of o.topicSetting) if (topics.length === 0) topics = s.list(legacy, [])
  const groupId = s.optional('groupID')
  const readFromBeginning = s.bool('readFromBeginning', o.readFromBeginning)
  const batchSize = s.int('sdk.batch.size', 0, 0) || DEFAULT_LOG_BATCH
  const format = readRecordFormat(s, o.formats, o.format)
  const partitions = s.int('partitions', 1, 1)
  const connectTimeoutMs = s.duration('connectTimeout', 10_000)
  return { topics, groupId, readFromBeginning, batchSize, format, partitions, connectTimeoutMs }
}

/** The zod schema of the `tributary-log` settings (both roles; each role checks its own required ones). */
export const tributaryLogSettings: ZodType<TributaryLogSettings> = connectorSettings((s) => {
  const url = s.required('url')
  const common = readLogSettings(s, { readFromBeginning: true, formats: ['payload', 'opencdc/json', 'template'], format: 'payload', topicSetting: [] })
  const { topic, fixed } = readTopic(s, 'topic', DEFAULT_TOPIC_TEMPLATE)
  s.accept('sdk.batch.delay')
  return { ...common, url, topic, fixedTopic: fixed, clientId: s.optional('clientID') }
})
