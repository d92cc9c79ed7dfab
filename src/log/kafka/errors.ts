/**
 * Maps `@platformatic/kafka` and broker errors to {@link TributaryError}s with stable codes.
 *
 * platformatic nests errors (`MultipleErrors` of retries, `ResponseError` of per-partition
 * `ProtocolError`s, `cause` chains); {@link errorLeaves} flattens them so the mapping can look at the
 * broker's error ids (`TOPIC_ALREADY_EXISTS`, `REBALANCE_IN_PROGRESS`, ...).
 *
 * @example
 * ```ts
 * try { await admin.createTopics({ topics: ['t'] }) }
 * catch (err) { throw toTributaryError(err, { op: 'createTopic', topic: 't', brokers }) }
 * ```
 * @module
 */
import { TributaryError, type ErrorCode } from '../../core/errors.ts'

/** What was being done when an error happened; used to write messages that say what failed. */
export interface ErrorContext {
  /** The operation, e.g. `createTopic`, `send`, `commit`. */
  op: string
  topic?: string
  groupId?: string
  /** Bootstrap addresses, named in "broker unreachable" messages. */
  brokers?: readonly string[]
}

/** A flattened view of one platformatic error. */
interface Leaf {
  readonly error: Error
  readonly code: string | undefined
  readonly apiId: string | undefined
  readonly canRetry: boolean | undefined
  readonly serverMessage: string | undefined
}

/** Flattens nested platformatic errors (`errors` arrays and `cause` chains) into their leaves. */
export function errorLeaves(err: unknown): Leaf[] {
  const out: Leaf[] = []
  const seen = new Set<unknown>()
  const walk = (e: unknown, depth: number): void => {
    if (!(e instanceof Error) || seen.has(e) || depth > 16) return
    seen.add(e)
    const anyErr = e as Error & { errors?: unknown[]; code?: string; apiId?: string; canRetry?: boolean; serverErrorMessage?: string | null }
    const children = Array.isArray(anyErr.errors) ? anyErr.errors : []
    for (const child of children) walk(child, depth + 1)
    if (e.cause !== undefined) walk(e.cause, depth + 1)
    if (children.length === 0) {
      out.push({
        error: e,
        code: anyErr.code,
        apiId: anyErr.apiId,
        canRetry: anyErr.canRetry,
        serverMessage: anyErr.serverErrorMessage ?? undefined,
      })
    }
  }
  walk(err, 0)
  return out
}

/** The broker error ids (e.g. `NOT_COORDINATOR`) found anywhere in `err`. */
export function apiIds(err: unknown): Set<string> {
  const ids = new Set<string>()
  for (const leaf of errorLeaves(err)) if (leaf.apiId) ids.add(leaf.apiId)
  return ids
}

/** True when `err` contains the broker error `apiId`. */
export function hasApiError(err: unknown, apiId: string): boolean {
  return apiIds(err).has(apiId)
}

/** True when `err` is (or contains only) network-level failures: refused, reset, timed out. */
export function isNetworkError(err: unknown): boolean {
  const leaves = errorLeaves(err)
  return leaves.length > 0 && leaves.every((l) => l.code === 'PLT_KFK_NETWORK' || isSocketError(l.error))
}

function isSocketError(err: Error): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(code)
}

/** True when retrying may help: every leaf says it can be retried, or it is a network failure. */
export function isRetriable(err: unknown): boolean {
  const leaves = errorLeaves(err)
  if (leaves.length === 0) return false
  return leaves.every((l) => l.canRetry === true || l.code === 'PLT_KFK_NETWORK' || isSocketError(l.error))
}

const UNKNOWN_TOPIC_MESSAGE = /^Unknown topic (.+)\.$/

/** Builds the "no broker reachable" error; its message names the addresses that were tried. */
export function brokerUnreachable(brokers: readonly string[], cause: unknown, waitedMs?: number): TributaryError {
  const reason = describe(cause)
  const waited = waitedMs === undefined ? '' : ` within ${waitedMs} ms`
  return new TributaryError(
    'TRIB_LOG_BROKER_UNREACHABLE',
    `no Kafka broker reachable${waited} (tried ${brokers.join(', ')})${reason ? `: ${reason}` : ''}`,
    { cause, retriable: true, details: { brokers: [...brokers] } },
  )
}

/** A short human description of a platformatic error: leaf messages and broker error ids. */
export function describe(err: unknown): string {
  const leaves = errorLeaves(err)
  if (leaves.length === 0) return err instanceof Error ? err.message : String(err)
  const parts = new Set<string>()
  for (const leaf of leaves) {
    const id = leaf.apiId ? `${leaf.apiId}` : ''
    const server = leaf.serverMessage ? ` (${leaf.serverMessage})` : ''
    parts.add(id ? `${id}${server}` : `${leaf.error.message}${server}`)
  }
  return [...parts].join('; ')
}

/**
 * Turns any error thrown by platformatic (or the broker) into a {@link TributaryError}.
 * A `TributaryError` passes through unchanged.
 */
export function toTributaryError(err: unknown, ctx: ErrorContext): TributaryError {
  if (err instanceof TributaryError) return err
  const ids = apiIds(err)
  const leaves = errorLeaves(err)
  const topic = ctx.topic ?? unknownTopicName(leaves)
  const details: Record<string, unknown> = { op: ctx.op }
  if (topic !== undefined) details.topic = topic
  if (ctx.groupId !== undefined) details.groupId = ctx.groupId
  if (ids.size > 0) details.kafkaErrors = [...ids]
  const make = (code: ErrorCode, message: string, retriable = isRetriable(err)): TributaryError =>
    new TributaryError(code, message, { cause: err, retriable, details })

  if (ids.has('TOPIC_ALREADY_EXISTS')) return make('TRIB_LOG_TOPIC_EXISTS', `${ctx.op}: topic ${topic ?? '?'} already exists`, false)
  if (ids.has('UNKNOWN_TOPIC_OR_PARTITION') || ids.has('UNKNOWN_TOPIC_ID') || leaves.some((l) => UNKNOWN_TOPIC_MESSAGE.test(l.error.message))) {
    return make('TRIB_LOG_UNKNOWN_TOPIC', `${ctx.op}: topic ${topic ?? '?'} does not exist`, false)
  }
  if (ids.has('OFFSET_OUT_OF_RANGE')) return make('TRIB_LOG_OFFSET_OUT_OF_RANGE', `${ctx.op}: offset out of range${topic ? ` on ${topic}` : ''}`, false)
  if (ids.has('REBALANCE_IN_PROGRESS')) {
    return make('TRIB_LOG_REBALANCE_IN_PROGRESS', `${ctx.op}: group ${ctx.groupId ?? '?'} is rebalancing; retry after it settles`, true)
  }
  if (leaves.length > 0 && leaves.every((l) => l.code === 'PLT_KFK_TIMEOUT' || /timeout/i.test(l.error.message)) && ids.size === 0) {
    return make('TRIB_TIMEOUT', `${ctx.op}: Kafka request timed out: ${describe(err)}`, true)
  }
  if (isNetworkError(err) || (leaves.some((l) => l.code === 'PLT_KFK_NETWORK' || isSocketError(l.error)) && isRetriable(err))) {
    return brokerUnreachable(ctx.brokers ?? [], err)
  }
  const what = [ctx.op, topic ? `topic ${topic}` : '', ctx.groupId ? `group ${ctx.groupId}` : ''].filter(Boolean).join(' ')
  return make('TRIB_LOG_KAFKA', `${what}: Kafka error: ${describe(err)}`)
}

function unknownTopicName(leaves: Leaf[]): string | undefined {
  for (const leaf of leaves) {
    const m = UNKNOWN_TOPIC_MESSAGE.exec(leaf.error.message)
    if (m) return m[1]
  }
  return undefined
}
