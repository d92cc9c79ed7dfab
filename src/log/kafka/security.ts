/**
 * TLS and SASL for every connection Tributary opens to Kafka: what users configure (in code, in a
 * `kafka+ssl://` URL's query, or in YAML), how secrets are read (inline, from the environment or a
 * file), and the `@platformatic/kafka` connection options they become.
 *
 * Secrets are handed to platformatic as functions (its credential providers), so they never sit in
 * an options object that a logger or an error might print.
 *
 * @example
 * ```ts
 * const security = resolveSecurity({
 *   tls: { ca: { file: '/etc/kafka/ca.pem' } },
 *   sasl: { mechanism: 'SCRAM-SHA-512', username: 'billing', password: { env: 'KAFKA_PASSWORD' } },
 * })
 * new Admin({ clientId: 'a', bootstrapBrokers: ['broker:9094'], ...security.connection })
 * ```
 * @module
 */
import fs from 'node:fs'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import { z } from 'zod'
import { TributaryError } from '../../core/errors.ts'

/** A secret: the value itself, an environment variable that holds it, or a file that holds it. */
export type Secret = string | { env: string } | { file: string }

/** A PEM value: inline text or bytes, or from the environment or a file. */
export type PemSource = Secret | Buffer

/**
 * TLS settings. The broker's certificate is checked against `ca` (default: the system's CAs), and
 * its name against the host connected to (or `servername`); both are on unless
 * `rejectUnauthorized: false`.
 *
 * @example
 * ```ts
 * const tls: KafkaTlsOptions = { ca: { file: 'ca.pem' }, cert: { file: 'client.pem' }, key: { file: 'client-key.pem' } }
 * ```
 */
export interface KafkaTlsOptions {
  /** CA certificate(s) (PEM) that signed the brokers' certificates. Default: the system's CAs. */
  ca?: PemSource
  /** Client certificate chain (PEM), for listeners that require client authentication (mTLS). */
  cert?: PemSource
  /** Private key (PEM) of `cert`. */
  key?: PemSource
  /** Passphrase of an encrypted `key`. */
  passphrase?: Secret
  /** Name to check the broker's certificate against (and to send as SNI). Default: the host connected to. */
  servername?: string
  /** Check the broker's certificate. Default `true`; `false` only for throw-away test setups. */
  rejectUnauthorized?: boolean
}

/** SASL mechanisms the Kafka backend speaks. */
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'] as const

/** One of {@link SASL_MECHANISMS}. */
export type SaslMechanism = (typeof SASL_MECHANISMS)[number]

/**
 * SASL settings. `PLAIN` and `SCRAM-*` take `username` and `password`; `OAUTHBEARER` takes a
 * `token` — a secret or a callback that returns a fresh token (called for each new connection and
 * re-authentication).
 *
 * @example
 * ```ts
 * const sasl: KafkaSaslOptions = { mechanism: 'OAUTHBEARER', token: async () => (await idp.token()).access_token }
 * ```
 */
export interface KafkaSaslOptions {
  mechanism: SaslMechanism
  username?: Secret
  password?: Secret
  token?: Secret | (() => string | Promise<string>)
}

/** How to secure the connections: `tls: true` is TLS with the system's CAs. */
export interface KafkaSecurityOptions {
  tls?: boolean | KafkaTlsOptions
  sasl?: KafkaSaslOptions
}

/** The platformatic connection options for a {@link KafkaSecurityOptions}, plus what errors may name. */
export interface ResolvedSecurity {
  /** Spread into platformatic client and `ConnectionPool` options. */
  readonly connection: { tls?: TlsConnectionOptions; sasl?: PlatformaticSasl }
  /** `true` when connections use TLS. */
  readonly tls: boolean
  /** Whether a client certificate is configured. */
  readonly clientCertificate: boolean
  /** The SASL mechanism and user, for error messages (never the password). */
  readonly sasl?: { readonly mechanism: SaslMechanism; readonly username?: string }
}

type PlatformaticSasl = {
  mechanism: SaslMechanism
  username?: () => string
  password?: () => string
  token?: () => string | Promise<string>
}

function invalid(field: string, message: string): TributaryError {
  return new TributaryError('TRIB_INVALID_ARGUMENT', `kafka ${field}: ${message}`, { details: { field } })
}

/**
 * Reads a secret now. Text from a file or the environment is trimmed at the ends (a trailing
 * newline is not part of a password) unless `raw` (PEM text keeps its shape).
 */
export function readSecret(secret: Secret | Buffer, field: string, raw = false): string | Buffer {
  if (Buffer.isBuffer(secret)) return secret
  if (typeof secret === 'string') return secret
  if (secret !== null && typeof secret === 'object' && 'env' in secret && typeof secret.env === 'string') {
    const value = process.env[secret.env]
    if (value === undefined || value === '') throw invalid(field, `environment variable ${secret.env} is not set`)
    return raw ? value : value.trim()
  }
  if (secret !== null && typeof secret === 'object' && 'file' in secret && typeof secret.file === 'string') {
    let text: string
    try {
      text = fs.readFileSync(secret.file, 'utf8')
    } catch (err) {
      throw invalid(field, `cannot read ${secret.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    return raw ? text : text.trim()
  }
  throw invalid(field, 'expected a string, { env: NAME } or { file: PATH }')
}

/** Checks security options and reads their secrets (files and environment variables) once. */
export function resolveSecurity(options: KafkaSecurityOptions | undefined): ResolvedSecurity {
  if (options === undefined || options === null) return Object.defineProperty({ tls: false, clientCertificate: false }, 'connection', { value: {}, enumerable: false }) as ResolvedSecurity
  if (typeof options !== 'object') throw invalid('security', 'expected an object with tls and/or sasl')
  const connection: ResolvedSecurity['connection'] = {}
  let clientCertificate = false
  const tlsOption = options.tls
  if (tlsOption !== undefined && tlsOption !== false) {
    const t: KafkaTlsOptions = tlsOption === true ? {} : tlsOption
    if (t === null || typeof t !== 'object') throw invalid('tls', 'expected true or an object')
    const tls: TlsConnectionOptions = { rejectUnauthorized: t.rejectUnauthorized ?? true }
    if (t.rejectUnauthorized !== undefined && typeof t.rejectUnauthorized !== 'boolean') throw invalid('tls.rejectUnauthorized', 'expected a boolean')
    if (t.ca !== undefined) tls.ca = readSecret(t.ca, 'tls.ca', true)
    if ((t.cert === undefined) !== (t.key === undefined)) throw invalid('tls', 'cert and key go together (a client certificate needs its private key)')
    if (t.cert !== undefined && t.key !== undefined) {
      tls.cert = readSecret(t.cert, 'tls.cert', true)
      tls.key = readSecret(t.key, 'tls.key', true)
      clientCertificate = true
    }
    if (t.passphrase !== undefined) tls.passphrase = String(readSecret(t.passphrase, 'tls.passphrase'))
    if (t.servername !== undefined) {
      if (typeof t.servername !== 'string' || !/^[A-Za-z0-9.-]+$/.test(t.servername)) throw invalid('tls.servername', 'expected a host name')
      tls.servername = t.servername
    }
    connection.tls = tls
  }
  let sasl: ResolvedSecurity['sasl']
  if (options.sasl !== undefined) {
    const s = options.sasl
    if (s === null || typeof s !== 'object') throw invalid('sasl', 'expected an object with mechanism')
    if (!SASL_MECHANISMS.includes(s.mechanism)) throw invalid('sasl.mechanism', `expected one of ${SASL_MECHANISMS.join(', ')}, got ${JSON.stringify(s.mechanism)}`)
    const out: PlatformaticSasl = { mechanism: s.mechanism }
    if (s.mechanism === 'OAUTHBEARER') {
      if (s.token === undefined) throw invalid('sasl.token', 'OAUTHBEARER needs a token (a secret or a function returning one)')
      const token = s.token
      if (typeof token === 'function') out.token = token
      else {
        const value = String(readSecret(token, 'sasl.token'))
        out.token = () => value
      }
      sasl = { mechanism: s.mechanism }
    } else {
      if (s.username === undefined || s.password === undefined) throw invalid('sasl', `${s.mechanism} needs username and password`)
      const username = String(readSecret(s.username, 'sasl.username'))
      const password = String(readSecret(s.password, 'sasl.password'))
      out.username = () => username
      out.password = () => password
      sasl = { mechanism: s.mechanism, username }
    }
    connection.sasl = out
  }
  const resolved = { tls: connection.tls !== undefined, clientCertificate, sasl } as ResolvedSecurity
  // Not enumerable: a logger or JSON.stringify of settings never prints a private key or passphrase.
  Object.defineProperty(resolved, 'connection', { value: connection, enumerable: false })
  return resolved
}

/** Merges security options: fields of `override` win, `tls` objects are merged field by field. */
export function mergeSecurity(base: KafkaSecurityOptions | undefined, override: KafkaSecurityOptions | undefined): KafkaSecurityOptions | undefined {
  if (base === undefined) return override
  if (override === undefined) return base
  let tls = override.tls ?? base.tls
  if (typeof override.tls === 'object' && typeof base.tls === 'object') tls = { ...base.tls, ...override.tls }
  return { tls, sasl: override.sasl ?? base.sasl }
}

const secretSchema = z.union([z.string().min(1), z.object({ env: z.string().min(1) }).strict(), z.object({ file: z.string().min(1) }).strict()], {
  error: 'expected a string, { env: NAME } or { file: PATH }',
})

/**
 * The zod schema of {@link KafkaSecurityOptions} in config files (YAML): secrets as `{ env: NAME }`
 * or `{ file: PATH }` (inline strings work too, but keep passwords out of config files).
 */
export const kafkaSecuritySchema = z
  .object({
    tls: z
      .union([
        z.boolean(),
        z
          .object({
            ca: secretSchema.optional(),
            cert: secretSchema.optional(),
            key: secretSchema.optional(),
            passphrase: secretSchema.optional(),
            servername: z.string().regex(/^[A-Za-z0-9.-]+$/, 'expected a host name').optional(),
            rejectUnauthorized: z.boolean().optional(),
          })
          .strict(),
      ])
      .optional(),
    sasl: z
      .object({
        mechanism: z.enum(SASL_MECHANISMS),
        username: secretSchema.optional(),
        password: secretSchema.optional(),
        token: secretSchema.optional(),
      })
      .strict()
      .optional(),
  })
  .strict()

/**
 * Security from a log URL: the scheme (`kafka+ssl` = TLS) and query parameters
 * `ca`, `cert`, `key` (PEM file paths), `servername`, `verify=false`, `sasl` (mechanism),
 * `username`, `username-env`, `password-env`, `password-file`, `token-env`, `token-file`.
 * A password in the URL itself is refused: URLs end up in logs and shell histories.
 */
export function securityFromUrl(tls: boolean, params: URLSearchParams, bad: (why: string) => Error): KafkaSecurityOptions | undefined {
  const known = new Set(['ca', 'cert', 'key', 'servername', 'verify', 'sasl', 'username', 'username-env', 'password-env', 'password-file', 'token-env', 'token-file'])
  for (const name of params.keys()) {
    if (name === 'password' || name === 'token') throw bad(`put the ${name} in an environment variable or a file (${name}-env=NAME or ${name}-file=PATH), never in the URL`)
    if (!known.has(name)) throw bad(`unknown parameter ${JSON.stringify(name)} (known: ${[...known].join(', ')})`)
  }
  const get = (name: string): string | undefined => params.get(name) ?? undefined
  const tlsKeys = ['ca', 'cert', 'key', 'servername', 'verify'].filter((k) => params.has(k))
  if (!tls && tlsKeys.length > 0) throw bad(`${tlsKeys.join(', ')} need TLS: use kafka+ssl://`)
  const out: KafkaSecurityOptions = {}
  if (tls) {
    const t: KafkaTlsOptions = {}
    const ca = get('ca')
    const cert = get('cert')
    const key = get('key')
    if (ca !== undefined) t.ca = { file: ca }
    if (cert !== undefined) t.cert = { file: cert }
    if (key !== undefined) t.key = { file: key }
    const servername = get('servername')
    if (servername !== undefined) t.servername = servername
    const verify = get('verify')
    if (verify !== undefined) {
      if (verify !== 'true' && verify !== 'false') throw bad('verify must be true or false')
      t.rejectUnauthorized = verify === 'true'
    }
    out.tls = Object.keys(t).length === 0 ? true : t
  }
  const mechanism = get('sasl')
  if (mechanism !== undefined) {
    const upper = mechanism.toUpperCase()
    if (!(SASL_MECHANISMS as readonly string[]).includes(upper)) throw bad(`sasl must be one of ${SASL_MECHANISMS.join(', ')}`)
    const pick = (name: string): Secret | undefined => {
      const env = get(`${name}-env`)
      const file = get(`${name}-file`)
      if (env !== undefined) return { env }
      if (file !== undefined) return { file }
      return get(name)
    }
    out.sasl = { mechanism: upper as SaslMechanism, username: pick('username'), password: pick('password'), token: pick('token') }
  } else if (['username', 'username-env', 'password-env', 'password-file', 'token-env', 'token-file'].some((k) => params.has(k))) {
    throw bad('credentials need a mechanism: add sasl=SCRAM-SHA-512 (or PLAIN, SCRAM-SHA-256, OAUTHBEARER)')
  }
  return out.tls === undefined && out.sasl === undefined ? undefined : out
}
