/**
 * Notification templates: a small, Go-template-like language for URLs and bodies, so Burrow's
 * simpler templates read the same here.
 *
 * - `{{.Group}}`, `{{.Result.Status}}`, `{{.Extras.team}}` — fields of the data (Go-style names
 *   are matched to our JSON names: `.Result.TotalLag` → `totallag`, `.Result.Maxlag.CurrentLag` →
 *   `current_lag`);
 * - `{{jsonencoder .Result}}`, `{{formattimestamp .Start}}`, `{{partitioncounts .Result.Partitions}}`,
 *   `{{topicsbystatus .Result.Partitions}}`, `{{index .Extras "key"}}`, `{{add 1 2}}`, `{{sub}}`,
 *   `{{mul}}`, `{{div}}`.
 *
 * Control structures (`if`, `range`) are not supported. Field names match regardless of case and
 * underscores, so Burrow's sample template's `{{.Id}}` (which fails in Burrow) means `.ID` here. An
 * unknown field fails — and templates are checked against sample data when the config loads, so a
 * typo is reported at startup, not at the first incident.
 *
 * @example
 * ```ts
 * const t = compileTemplate('{"group": {{jsonencoder .Group}}, "status": "{{.Result.Status}}"}', 'body-open')
 * t.render({ Group: 'billing', Result: { status: 'WARN' } }) // '{"group": "billing", "status": "WARN"}'
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'

/** A compiled template. */
export interface Template {
  readonly source: string
  /** Renders with `data`; throws `TRIB_MONITOR_CONFIG` naming the template and the bad field. */
  render(data: unknown): string
}

type Arg = { kind: 'path'; path: string[] } | { kind: 'string'; value: string } | { kind: 'number'; value: number }
type Part = { kind: 'text'; text: string } | { kind: 'action'; fn: string | null; args: Arg[]; source: string }

type Fn = (...args: unknown[]) => unknown

const FUNCTIONS: { [name: string]: Fn } = {
  jsonencoder: (v) => JSON.stringify(plain(v)),
  formattimestamp: (v) => {
    const ms = v instanceof Date ? v.getTime() : Number(v)
    return Number.isFinite(ms) ? new Date(ms).toISOString() : ''
  },
  partitioncounts: (v) => {
    const counts: { [status: string]: number } = {}
    for (const p of asArray(v)) counts[String(field(p, 'status'))] = (counts[String(field(p, 'status'))] ?? 0) + 1
    return counts
  },
  topicsbystatus: (v) => {
    const out: { [status: string]: string[] } = {}
    for (const p of asArray(v)) {
      const status = String(field(p, 'status'))
      const topic = String(field(p, 'topic'))
      const list = (out[status] ??= [])
      if (!list.includes(topic)) list.push(topic)
    }
    return out
  },
  index: (container, key) => (container instanceof Map ? container.get(String(key)) : (container as { [k: string]: unknown } | null)?.[String(key)]),
  add: (a, b) => Number(a) + Number(b),
  sub: (a, b) => Number(a) - Number(b),
  mul: (a, b) => Number(a) * Number(b),
  div: (a, b) => Number(a) / Number(b),
}

/** Go-style field names whose JSON names differ by more than case and underscores. */
const ALIASES: { [name: string]: string } = { totalpartitions: 'partition_count' }

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

function field(obj: unknown, name: string): unknown {
  return (obj as { [k: string]: unknown })?.[name]
}

function plain(v: unknown): unknown {
  if (v instanceof Map) return Object.fromEntries(v)
  return v
}

const squash = (s: string): string => s.toLowerCase().replace(/[_-]/g, '')

/** Looks a field up: exact name, then case/underscore-insensitive, then known aliases. Maps are lenient. */
function lookup(value: unknown, name: string, template: string, action: string): unknown {
  if (value instanceof Map) return value.get(name)
  if (value === null || typeof value !== 'object') {
    throw new TributaryError('TRIB_MONITOR_CONFIG', `template ${template}: ${action}: cannot read field ${name} of a ${value === null ? 'null' : typeof value}`)
  }
  const obj = value as { [k: string]: unknown }
  if (name in obj) return obj[name]
  const wanted = ALIASES[name.toLowerCase()] ?? squash(name)
  for (const key of Object.keys(obj)) if (key === wanted || squash(key) === wanted) return obj[key]
  throw new TributaryError('TRIB_MONITOR_CONFIG', `template ${template}: ${action}: no field ${name} (fields: ${Object.keys(obj).join(', ')})`)
}

function toText(v: unknown): string {
  if (v === null || v === undefined) return ''
  if (typeof v === 'string') return v
  if (v instanceof Date) return v.toISOString()
  if (typeof v === 'object') return JSON.stringify(plain(v))
  return String(v)
}

function parseArgs(tokens: string[], template: string, action: string): Arg[] {
  return tokens.map((t) => {
    if (t === '.') return { kind: 'path', path: [] }
    if (t.startsWith('.')) return { kind: 'path', path: t.slice(1).split('.') }
    if (/^"(?:[^"\\]|\\.)*"$/.test(t)) return { kind: 'string', value: JSON.parse(t) as string }
    if (/^-?\d+(\.\d+)?$/.test(t)) return { kind: 'number', value: Number(t) }
    throw new TributaryError('TRIB_MONITOR_CONFIG', `template ${template}: {{${action}}}: cannot understand ${JSON.stringify(t)}`)
  })
}

/** Compiles a template; `name` is used in error messages (e.g. `notifiers.ops.body-open`). */
export function compileTemplate(source: string, name: string): Template {
  const parts: Part[] = []
  let rest = source
  while (rest.length > 0) {
    const open = rest.indexOf('{{')
    if (open < 0) {
      parts.push({ kind: 'text', text: rest })
      break
    }
    if (open > 0) parts.push({ kind: 'text', text: rest.slice(0, open) })
    const close = rest.indexOf('}}', open + 2)
    if (close < 0) throw new TributaryError('TRIB_MONITOR_CONFIG', `template ${name}: unclosed {{ at ${JSON.stringify(rest.slice(open, open + 20))}`)
    const action = rest.slice(open + 2, close).trim()
    const tokens: string[] = [...(action.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [])]
    if (tokens.length === 0) throw new TributaryError('TRIB_MONITOR_CONFIG', `template ${name}: empty {{}}`)
    if (tokens[0].startsWith('.')) {
      if (tokens.length > 1) throw new TributaryError('TRIB_MONITOR_CONFIG', `template ${name}: {{${action}}}: a field takes no arguments`)
      parts.push({ kind: 'action', fn: null, args: parseArgs(tokens, name, action), source: action })
    } else {
      const fn = tokens[0]
      if (!(fn in FUNCTIONS)) {
        throw new TributaryError('TRIB_MONITOR_CONFIG', `template ${name}: {{${action}}}: unknown function ${fn} (known: ${Object.keys(FUNCTIONS).join(', ')})`)
      }
      parts.push({ kind: 'action', fn, args: parseArgs(tokens.slice(1), name, action), source: action })
    }
    rest = rest.slice(close + 2)
  }

  const evalArg = (arg: Arg, data: unknown, action: string): unknown => {
    if (arg.kind !== 'path') return arg.value
    let v = data
    for (const segment of arg.path) v = lookup(v, segment, name, `{{${action}}}`)
    return v
  }

  return {
    source,
    render(data: unknown): string {
      let out = ''
      for (const part of parts) {
        if (part.kind === 'text') {
          out += part.text
          continue
        }
        const args = part.args.map((a) => evalArg(a, data, part.source))
        out += toText(part.fn === null ? args[0] : FUNCTIONS[part.fn](...args))
      }
      return out
    },
  }
}
