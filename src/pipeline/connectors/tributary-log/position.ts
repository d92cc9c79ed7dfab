/**
 * Positions of records read from a log: the JSON Conduit's Kafka source stores,
 * `{"GroupID":"g","Topic":"t","Partition":0,"Offset":41}`, so the consumer group travels with the
 * position (a restart without a configured `groupID` finds its group again).
 * @example
 * ```ts
 * encodeLogPosition({ groupId: 'g', topic: 't', partition: 0, offset: 41 }).toString() // {"GroupID":"g","Topic":"t","Partition":0,"Offset":41}
 * ```
 * @module
 */
import { TributaryError } from '../../../core/errors.ts'

export interface LogPosition {
  readonly groupId: string
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

/** The position bytes of a record. */
export function encodeLogPosition(p: LogPosition): Buffer {
  return Buffer.from(`{"GroupID":${JSON.stringify(p.groupId)},"Topic":${JSON.stringify(p.topic)},"Partition":${p.partition},"Offset":${p.offset}}`)
}

/** Reads a position, or throws `TRIB_CONNECTOR_POSITION` naming it. */
export function decodeLogPosition(position: Buffer): LogPosition {
  const text = position.toString('utf8')
  let v: { GroupID?: unknown; Topic?: unknown; Partition?: unknown; Offset?: unknown }
  try {
    v = JSON.parse(text)
  } catch {
    v = {}
  }
  if (
    v === null ||
    typeof v !== 'object' ||
    typeof v.GroupID !== 'string' ||
    typeof v.Topic !== 'string' ||
    !Number.isSafeInteger(v.Partition) ||
    !Number.isSafeInteger(v.Offset)
  ) {
    throw new TributaryError('TRIB_CONNECTOR_POSITION', `log source: position ${JSON.stringify(text)} is not {"GroupID","Topic","Partition","Offset"}`, { details: { position: text } })
  }
  return { groupId: v.GroupID, topic: v.Topic, partition: v.Partition as number, offset: v.Offset as number }
}
