/**
 * Connecting to PostgreSQL with the session settings of the type mapping, and telling the errors
 * apart: the server went away (retry), a row broke a rule (nack it), a setting is wrong (stop).
 *
 * @example
 * ```ts
 * const client = await connect(url, 'postgres destination')
 * try { ... } catch (err) { if (isConnectionError(err)) reconnect() }
 * ```
 * @module
 */
import pg from 'pg'
import { TributaryError } from '../../../core/errors.ts'
import { SESSION_OPTIONS } from './types.ts'

/** The fields of a PostgreSQL error the connectors use. */
export interface PgError extends Error {
  code?: string
  detail?: string
  constraint?: string
  table?: string
  column?: string
}

/** A URL with its password replaced by `***`, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@')
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND'])

/**
 * True when `err` means the connection is gone or the server is not (yet) accepting work: network
 * errors, `57P01..57P03` (shutdown, crash, starting), class `08` (connection exception), pg's
 * "Connection terminated". Retrying on a new connection may succeed.
 */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as PgError).code
  if (code !== undefined && (NETWORK_CODES.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')) return true
  return /Connection terminated|not queryable|Client was closed|connection error|read ECONNRESET|write EPIPE|socket hang up/i.test(err.message)
}

/** True for a deadlock or serialization failure: the whole transaction may simply be retried. */
export function isTransientTxError(err: unknown): boolean {
  const code = (err as PgError | undefined)?.code
  return code === '40001' || code === '40P01'
}

/**
 * True when `err` is about the data of a row (classes 22 data exception and 23 integrity
 * constraint violation, and wrong-type or unknown-column errors), so the row alone is at fault.
 */
export function isRowError(err: unknown): boolean {
  const code = (err as PgError | undefined)?.code
  if (typeof code !== 'string') return false
  return code.startsWith('22') || code.startsWith('23') || code === '42804' || code === '42703' || code === '2F002'
}

/** `23505 duplicate key value ... (Key (id)=(1) already exists.)` — code, message and detail. */
export function pgErrorText(err: unknown): string {
  const e = err as PgError
  const detail = e.detail ? ` (${e.detail})` : ''
  return e.code ? `${e.code} ${e.message}${detail}` : `${e.message}${detail}`
}

/** Options for {@link connect}. */
export interface ConnectOptions {
  /** Open a replication connection (`replication=database`). */
  replication?: boolean
  /** Milliseconds to wait for the connection. Default 10,000. */
  timeoutMs?: number
  /** Result type parsers (the snapshot reader maps values itself). */
  types?: pg.CustomTypesConfig
}

/**
 * Connects to `url` with {@link SESSION_OPTIONS}. A connection failure becomes
 * `TRIB_POSTGRES_UNAVAILABLE` (retriable) naming `who` and the `url` setting; a refused login or
 * a missing database becomes `TRIB_POSTGRES_CONFIG`.
 */
export async function connect(url: string, who: string, options: ConnectOptions = {}): Promise<pg.Client> {
  const config: pg.ClientConfig & { replication?: string } = {
    connectionString: url,
    options: SESSION_OPTIONS,
    connectionTimeoutMillis: options.timeoutMs ?? 10_000,
    application_name: 'tributary',
  }
  if (options.replication) config.replication = 'database'
  if (options.types) config.types = options.types
  const client = new pg.Client(config)
  try {
    await client.connect()
  } catch (err) {
    client.end().catch(() => undefined)
    const e = err as PgError
    if (e.code === '28000' || e.code === '28P01' || e.code === '3D000' || e.code === '42501') {
      const what = options.replication ? 'a replication connection' : 'a connection'
      throw new TributaryError('TRIB_POSTGRES_CONFIG', `${who}: url ${redactUrl(url)} refused ${what}: ${pgErrorText(e)}`, { cause: err, details: { setting: 'url', pgCode: e.code } })
    }
    throw new TributaryError('TRIB_POSTGRES_UNAVAILABLE', `${who}: cannot connect to url ${redactUrl(url)}: ${e.message || e.code}`, { cause: err, retriable: true, details: { setting: 'url', code: e.code } })
  }
  // An idle client whose server goes away emits 'error'; callers see it on their next query.
  client.on('error', () => undefined)
  return client
}

/** Closes `client`, ignoring errors (it may be broken already). */
export async function closeQuietly(client: pg.Client | null | undefined): Promise<void> {
  if (!client) return
  await client.end().catch(() => undefined)
}

/** Quotes an identifier (`a"b` → `"a""b"`). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** Resolves after `ms`, or early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
