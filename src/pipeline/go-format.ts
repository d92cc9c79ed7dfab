/**
 * Go's way of turning values into text, for the places where Conduit users see it: template output
 * (`{{ .Payload.After }}` prints `map[a:1 b:2]`), `printf`, `toJson` and `encoding/json` output
 * (sorted map keys, `<`, `>` and `&` escaped), and `strconv.ParseBool`.
 *
 * Values are the JSON-like values of structured data plus `Buffer` (Go's `[]byte`):
 * `undefined` is Go's "no value" (a missing map key), `null` is `nil`.
 *
 * @example
 * ```ts
 * goSprint({ b: 2, a: [1, 'x'] })   // 'map[a:[1 x] b:2]'
 * goJsonMarshal({ b: 1, a: '<' })   // '{"a":"\u003c","b":1}'
 * goSprintf('%s=%d', ['n', 3])      // 'n=3'
 * ```
 * @module
 */

/** A value that prints as a string, like a Go type with a `String()` method (`opencdc.Position`). */
export class GoStringer {
  readonly text: string
  readonly value: unknown
  constructor(text: string, value: unknown) {
    this.text = text
    this.value = value
  }
}

/** A Go struct: fields in declaration order, marshalled to JSON in that order (`opencdc.Record`). */
export class GoStruct {
  readonly fields: readonly (readonly [string, unknown])[]
  constructor(fields: readonly (readonly [string, unknown])[]) {
    this.fields = fields
  }
}

/** True for a plain object (Go map), not bytes, arrays, stringers or structs. */
export function isGoMap(v: unknown): v is { [k: string]: unknown } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof GoStringer) && !(v instanceof GoStruct)
}

/**
 * Go's `%v` for a float64: shortest representation, exponent form when the exponent is below -4 or
 * at least 6 (`1.2345675e+06`). Integral values print without a fraction, as Go prints its `int`s
 * (what Conduit's own connectors produce); Go would print an integral float64 decoded from JSON
 * of 1e6 or more as `1e+06`.
 */
export function goFormatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return Object.is(n, -0) ? '0' : String(n)
  const exp = Math.floor(Math.log10(Math.abs(n)))
  if (exp < -4 || exp >= 6) {
    const [mant, e] = n.toExponential().split('e') as [string, string]
    const sign = e.startsWith('-') ? '-' : '+'
    const digits = e.replace(/^[+-]/, '')
    return `${mant}e${sign}${digits.length < 2 ? '0' + digits : digits}`
  }
  return String(n)
}

/** Go's `fmt.Sprint` of one value (the `%v` verb). */
export function goSprint(v: unknown): string {
  if (v === undefined) return '<no value>'
  if (v === null) return '<nil>'
  switch (typeof v) {
    case 'string':
      return v
    case 'number':
      return goFormatNumber(v)
    case 'boolean':
      return v ? 'true' : 'false'
    case 'bigint':
      return v.toString()
  }
  if (v instanceof GoStringer) return v.text
  if (v instanceof GoStruct) return `{${v.fields.map(([, f]) => nested(f)).join(' ')}}`
  if (v instanceof Uint8Array) return `[${Array.from(v).join(' ')}]`
  if (Array.isArray(v)) return `[${v.map(nested).join(' ')}]`
  if (v instanceof Date) return v.toISOString()
  if (isGoMap(v)) {
    const keys = Object.keys(v).sort()
    return `map[${keys.map((k) => `${k}:${nested(v[k])}`).join(' ')}]`
  }
  return String(v)
}

/** Inside containers Go prints nil as `<nil>` (never "no value"). */
function nested(v: unknown): string {
  return v === undefined ? '<nil>' : goSprint(v)
}

/** The Go type name used in `%!verb(type=value)` and error messages. */
export function goTypeName(v: unknown): string {
  if (v === undefined || v === null) return '<nil>'
  switch (typeof v) {
    case 'string':
      return 'string'
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float64'
    case 'boolean':
      return 'bool'
  }
  if (v instanceof GoStringer) return 'opencdc.Position'
  if (v instanceof Uint8Array) return '[]uint8'
  if (Array.isArray(v)) return '[]interface {}'
  if (isGoMap(v)) return 'map[string]interface {}'
  return typeof v
}

const QUOTE_ESCAPES: { [c: string]: string } = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f', '\v': '\\v', '\x07': '\\a' }

/** Go's `strconv.Quote` (ASCII control characters escaped, printable Unicode kept). */
export function goQuote(s: string): string {
  let out = '"'
  for (const ch of s) {
    const esc = QUOTE_ESCAPES[ch]
    if (esc !== undefined) out += esc
    else {
      const code = ch.codePointAt(0) ?? 0
      if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`
      else out += ch
    }
  }
  return out + '"'
}

function badVerb(verb: string, v: unknown): string {
  if (v === undefined || v === null) return `%!${verb}(<nil>)`
  return `%!${verb}(${goTypeName(v)}=${goSprint(v)})`
}

function pad(s: string, width: number | undefined, minus: boolean, zero: boolean): string {
  if (width === undefined || s.length >= width) return s
  if (minus) return s + ' '.repeat(width - s.length)
  if (zero) {
    const neg = s.startsWith('-') ? '-' : ''
    const body = neg ? s.slice(1) : s
    return neg + '0'.repeat(width - s.length) + body
  }
  return ' '.repeat(width - s.length) + s
}

function formatOne(verb: string, v: unknown, prec: number | undefined, plus: boolean): string {
  switch (verb) {
    case 'v':
      return goSprint(v)
    case 's':
      if (typeof v === 'string') return prec === undefined ? v : v.slice(0, prec)
      if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8')
      if (v instanceof GoStringer) return v.text
      if (Array.isArray(v) || isGoMap(v)) return goSprint(v)
      return badVerb('s', v)
    case 'q':
      if (typeof v === 'string') return goQuote(v)
      if (v instanceof Uint8Array) return goQuote(Buffer.from(v).toString('utf8'))
      if (v instanceof GoStringer) return goQuote(v.text)
      return badVerb('q', v)
    case 'd':
      if (typeof v === 'number' && Number.isInteger(v)) return (plus && v >= 0 ? '+' : '') + goFormatNumber(v)
      if (typeof v === 'bigint') return v.toString()
      return badVerb('d', v)
    case 'f':
    case 'F':
      if (typeof v === 'number') return (plus && v >= 0 ? '+' : '') + v.toFixed(prec ?? 6)
      return badVerb(verb, v)
    case 'e':
      if (typeof v === 'number') return goSprintExp(v, prec ?? 6)
      return badVerb('e', v)
    case 'g':
      if (typeof v === 'number') return prec === undefined ? goFormatNumberG(v) : String(Number(v.toPrecision(prec)))
      return badVerb('g', v)
    case 't':
      if (typeof v === 'boolean') return v ? 'true' : 'false'
      return badVerb('t', v)
    case 'x':
    case 'X': {
      let out: string
      if (typeof v === 'string') out = Buffer.from(v).toString('hex')
      else if (v instanceof Uint8Array) out = Buffer.from(v).toString('hex')
      else if (typeof v === 'number' && Number.isInteger(v)) out = (v < 0 ? '-' : '') + Math.abs(v).toString(16)
      else return badVerb(verb, v)
      return verb === 'X' ? out.toUpperCase() : out
    }
    default:
      return badVerb(verb, v)
  }
}

/** `%g` of Go: exponent form when the exponent is below -4 or at least the digit count (shortest: 21). */
function goFormatNumberG(n: number): string {
  return goFormatNumber(n)
}

function goSprintExp(n: number, prec: number): string {
  const [mant, e] = n.toExponential(prec).split('e') as [string, string]
  const sign = e.startsWith('-') ? '-' : '+'
  const digits = e.replace(/^[+-]/, '')
  return `${mant}e${sign}${digits.length < 2 ? '0' + digits : digits}`
}

const VERB = /%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g

/**
 * Go's `fmt.Sprintf` for the verbs templates use: `%v %s %q %d %f %e %g %t %x %X %%`, with width,
 * precision and the `-`, `+`, `0` flags. Wrong types print as Go does (`%!d(string=x)`), missing
 * arguments as `%!d(MISSING)`, extra ones as `%!(EXTRA type=value)`.
 */
export function goSprintf(format: string, args: readonly unknown[]): string {
  let i = 0
  let out = format.replace(VERB, (_m, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%'
    if (i >= args.length) return `%!${verb}(MISSING)`
    const v = args[i++]
    const s = formatOne(verb, v, prec === undefined ? undefined : Number(prec), flags.includes('+'))
    return pad(s, width === undefined ? undefined : Number(width), flags.includes('-'), flags.includes('0') && verb !== 's' && verb !== 'v')
  })
  if (i < args.length) {
    out += `%!(EXTRA ${args.slice(i).map((a) => `${goTypeName(a)}=${goSprint(a)}`).join(', ')})`
  }
  return out
}

const JSON_HTML_ESCAPES: { [c: string]: string } = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' }
const NEEDS_HTML_ESCAPE = /[<>&\u2028\u2029]/
const HTML_ESCAPE = /[<>&\u2028\u2029]/g

/**
 * The value as `JSON.stringify` should see it for Go's output: map keys sorted, bytes as base64,
 * structs in field order, `undefined` as null. Returns the value itself when nothing changes.
 */
function goJsonValue(v: unknown): unknown {
  if (v === undefined || v === null) return null
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`json: unsupported value: ${goFormatNumber(v)}`)
      return v
    case 'bigint':
      return Number(v)
  }
  if (v instanceof GoStringer) return goJsonValue(v.value)
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
  if (v instanceof Date) return v.toISOString()
  if (v instanceof GoStruct) {
    const out: { [k: string]: unknown } = {}
    for (const [k, f] of v.fields) out[k] = goJsonValue(f)
    return out
  }
  if (Array.isArray(v)) {
    let out: unknown[] | undefined
    for (let i = 0; i < v.length; i++) {
      const x = goJsonValue(v[i])
      if (x !== v[i] && out === undefined) out = v.slice(0, i)
      out?.push(x)
    }
    return out ?? v
  }
  if (isGoMap(v)) {
    const keys = Object.keys(v)
    let sorted = true
    for (let i = 1; i < keys.length; i++) {
      if ((keys[i - 1] as string) > (keys[i] as string)) {
        sorted = false
        break
      }
    }
    if (!sorted) keys.sort()
    let out: { [k: string]: unknown } | undefined
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string
      const x = goJsonValue(v[k])
      if (out === undefined && (!sorted || x !== v[k])) {
        out = {}
        for (let j = 0; j < i; j++) out[keys[j] as string] = v[keys[j] as string]
      }
      if (out !== undefined) out[k] = x
    }
    return out ?? v
  }
  throw new TypeError(`json: unsupported type ${typeof v}`)
}

/**
 * Go's `json.Marshal`: map keys sorted, `<`, `>`, `&` (and U+2028/U+2029) escaped, bytes as
 * base64 strings, `undefined` as `null`; NaN and infinities are errors.
 */
export function goJsonMarshal(v: unknown): string {
  const text = JSON.stringify(goJsonValue(v))
  return NEEDS_HTML_ESCAPE.test(text) ? text.replace(HTML_ESCAPE, (c) => JSON_HTML_ESCAPES[c] ?? c) : text
}

/** Go's `strconv.ParseBool`: `1 t T TRUE true True` / `0 f F FALSE false False`, anything else undefined. */
export function goParseBool(s: string): boolean | undefined {
  switch (s) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false
    default:
      return undefined
  }
}
