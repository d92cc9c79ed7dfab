/**
 * Start-up checks of a group's topics (goka's topic manager): inputs, outputs, joined and lookup
 * tables must exist; inputs, joined tables, the loop and the group table must be co-partitioned;
 * a missing group table (compacted) or loop topic is created with the inputs' partition count.
 *
 * @example
 * ```ts
 * const partitions = await prepareTopics(log, graph, logger) // 4, or throws TRIB_PROCESSOR_COPARTITIONING
 * ```
 * @module
 */
import { TributaryError, isTributaryError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Log, TopicDescription } from '../log/types.ts'
import type { GroupGraph } from './graph.ts'

async function describeOrUndefined(log: Log, topic: string): Promise<TopicDescription | undefined> {
  try {
    return await log.admin.describeTopic(topic)
  } catch (err) {
    if (isTributaryError(err, 'TRIB_LOG_UNKNOWN_TOPIC')) return undefined
    throw err
  }
}

function missing(graph: GroupGraph, kind: string, topic: string): TributaryError {
  return new TributaryError(
    'TRIB_LOG_UNKNOWN_TOPIC',
    `group ${graph.group}: ${kind} topic ${JSON.stringify(topic)} does not exist; create it first (tributary log create ${topic} --partitions N)`,
    { details: { group: graph.group, topic } },
  )
}

/**
 * Checks the group's topics and creates its table and loop topics when missing. Returns the
 * partition count shared by the co-partitioned topics.
 */
export async function prepareTopics(log: Log, graph: GroupGraph, logger: Logger): Promise<number> {
  const counts: [topic: string, partitions: number][] = []
  const describeRequired = async (topic: string, kind: string): Promise<TopicDescription> => {
    const d = await describeOrUndefined(log, topic)
    if (!d) throw missing(graph, kind, topic)
    return d
  }
  for (const e of graph.inputStreams) counts.push([e.topic, (await describeRequired(e.topic, 'input')).partitions])
  for (const e of graph.joinTables) counts.push([e.topic, (await describeRequired(e.topic, 'joined table')).partitions])
  for (const e of graph.lookupTables) await describeRequired(e.topic, 'lookup table')
  for (const e of graph.outputStreams) await describeRequired(e.topic, 'output')
  const own: { topic: string; compact: boolean }[] = []
  if (graph.groupTableEdge) own.push({ topic: graph.groupTable, compact: true })
  if (graph.loopEdge) own.push({ topic: graph.loopStream, compact: false })
  const absent: { topic: string; compact: boolean }[] = []
  for (const t of own) {
    const d = await describeOrUndefined(log, t.topic)
    if (!d) absent.push(t)
    else {
      counts.push([t.topic, d.partitions])
      if (t.compact && d.cleanupPolicy !== 'compact') {
        logger.warn({ topic: t.topic, cleanupPolicy: d.cleanupPolicy }, 'the group table is not compacted: its changelog (and recovery time) grows without bound')
      }
    }
  }
  const distinct = new Set(counts.map(([, n]) => n))
  if (distinct.size > 1) {
    const list = counts.map(([t, n]) => `${t}: ${n} partition${n === 1 ? '' : 's'}`).join(', ')
    throw new TributaryError(
      'TRIB_PROCESSOR_COPARTITIONING',
      `group ${graph.group}: topics are not co-partitioned (${list}); inputs, joined tables, the loop and the group table need one partition count — recreate them, or use lookup() for a table that is not co-partitioned`,
      { details: { group: graph.group, partitions: Object.fromEntries(counts) } },
    )
  }
  const partitions = counts[0][1]
  for (const t of absent) {
    try {
      await log.admin.createTopic({ name: t.topic, partitions, cleanupPolicy: t.compact ? 'compact' : 'delete' })
      logger.info({ topic: t.topic, partitions, cleanupPolicy: t.compact ? 'compact' : 'delete' }, 'created topic')
    } catch (err) {
      if (!isTributaryError(err, 'TRIB_LOG_TOPIC_EXISTS')) throw err
      // Another instance created it meanwhile: check it like an existing one.
      const d = await describeRequired(t.topic, t.compact ? 'group table' : 'loop')
      if (d.partitions !== partitions) {
        throw new TributaryError(
          'TRIB_PROCESSOR_COPARTITIONING',
          `group ${graph.group}: ${t.topic} has ${d.partitions} partitions but the inputs have ${partitions}`,
          { details: { group: graph.group, topic: t.topic, partitions: d.partitions, expected: partitions } },
        )
      }
    }
  }
  return partitions
}
