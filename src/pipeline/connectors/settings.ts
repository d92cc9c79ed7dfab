/**
 * Connector settings as Conduit reads them: a flat map of dotted names to strings
 * (`format.options.id: int`, `burst.sleepTime: 1s`), with values coerced the way Conduit's
 * `config.DecodeInto` does — Go durations (`100ms`, `1h30m`, `0`), Go booleans (`true`, `1`, `F`),
 * integers, floats and comma-separated lists. Values are trimmed and an empty value means "use the
 * default". YAML may hand over numbers and booleans unquoted; they are accepted as their text.
 *
 * A plugin describes its settings with {@link connectorSettings}: a `build` function reads each
 * setting through a {@link SettingsReader}; every problem becomes a zod issue whose path is the
 * setting's name, and a setting nobody read is reported as unrecognized (Conduit rejects unknown
 * parameters too). Conduit's connector-SDK settings (`sdk.*`) are accepted; see {@link SDK_SETTINGS}.
 *
 * @example
 * ```ts
 * const schema = connectorSettings((s) => ({ path: s.required('path'), every: s.duration('every', 1_000) }))
 * schema.parse({ path: '/tmp/in.txt', every: '250ms' }) // { path: '/tmp/in.txt', every: 250 }
 * schema.safeParse({}).error?.issues[0]                 // { path: ['path'], message: '"path" is required' }
 * ```
 * @module
 */
import { z, type ZodType } from 'zod'
import { TributaryError } from '../../core/errors.ts'
import type { ConnectorPlugin } from '../connector.ts'

/** A raw setting value: Conduit files hold strings; YAML may give numbers or booleans. */
export type SettingValue = string | number | boolean

/** The connector-SDK settings every Conduit connector accepts; which ones Tributary honours is up to each plugin. */
export const SDK_SETTINGS = [
  'sdk.batch.size',
  'sdk.batch.delay',
  'sdk.rate.perSecond',
  'sdk.rate.burst',
  'sdk.record.format',
  'sdk.record.format.options',
] as const

/** Reads settings by name; every accessor validates and records that the setting is known. */
export interface SettingsReader {
  /** A string setting, or `fallback` when absent or empty. */
  string(name: string, fallback: string): string
  /** A string setting that may be absent. */
  optional(name: string): string | undefined
  /** A string setting that must be present and non-empty. */
  required(name: string): string
  /** One of `values` (compared case-sensitively, as Conduit's `inclusion` validation does). */
  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T
  /** An integer (Go `strconv.Atoi`), at least `min` when given. */
  int(name: string, fallback: number, min?: number): number
  /** A float (Go `strconv.ParseFloat`), at least `min` when given. */
  float(name: string, fallback: number, min?: number): number
  /** A Go boolean: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False. */
  bool(name: string, fallback: boolean): boolean
  /** A Go duration (`300ms`, `1.5s`, `2h45m`, `0`) in milliseconds; never negative. */
  duration(name: string, fallback: number): number
  /** A comma-separated list, items trimmed, empty items dropped. */
  list(name: string, fallback: readonly string[]): string[]
  /** Names of present settings under `prefix` (e.g. `format.options.`); marks them known. */
  namesUnder(prefix: string): string[]
  /** Marks settings as accepted without reading them (ignored for compatibility). */
  accept(...names: string[]): void
  /** True when a non-empty value is present. */
  has(name: string): boolean
  /** Reports a problem with `name` (the message is prefixed with the quoted name). */
  fail(name: string, message: string): void
}

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True'])
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False'])
const INT = /^[+-]?\d+$/
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const DURATION_PART = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y
const UNIT_MS: { [unit: string]: number } = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }

/**
 * Parses a Go duration (`time.ParseDuration`) into milliseconds, or returns an error text.
 * @example parseGoDuration('1m30s') // 90000
 */
export function parseGoDuration(text: string): number | string {
  let s = text
  let sign = 1
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1
    s = s.slice(1)
  }
  if (s === '0') return 0
  if (s === '') return `invalid duration ${JSON.stringify(text)}`
  let total = 0
  DURATION_PART.lastIndex = 0
  while (DURATION_PART.lastIndex < s.length) {
    const at = DURATION_PART.lastIndex
    const m = DURATION_PART.exec(s)
    if (m === null) {
      return /^[\d.]+$/.test(s.slice(at)) ? `missing unit in duration ${JSON.stringify(text)} (use e.g. 100ms, 1s, 2m)` : `invalid duration ${JSON.stringify(text)} (use e.g. 100ms, 1s, 2m)`
    }
    total += Number(m[1]) * UNIT_MS[m[2]]
  }
  return sign * total
}

function textOf(value: unknown): string | undefined {
  if (value === null) return '' // `path:` with nothing after it in YAML: empty, as in Conduit
  if (value === undefined) return undefined
  if (typeof value === 'string') return value.trim()
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return undefined
}

/**
 * Builds the zod schema of a plugin's settings from a `build` function that reads them. Unknown
 * settings (not read, not under a prefix read with `namesUnder`, not `sdk.*`) are errors.
 */
export function connectorSettings<T>(build: (settings: SettingsReader) => T): ZodType<T> {
  return z.record(z.string(), z.unknown()).transform((input, ctx) => {
    const values = new Map<string, string>()
    for (const [rawName, rawValue] of Object.entries(input)) {
      const name = rawName.trim()
      const text = textOf(rawValue)
      if (text === undefined) {
        ctx.addIssue({ code: 'custom', path: [name], message: `${JSON.stringify(name)} must be a string, number or boolean, got ${Array.isArray(rawValue) ? 'a list' : typeof rawValue}` })
        continue
      }
      values.set(name, text)
    }
    const known = new Set<string>()
    let failed = false
    const fail = (name: string, message: string): void => {
      failed = true
      ctx.addIssue({ code: 'custom', path: [name], message: `${JSON.stringify(name)} ${message}` })
    }
    const get = (name: string): string | undefined => {
      known.add(name)
      const v = values.get(name)
      return v === undefined || v === '' ? undefined : v
    }
    const reader: SettingsReader = {
      string: (name, fallback) => get(name) ?? fallback,
      optional: (name) => get(name),
      required(name) {
        const v = get(name)
        if (v === undefined) fail(name, 'is required')
        return v ?? ''
      },
      oneOf(name, allowed, fallback) {
        const v = get(name)
        if (v === undefined) return fallback
        if (!(allowed as readonly string[]).includes(v)) fail(name, `is ${JSON.stringify(v)}; use one of ${allowed.join(', ')}`)
        return v as (typeof allowed)[number]
      },
      int(name, fallback, min) {
        const v = get(name)
        if (v === undefined) return fallback
        if (!INT.test(v) || !Number.isSafeInteger(Number(v))) {
          fail(name, `is ${JSON.stringify(v)}, not an integer`)
          return fallback
        }
        const n = Number(v)
        if (min !== undefined && n < min) fail(name, `is ${n}; it must be at least ${min}`)
        return n
      },
      float(name, fallback, min) {
        const v = get(name)
        if (v === undefined) return fallback
        if (!FLOAT.test(v)) {
          fail(name, `is ${JSON.stringify(v)}, not a number`)
          return fallback
        }
        const n = Number(v)
        if (min !== undefined && n < min) fail(name, `is ${n}; it must be at least ${min}`)
        return n
      },
      bool(name, fallback) {
        const v = get(name)
        if (v === undefined) return fallback
        if (GO_TRUE.has(v)) return true
        if (GO_FALSE.has(v)) return false
        fail(name, `is ${JSON.stringify(v)}, not a boolean (use true or false)`)
        return fallback
      },
      duration(name, fallback) {
        const v = get(name)
        if (v === undefined) return fallback
        const ms = parseGoDuration(v)
        if (typeof ms === 'string') {
          fail(name, `is not a duration: ${ms}`)
          return fallback
        }
        if (ms < 0) fail(name, `is ${JSON.stringify(v)}; it must not be negative`)
        return ms
      },
      list(name, fallback) {
        const v = get(name)
        if (v === undefined) return [...fallback]
        return v.split(',').map((item) => item.trim()).filter((item) => item !== '')
      },
      namesUnder(prefix) {
        const names = [...values.keys()].filter((name) => name.startsWith(prefix))
        for (const name of names) known.add(name)
        return names.sort()
      },
      accept(...names) {
        for (const name of names) known.add(name)
      },
      has: (name) => {
        const v = values.get(name)
        return v !== undefined && v !== ''
      },
      fail,
    }
    const result = build(reader)
    for (const name of values.keys()) {
      if (known.has(name) || (SDK_SETTINGS as readonly string[]).includes(name) || name.startsWith('sdk.schema.')) continue
      fail(name, 'is not a setting of this connector')
    }
    return failed ? z.NEVER : result
  }) as unknown as ZodType<T>
}

/**
 * Validates `settings` for `plugin`, throwing `TRIB_CONNECTOR_SETTINGS` that lists every bad setting
 * by name (`where` prefixes the message, e.g. `pipeline.yaml: connectors[0]`).
 *
 * @example
 * ```ts
 * const s = parseConnectorSettings(fileConnector, { path: './out.jsonl' }, 'pipelines[0].connectors[1]')
 * ```
 */
export function parseConnectorSettings<S>(plugin: ConnectorPlugin<S>, settings: { readonly [name: string]: unknown }, where = `connector ${plugin.name}`): S {
  const result = plugin.settings.safeParse(settings)
  if (result.success) return result.data
  const problems = result.error.issues.map((issue) => issue.message)
  throw new TributaryError('TRIB_CONNECTOR_SETTINGS', `${where}: invalid settings for plugin ${plugin.name}: ${problems.join('; ')}`, {
    details: { plugin: plugin.name, settings: result.error.issues.map((issue) => issue.path.join('.')) },
  })
}
