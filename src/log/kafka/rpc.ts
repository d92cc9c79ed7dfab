/**
 * Low-level Kafka requests through a platformatic client: picks the highest API version both sides
 * support (platformatic's `kGetApi`) and sends it on a given connection.
 *
 * Used where platformatic's high-level clients do not give the control we need (the consumer-group
 * protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch).
 *
 * @example
 * ```ts
 * const response = await callApi(client, connection, 'Heartbeat', groupId, generation, memberId, null)
 * ```
 * @module
 */
import { kGetApi, type Base, type Connection } from '@platformatic/kafka'

type AnyApi = ((connection: Connection, ...args: unknown[]) => void) & { version: number }

/** Resolves the platformatic API implementation for `name` (e.g. `JoinGroup`) that the broker supports. */
export function getApi(client: Base, name: string): Promise<AnyApi> {
  return new Promise((resolve, reject) => {
    const getter = (client as unknown as { [kGetApi]: (name: string, cb: (err: Error | null, api?: AnyApi) => void) => void })[kGetApi]
    getter.call(client, name, (err, api) => (err || !api ? reject(err ?? new Error(`no API ${name}`)) : resolve(api)))
  })
}

/** Sends one request and resolves with the parsed response (rejects with platformatic's error, which keeps `.response`). */
export async function callApi<T>(client: Base, connection: Connection, name: string, ...args: unknown[]): Promise<T> {
  const api = await getApi(client, name)
  return new Promise<T>((resolve, reject) => {
    api(connection, ...args, (err: Error | null, response?: T) => (err ? reject(err) : resolve(response as T)))
  })
}

/** Rejects with `make()` when `promise` does not settle within `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, make: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(make()), Math.max(0, ms))
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Resolves after `ms` (never rejects). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
