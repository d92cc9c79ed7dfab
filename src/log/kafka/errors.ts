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
import type { ResolvedSecurity } from './security.ts'

/** What was being done when an error happened; used to write messages that say what failed. */
export interface ErrorContext {
  /** The operation, e.g. `createTopic`, `send`, `commit`. */
  op: string
  topic?: string
  groupId?: string
  /** Bootstrap addresses, named in "broker unreachable" messages. */
  brokers?: readonly string[]
  /** The connection's TLS/SASL settings, named (never the secrets) in authentication and TLS errors. */
  security?: ResolvedSecurity
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

  const security = securityError(err, ctx)
  if (security !== undefined) return security
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

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
])
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'])
const CONNECTION_FAILED = /^Connection to (\S+) failed\./

/** The broker a connection error names (platformatic: "Connection to host:port failed."). */
function failedBroker(leaves: Leaf[], ctx: ErrorContext): string {
  for (const leaf of leaves) {
    const m = CONNECTION_FAILED.exec(leaf.error.message)
    if (m) return m[1]
  }
  return ctx.brokers && ctx.brokers.length > 0 ? ctx.brokers.join(', ') : '?'
}

/**
 * A SASL or TLS failure as `TRIB_LOG_AUTH_FAILED` / `TRIB_LOG_TLS` naming the broker and the cause,
 * or `undefined` when `err` is something else. Retrying cannot fix these, so they are not retriable.
 */
export function securityError(err: unknown, ctx: ErrorContext): TributaryError | undefined {
  const leaves = errorLeaves(err)
  const ids = apiIds(err)
  const details: Record<string, unknown> = { op: ctx.op }
  const make = (code: ErrorCode, broker: string, message: string): TributaryError =>
    new TributaryError(code, `${ctx.op}: ${message}`, { cause: err, retriable: false, details: { ...details, broker } })
  if (leaves.some((l) => l.code === 'PLT_KFK_AUTHENTICATION') || ids.has('SASL_AUTHENTICATION_FAILED') || ids.has('UNSUPPORTED_SASL_MECHANISM') || ids.has('ILLEGAL_SASL_STATE')) {
    const broker = failedBroker(leaves, ctx)
    const sasl = ctx.security?.sasl
    const who = sasl ? ` (mechanism ${sasl.mechanism}${sasl.username ? `, user ${sasl.username}` : ''})` : ''
    const reason = leaves.map((l) => l.serverMessage).find((m) => m) ?? (ids.has('UNSUPPORTED_SASL_MECHANISM') ? 'the mechanism is not enabled on this listener' : 'wrong user name, password or token')
    return make('TRIB_LOG_AUTH_FAILED', broker, `SASL authentication with Kafka broker ${broker} failed${who}: ${reason}`)
  }
  for (const leaf of leaves) {
    const code = typeof leaf.code === 'string' ? leaf.code : ''
    const broker = (): string => failedBroker(leaves, ctx)
    if (UNTRUSTED.has(code)) {
      return make('TRIB_LOG_TLS', broker(), `TLS connection to Kafka broker ${broker()} failed: its certificate is not trusted (${leaf.error.message}); set tls.ca to the CA that signed it`)
    }
    if (EXPIRED.has(code)) return make('TRIB_LOG_TLS', broker(), `TLS connection to Kafka broker ${broker()} failed: ${leaf.error.message}`)
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return make(
        'TRIB_LOG_TLS',
        broker(),
        `TLS connection to Kafka broker ${broker()} failed: the host name does not match its certificate (${leaf.error.message}); connect by a name the certificate lists, or set tls.servername`,
      )
    }
    if (code === 'PLT_KFK_USER' && /requires TLS/i.test(leaf.error.message)) {
      return make('TRIB_LOG_TLS', broker(), `Kafka broker ${broker()} expects TLS on this listener: use a kafka+ssl:// URL (tls: true)`)
    }
    if (/^ERR_SSL_.*(WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE)/.test(code) || (code === 'PLT_KFK_USER' && /verify the broker supports TLS/i.test(leaf.error.message))) {
      return make('TRIB_LOG_TLS', broker(), `TLS handshake with Kafka broker ${broker()} failed: the listener does not speak TLS (use kafka://)`)
    }
    if (/^ERR_SSL_.*ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN)/.test(code)) {
      const hint = ctx.security?.clientCertificate ? 'its CA does not trust the client certificate' : 'the listener requires a client certificate: set tls.cert and tls.key'
      return make('TRIB_LOG_TLS', broker(), `TLS connection to Kafka broker ${broker()} was refused: ${hint} (${code})`)
    }
    if (/^ERR_SSL_/.test(code)) return make('TRIB_LOG_TLS', broker(), `TLS connection to Kafka broker ${broker()} failed: ${leaf.error.message} (${code})`)
  }
  return undefined
}

function unknownTopicName(leaves: Leaf[]): string | undefined {
  for (const leaf of leaves) {
    const m = UNKNOWN_TOPIC_MESSAGE.exec(leaf.error.message)
    if (m) return m[1]
  }
  return undefined
}
