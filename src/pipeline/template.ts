/**
 * Conduit's Go-template subset over a record (`{{ .Payload.After.x }}`, `eq`, `ne`, `and`, `or`,
 * `not`, `printf`, `index`), for `field.set` values, `error` messages, `webhook.http` URLs and
 * bodies, processor `condition`s and destination table names.
 *
 * Supported: text with `{{ … }}` actions (and the `{{-`/`-}}` trim markers, `{{/* comments *\/}}`);
 * in an action a pipeline of commands joined by `|`; field chains from the record (`.`, `.Key`,
 * `.Metadata.table`, `.Payload.After.user.name`) and after parentheses (`(index .Key "a").b`);
 * string (`"…"`, `` `…` ``), number and boolean literals; the functions `eq ne lt le gt ge and or
 * not printf index toJson`. Values print as Go prints them (`map[a:1]`, `[1 2]`, missing values as
 * `<no value>`, nil as `<nil>`, raw data as its bytes `[104 105]` unless formatted with
 * `printf "%s"`).
 *
 * Not supported, each a `TRIB_PIPELINE_CONFIG` error at compile time naming the setting and the
 * construct: `if`/`else`/`range`/`with`/`define`/`template`/`block`/`end`, variables (`$x`, `:=`),
 * character constants, `nil`, and every other function (Conduit also offers sprig's).
 *
 * A template compiles once into closures; rendering a record allocates only the output string.
 * Errors while rendering (comparing a string with a number, a field of raw data, ...) are
 * `TRIB_PIPELINE_RECORD` errors naming the setting and the record's position.
 *
 * @example
 * ```ts
 * const url = compileTemplate('http://api/{{ .Payload.After.id }}', 'settings["request.url"]')
 * url(rec)                                   // 'http://api/42'
 * const isUser = compileCondition('{{ eq .Metadata.table "users" }}', 'processors[0].condition')
 * isUser(rec)                                // true or false
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import { GoStringer, GoStruct, goJsonMarshal, goParseBool, goSprint, goSprintf, goTypeName, isGoMap } from './go-format.ts'
import type { PipelineRecord } from './record.ts'
import { describePosition } from './reference.ts'

/** A compiled template: renders a record to a string. */
export type RecordTemplate = (record: PipelineRecord) => string

/** The functions templates may call. */
export const TEMPLATE_FUNCTIONS: readonly string[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'not', 'printf', 'index', 'toJson']

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue'])

// ---------------------------------------------------------------------------------------------
// Values the templates see besides JSON-like data: views of the record's Go structs.

/** `.` — the record (Go: `opencdc.Record`). */
class RecordView {
  readonly record: PipelineRecord
  constructor(record: PipelineRecord) {
    this.record = record
  }
}

/** `.Payload` (Go: `opencdc.Change`). */
class PayloadView {
  readonly before: unknown
  readonly after: unknown
  constructor(before: unknown, after: unknown) {
    this.before = before
    this.after = after
  }
}

/** `.Metadata` (Go: `map[string]string`; `index` of a missing key is `""`). */
class MetadataView {
  readonly map: { [k: string]: string }
  constructor(map: { [k: string]: string }) {
    this.map = map
  }
}

function positionValue(position: Buffer): GoStringer {
  return new GoStringer(position.length === 0 ? '<nil>' : position.toString('utf8'), position.length === 0 ? null : position)
}

/** A record as Go's `json.Marshal` of `opencdc.Record` shows it (`toJson .`). */
function recordJsonValue(r: PipelineRecord): GoStruct {
  return new GoStruct([
    ['position', r.position.length === 0 ? null : r.position],
    ['operation', r.operation],
    ['metadata', r.metadata],
    ['key', r.key],
    ['payload', payloadJsonValue(r.payload.before, r.payload.after)],
  ])
}

function payloadJsonValue(before: unknown, after: unknown): GoStruct {
  return new GoStruct([
    ['before', before],
    ['after', after],
  ])
}

/** Plain data for printing and JSON: views become what Go would show. */
function plain(v: unknown): unknown {
  if (v instanceof MetadataView) return v.map
  if (v instanceof PayloadView) return payloadJsonValue(v.before, v.after)
  if (v instanceof RecordView) return recordJsonValue(v.record)
  return v
}

function printValue(v: unknown): string {
  if (v instanceof RecordView) {
    const r = v.record
    return `{${positionValue(r.position).text} ${r.operation} ${goSprint(r.metadata)} ${goSprint(r.key ?? null)} {${goSprint(r.payload.before ?? null)} ${goSprint(r.payload.after ?? null)}}}`
  }
  if (v instanceof PayloadView) return `{${goSprint(v.before ?? null)} ${goSprint(v.after ?? null)}}`
  if (v instanceof MetadataView) return goSprint(v.map)
  return goSprint(v)
}

/** Go's notion of truth: false, 0, "", nil, no value and empty collections are false. */
function truth(v: unknown): boolean {
  if (v === undefined || v === null) return false
  if (typeof v === 'boolean') return v
  if (typeof v === 'number') return v !== 0
  if (typeof v === 'string') return v.length > 0
  if (v instanceof Uint8Array || Array.isArray(v)) return v.length > 0
  if (v instanceof MetadataView) return Object.keys(v.map).length > 0
  if (v instanceof GoStringer) return v.value !== null
  if (isGoMap(v)) return Object.keys(v).length > 0
  return true
}

/** A problem while rendering one record; the renderer adds the setting and the position. */
class ExecError extends Error {}

const STATIC_RECORD_FIELDS = ['Position', 'Operation', 'Metadata', 'Key', 'Payload']

function field(receiver: unknown, name: string, chain: string): unknown {
  if (receiver === undefined) return undefined
  if (receiver instanceof RecordView) {
    const r = receiver.record
    switch (name) {
      case 'Position':
        return positionValue(r.position)
      case 'Operation':
        return r.operation
      case 'Metadata':
        return new MetadataView(r.metadata)
      case 'Key':
        return r.key
      case 'Payload':
        return new PayloadView(r.payload.before, r.payload.after)
    }
    throw new ExecError(`can't evaluate field ${name} in type opencdc.Record`)
  }
  if (receiver instanceof PayloadView) {
    if (name === 'Before') return receiver.before
    if (name === 'After') return receiver.after
    throw new ExecError(`can't evaluate field ${name} in type opencdc.Change`)
  }
  if (receiver instanceof MetadataView) return Object.hasOwn(receiver.map, name) ? receiver.map[name] : undefined
  if (receiver === null) throw new ExecError(`nil pointer evaluating interface {}.${name} (in ${chain})`)
  if (isGoMap(receiver)) return Object.hasOwn(receiver, name) ? receiver[name] : undefined
  throw new ExecError(`can't evaluate field ${name} in type ${goTypeName(receiver)} (in ${chain}${receiver instanceof Uint8Array ? ': it is raw data' : ''})`)
}

// ---------------------------------------------------------------------------------------------
// Functions

type Kind = 'invalid' | 'bool' | 'number' | 'string' | 'other'

function kindOf(v: unknown): Kind {
  if (v === undefined || v === null) return 'invalid'
  switch (typeof v) {
    case 'boolean':
      return 'bool'
    case 'number':
      return 'number'
    case 'string':
      return 'string'
  }
  return 'other'
}

function eq(a: unknown, others: readonly unknown[]): boolean {
  const ka = kindOf(a)
  for (const b of others) {
    const kb = kindOf(b)
    if (ka !== kb) {
      if (ka !== 'invalid' && kb !== 'invalid') throw new ExecError(`error calling eq: incompatible types for comparison (${goTypeName(a)} and ${goTypeName(b)})`)
      continue
    }
    if (ka === 'other') throw new ExecError(`error calling eq: non-comparable type ${goTypeName(a)}`)
    if (ka === 'invalid' || a === b) return true
  }
  return false
}

function compare(name: string, a: unknown, b: unknown): number {
  const ka = kindOf(a)
  const kb = kindOf(b)
  if ((ka !== 'number' && ka !== 'string') || (kb !== 'number' && kb !== 'string')) {
    throw new ExecError(`error calling ${name}: invalid type for comparison (${goTypeName(ka === 'number' || ka === 'string' ? b : a)})`)
  }
  if (ka !== kb) throw new ExecError(`error calling ${name}: incompatible types for comparison (${goTypeName(a)} and ${goTypeName(b)})`)
  return (a as number | string) < (b as number | string) ? -1 : a === b ? 0 : 1
}

function index(item: unknown, keys: readonly unknown[]): unknown {
  let v = item
  for (const key of keys) {
    if (v instanceof MetadataView) {
      if (typeof key !== 'string') throw new ExecError(`error calling index: value has type ${goTypeName(key)}; should be string`)
      v = Object.hasOwn(v.map, key) ? v.map[key] : ''
    } else if (v instanceof PayloadView || v instanceof RecordView) {
      throw new ExecError(`error calling index: can't index item of type ${v instanceof PayloadView ? 'opencdc.Change' : 'opencdc.Record'}`)
    } else if (isGoMap(v)) {
      if (typeof key !== 'string') throw new ExecError(`error calling index: value has type ${goTypeName(key)}; should be string`)
      v = Object.hasOwn(v, key) ? v[key] : null
    } else if (Array.isArray(v) || v instanceof Uint8Array || typeof v === 'string') {
      if (typeof key !== 'number' || !Number.isInteger(key)) throw new ExecError(`error calling index: cannot index slice/array with type ${goTypeName(key)}`)
      const bytes = typeof v === 'string' ? Buffer.from(v) : v
      if (key < 0 || key >= bytes.length) throw new ExecError(`error calling index: index out of range: ${key}`)
      v = bytes[key]
    } else if (v === undefined || v === null) {
      throw new ExecError('error calling index: index of untyped nil')
    } else {
      throw new ExecError(`error calling index: can't index item of type ${goTypeName(v)}`)
    }
  }
  return v
}

// ---------------------------------------------------------------------------------------------
// Lexer

type Token =
  | { t: 'field'; name: string; pos: number; space: boolean }
  | { t: 'dot'; pos: number; space: boolean }
  | { t: 'string'; value: string; pos: number; space: boolean }
  | { t: 'number'; value: number; pos: number; space: boolean }
  | { t: 'ident'; name: string; pos: number; space: boolean }
  | { t: '(' | ')' | '|'; pos: number; space: boolean }

class CompileError extends Error {}

const IDENT_START = /[\p{L}_]/u
const IDENT_CHAR = /[\p{L}\p{N}_]/u

function charName(c: string): string {
  return `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')} ${JSON.stringify(c)}`
}

const ESCAPES: { [c: string]: string } = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', a: '\x07', b: '\b', f: '\f', v: '\v', "'": "'" }

function lexAction(src: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  let space = true
  while (i < src.length) {
    const c = src[i] as string
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++
      space = true
      continue
    }
    const pos = i
    if (c === '.') {
      let j = i + 1
      if (j < src.length && IDENT_START.test(src[j] as string)) {
        while (j < src.length && IDENT_CHAR.test(src[j] as string)) j++
        tokens.push({ t: 'field', name: src.slice(i + 1, j), pos, space })
      } else if (j < src.length && /[0-9]/.test(src[j] as string)) {
        throw new CompileError(`bad number syntax at ${JSON.stringify(src.slice(i, i + 6))}`)
      } else {
        tokens.push({ t: 'dot', pos, space })
      }
      i = j
    } else if (c === '"') {
      let j = i + 1
      let value = ''
      for (;;) {
        if (j >= src.length || src[j] === '\n') throw new CompileError('unterminated quoted string')
        const ch = src[j] as string
        if (ch === '"') break
        if (ch === '\\') {
          const e = src[j + 1] ?? ''
          if (ESCAPES[e] !== undefined) {
            value += ESCAPES[e]
            j += 2
          } else if (e === 'x' || e === 'u' || e === 'U') {
            const len = e === 'x' ? 2 : e === 'u' ? 4 : 8
            const hex = src.slice(j + 2, j + 2 + len)
            if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw new CompileError(`invalid escape \\${e}${hex} in string`)
            value += String.fromCodePoint(parseInt(hex, 16))
            j += 2 + len
          } else throw new CompileError(`invalid escape \\${e} in string`)
          continue
        }
        value += ch
        j++
      }
      tokens.push({ t: 'string', value, pos, space })
      i = j + 1
    } else if (c === '`') {
      const end = src.indexOf('`', i + 1)
      if (end < 0) throw new CompileError('unterminated raw quoted string')
      tokens.push({ t: 'string', value: src.slice(i + 1, end), pos, space })
      i = end + 1
    } else if (/[0-9]/.test(c) || ((c === '-' || c === '+') && /[0-9.]/.test(src[i + 1] ?? ''))) {
      const m = /^[+-]?(0[xX][0-9a-fA-F_]+|(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?(?:[eE][+-]?[0-9]+)?)/.exec(src.slice(i))
      const text = m?.[0] ?? ''
      const after = src[i + text.length]
      const value = Number(text.replace(/_/g, ''))
      if (text === '' || Number.isNaN(value) || (after !== undefined && IDENT_CHAR.test(after))) {
        throw new CompileError(`bad number syntax: ${JSON.stringify(src.slice(i, i + text.length + 1))}`)
      }
      tokens.push({ t: 'number', value, pos, space })
      i += text.length
    } else if (IDENT_START.test(c)) {
      let j = i + 1
      while (j < src.length && IDENT_CHAR.test(src[j] as string)) j++
      tokens.push({ t: 'ident', name: src.slice(i, j), pos, space })
      i = j
    } else if (c === '(' || c === ')' || c === '|') {
      tokens.push({ t: c, pos, space })
      i++
    } else if (c === '$') {
      throw new CompileError('variables ($…) are not supported')
    } else if (c === ':' || c === '=') {
      throw new CompileError('variable declarations and assignments (:=, =) are not supported')
    } else if (c === "'") {
      throw new CompileError('character constants (\'x\') are not supported')
    } else {
      throw new CompileError(`bad character ${charName(c)}${c === '-' ? ' (field names with "-" need index: {{ index .Payload.After "my-key" }})' : ''}`)
    }
    space = false
  }
  return tokens
}

// ---------------------------------------------------------------------------------------------
// Parser and compiler: every node becomes a closure over the record.

type Eval = (dot: RecordView) => unknown

interface Operand {
  /** A function name when the operand is a bare identifier. */
  readonly func?: string
  readonly run: Eval
}

class Parser {
  readonly tokens: Token[]
  i = 0
  constructor(tokens: Token[]) {
    this.tokens = tokens
  }

  peek(): Token | undefined {
    return this.tokens[this.i]
  }

  pipeline(closing: ')' | 'end'): Eval {
    const commands: Operand[][] = []
    for (;;) {
      const cmd: Operand[] = []
      for (;;) {
        const tok = this.peek()
        if (tok === undefined || tok.t === '|' || tok.t === ')') break
        cmd.push(this.operand())
      }
      if (cmd.length === 0) throw new CompileError(this.peek()?.t === '|' || commands.length > 0 ? 'missing command in pipeline' : 'empty action')
      commands.push(cmd)
      const tok = this.peek()
      if (tok?.t === '|') {
        this.i++
        continue
      }
      if (closing === ')' && tok?.t !== ')') throw new CompileError('unclosed left paren')
      if (closing === 'end' && tok !== undefined) throw new CompileError('unexpected ")"')
      break
    }
    let run: Eval | undefined
    for (const cmd of commands) run = this.command(cmd, run)
    return run as Eval
  }

  command(cmd: Operand[], piped: Eval | undefined): Eval {
    const [first, ...rest] = cmd as [Operand, ...Operand[]]
    if (first.func === undefined) {
      if (rest.length > 0 || piped !== undefined) throw new CompileError(`can't give argument to non-function ${this.describe(first)}`)
      return first.run
    }
    const args = rest.map((a) => (a.func === undefined ? a.run : callFunction(a.func, [])))
    if (piped !== undefined) args.push(piped)
    return callFunction(first.func, args)
  }

  describe(op: Operand): string {
    return op.func ?? 'a value'
  }

  operand(): Operand {
    const tok = this.tokens[this.i++] as Token
    let base: Operand
    switch (tok.t) {
      case 'dot':
        base = { run: (dot) => dot }
        break
      case 'field': {
        const names = [tok.name]
        while (this.peek()?.t === 'field' && !this.peek()?.space) names.push((this.tokens[this.i++] as { name: string }).name)
        return { run: compileRecordChain(names) }
      }
      case 'string': {
        const v = tok.value
        base = { run: () => v }
        break
      }
      case 'number': {
        const v = tok.value
        base = { run: () => v }
        break
      }
      case 'ident':
        if (tok.name === 'true' || tok.name === 'false') {
          const v = tok.name === 'true'
          base = { run: () => v }
        } else if (KEYWORDS.has(tok.name)) {
          throw new CompileError(`"${tok.name}" actions are not supported`)
        } else if (tok.name === 'nil') {
          throw new CompileError('nil is not supported')
        } else if (!TEMPLATE_FUNCTIONS.includes(tok.name)) {
          throw new CompileError(`function "${tok.name}" is not supported (supported: ${TEMPLATE_FUNCTIONS.join(', ')})`)
        } else {
          const name = tok.name
          return { func: name, run: () => callFunction(name, []) }
        }
        break
      case '(': {
        const inner = this.pipeline(')')
        this.i++ // the ')'
        base = { run: inner }
        break
      }
      case ')':
        throw new CompileError('unexpected ")"')
      case '|':
        throw new CompileError('unexpected "|"')
    }
    const names: string[] = []
    while (this.peek()?.t === 'field' && !this.peek()?.space) names.push((this.tokens[this.i++] as { name: string }).name)
    if (names.length === 0) return base
    const run = base.run
    const chain = names.map((n) => `.${n}`).join('')
    return {
      run: (dot) => {
        let v = run(dot)
        for (const n of names) v = field(v, n, chain)
        return v
      },
    }
  }
}

/** A field chain from the record, checked against the record's shape and specialised. */
function compileRecordChain(names: string[]): Eval {
  const chain = names.map((n) => `.${n}`).join('')
  const [first, second, ...rest] = names as [string, string | undefined, ...string[]]
  if (!STATIC_RECORD_FIELDS.includes(first)) {
    throw new CompileError(`can't evaluate field ${first} in type opencdc.Record (fields: .${STATIC_RECORD_FIELDS.join(', .')})`)
  }
  if ((first === 'Position' || first === 'Operation') && second !== undefined) throw new CompileError(`${chain}: .${first} has no fields`)
  if (first === 'Metadata' && rest.length > 0) throw new CompileError(`${chain}: metadata values are strings and have no fields`)
  if (first === 'Payload' && second !== undefined && second !== 'Before' && second !== 'After') {
    throw new CompileError(`can't evaluate field ${second} in type opencdc.Change (fields: .Before, .After)`)
  }
  const tail = (v: unknown, from: number): unknown => {
    for (let k = from; k < names.length; k++) v = field(v, names[k] as string, chain)
    return v
  }
  switch (first) {
    case 'Position':
      return (dot) => positionValue(dot.record.position)
    case 'Operation':
      return (dot) => dot.record.operation
    case 'Metadata':
      if (second === undefined) return (dot) => new MetadataView(dot.record.metadata)
      return (dot) => (Object.hasOwn(dot.record.metadata, second) ? dot.record.metadata[second] : undefined)
    case 'Key':
      return names.length === 1 ? (dot) => dot.record.key : (dot) => tail(dot.record.key, 1)
    default:
      if (second === undefined) return (dot) => new PayloadView(dot.record.payload.before, dot.record.payload.after)
      if (second === 'Before') return (dot) => tail(dot.record.payload.before, 2)
      return (dot) => tail(dot.record.payload.after, 2)
  }
}

function arity(name: string, args: readonly Eval[], min: number, max = Infinity): void {
  if (args.length < min || args.length > max) {
    const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`
    throw new CompileError(`wrong number of args for ${name}: want ${want} got ${args.length}`)
  }
}

function callFunction(name: string, args: Eval[]): Eval {
  switch (name) {
    case 'eq':
    case 'ne': {
      arity(name, args, 2)
      const [a, ...bs] = args as [Eval, ...Eval[]]
      const negate = name === 'ne'
      if (negate) arity(name, args, 2, 2)
      return (dot) => {
        const r = eq(a(dot), bs.map((b) => b(dot)))
        return negate ? !r : r
      }
    }
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge': {
      arity(name, args, 2, 2)
      const [a, b] = args as [Eval, Eval]
      return (dot) => {
        const c = compare(name, a(dot), b(dot))
        return name === 'lt' ? c < 0 : name === 'le' ? c <= 0 : name === 'gt' ? c > 0 : c >= 0
      }
    }
    case 'and':
      arity(name, args, 1)
      return (dot) => {
        let v: unknown
        for (const a of args) {
          v = a(dot)
          if (!truth(v)) return v
        }
        return v
      }
    case 'or':
      arity(name, args, 1)
      return (dot) => {
        let v: unknown
        for (const a of args) {
          v = a(dot)
          if (truth(v)) return v
        }
        return v
      }
    case 'not': {
      arity(name, args, 1, 1)
      const a = args[0] as Eval
      return (dot) => !truth(a(dot))
    }
    case 'printf': {
      arity(name, args, 1)
      const [f, ...rest] = args as [Eval, ...Eval[]]
      return (dot) => {
        const format = f(dot)
        if (typeof format !== 'string') throw new ExecError(`error calling printf: wrong type for value; expected string; got ${goTypeName(format)}`)
        return goSprintf(format, rest.map((r) => plainForFormat(r(dot))))
      }
    }
    case 'index': {
      arity(name, args, 1)
      const [item, ...keys] = args as [Eval, ...Eval[]]
      return (dot) => index(item(dot), keys.map((k) => k(dot)))
    }
    case 'toJson': {
      arity(name, args, 1, 1)
      const a = args[0] as Eval
      return (dot) => {
        try {
          return goJsonMarshal(plain(a(dot)))
        } catch {
          return ''
        }
      }
    }
  }
  throw new CompileError(`function "${name}" is not supported`)
}

function plainForFormat(v: unknown): unknown {
  if (v instanceof RecordView || v instanceof PayloadView) return new GoStringer(printValue(v), plain(v))
  return plain(v)
}

// ---------------------------------------------------------------------------------------------
// Templates

type Part = string | Eval

function parseTemplate(source: string): Part[] {
  const parts: Part[] = []
  let i = 0
  while (i < source.length) {
    const open = source.indexOf('{{', i)
    if (open < 0) {
      parts.push(source.slice(i))
      break
    }
    let text = source.slice(i, open)
    let start = open + 2
    if (source[start] === '-' && /[ \t\r\n]/.test(source[start + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '')
      start++
    }
    if (text !== '') parts.push(text)
    const close = findClose(source, start)
    if (close < 0) throw new CompileError(`unclosed action starting at offset ${open}`)
    let end = close
    let trimRight = false
    if (source[close - 1] === '-' && /[ \t\r\n]/.test(source[close - 2] ?? '')) {
      end = close - 1
      trimRight = true
    }
    const body = source.slice(start, end)
    i = close + 2
    if (trimRight) while (i < source.length && /[ \t\r\n]/.test(source[i] as string)) i++
    if (body.trim().startsWith('/*')) {
      if (!body.trim().endsWith('*/')) throw new CompileError('unclosed comment')
      continue
    }
    const tokens = lexAction(body)
    if (tokens.length === 0) throw new CompileError(`missing value for command at offset ${open}`)
    parts.push(new Parser(tokens).pipeline('end'))
  }
  return parts
}

/** The `}}` closing an action that starts at `from`, skipping quoted strings. */
function findClose(source: string, from: number): number {
  let i = from
  while (i < source.length) {
    const c = source[i]
    if (c === '"') {
      i++
      while (i < source.length && source[i] !== '"') {
        if (source[i] === '\n') throw new CompileError('unterminated quoted string')
        i += source[i] === '\\' ? 2 : 1
      }
      if (i >= source.length) throw new CompileError('unterminated quoted string')
      i++
    } else if (c === '`') {
      const end = source.indexOf('`', i + 1)
      if (end < 0) throw new CompileError('unterminated raw quoted string')
      i = end + 1
    } else if (c === '}' && source[i + 1] === '}') {
      return i
    } else i++
  }
  return -1
}

/**
 * Compiles `source`; `where` names the setting for error messages (`processors[2].settings.value`).
 * Anything outside the supported subset is a `TRIB_PIPELINE_CONFIG` error naming `where` and the
 * construct. The returned function throws `TRIB_PIPELINE_RECORD` errors (naming `where` and the
 * record's position) when a record cannot be rendered.
 */
export function compileTemplate(source: string, where: string): RecordTemplate {
  let parts: Part[]
  try {
    parts = parseTemplate(source)
  } catch (err) {
    if (err instanceof CompileError) {
      throw new TributaryError('TRIB_PIPELINE_CONFIG', `${where}: template ${JSON.stringify(source)}: ${err.message}`)
    }
    throw err
  }
  const fail = (record: PipelineRecord, err: unknown): never => {
    if (err instanceof ExecError) {
      throw new TributaryError('TRIB_PIPELINE_RECORD', `${where}: template ${JSON.stringify(source)} failed for the record at position ${describePosition(record.position)}: ${err.message}`)
    }
    throw err
  }
  if (parts.length === 0) return () => ''
  if (parts.length === 1 && typeof parts[0] === 'string') {
    const text = parts[0]
    return () => text
  }
  if (parts.length === 1) {
    const run = parts[0] as Eval
    return (record) => {
      try {
        return printValue(run(new RecordView(record)))
      } catch (err) {
        return fail(record, err)
      }
    }
  }
  return (record) => {
    const dot = new RecordView(record)
    let out = ''
    try {
      for (const p of parts) out += typeof p === 'string' ? p : printValue(p(dot))
    } catch (err) {
      return fail(record, err)
    }
    return out
  }
}

/** True when `source` contains an action (`{{`), i.e. is a template rather than plain text. */
export function isTemplate(source: string): boolean {
  return source.includes('{{')
}

/**
 * Compiles a processor `condition`. The rendered text is read as Go's `strconv.ParseBool` does
 * (`1 t T TRUE true True` / `0 f F FALSE false False`); anything else makes the returned function
 * throw a `TRIB_PIPELINE_RECORD` error naming `where`, the output and the record's position, as
 * Conduit fails the record. A blank condition is no condition: always true.
 */
export function compileCondition(source: string, where: string): (record: PipelineRecord) => boolean {
  if (source.trim() === '') return () => true // no condition: the processor runs on every record, as in Conduit
  const template = compileTemplate(source, where)
  return (record) => {
    const out = template(record)
    const value = goParseBool(out)
    if (value === undefined) {
      throw new TributaryError(
        'TRIB_PIPELINE_RECORD',
        `${where}: condition ${JSON.stringify(source)} gave ${JSON.stringify(out)} for the record at position ${describePosition(record.position)}, which is not a boolean (true/false, 1/0, t/f)`,
      )
    }
    return value
  }
}
