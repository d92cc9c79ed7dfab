/**
 * Shard discovery: every shard of a stream through paginated `ListShards`, with errors that name the
 * stream and the call.
 * @module
 */
import { ListShardsCommand, type KinesisClient, type Shard } from '@aws-sdk/client-kinesis'
import { TributaryError } from '../core/errors.ts'

/** Maps an SDK error of `call` on `stream` to a {@link TributaryError} that names both. */
export function kinesisError(err: unknown, call: string, stream: string): TributaryError {
  const name = (err as { name?: string }).name ?? 'Error'
  const message = (err as Error).message
  if (name === 'ResourceNotFoundException')
    return new TributaryError('TRIB_KINESIS', `Kinesis stream ${stream} does not exist (${call}: ${message})`, { cause: err, details: { stream, call } })
  if (name === 'AccessDeniedException')
    return new TributaryError('TRIB_KINESIS', `access denied to Kinesis stream ${stream}: grant kinesis:${call} (${message})`, { cause: err, details: { stream, call } })
  return new TributaryError('TRIB_KINESIS', `Kinesis ${call} on stream ${stream} failed: ${name}: ${message}`, { cause: err, retriable: true, details: { stream, call } })
}

/** Every shard of `stream` (open and closed, within retention). */
export async function listShards(client: KinesisClient, stream: string, signal?: AbortSignal): Promise<Shard[]> {
  const shards: Shard[] = []
  let nextToken: string | undefined
  do {
    try {
      const out = await client.send(new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: stream }), { abortSignal: signal })
      shards.push(...(out.Shards ?? []))
      nextToken = out.NextToken
    } catch (err) {
      throw kinesisError(err, 'ListShards', stream)
    }
  } while (nextToken)
  return shards
}

/** The parents of a shard (one after a split, two after a merge). */
export function shardParents(shard: Shard): string[] {
  return [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => p !== undefined && p !== '')
}
