import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/errors.ts'
import { createRecord, type PipelineRecord } from '../../src/pipeline/record.ts'
import { compileCondition, compileTemplate } from '../../src/pipeline/template.ts'

const record: PipelineRecord = createRecord({
  position: Buffer.from('pos-7'),
  operation: 'update',
  metadata: { table: 'users', 'opencdc.collection': 'public.users', empty: '' },
  key: Buffer.from('hi'),
  before: { id: 1 },
  after: { id: 42, name: 'Ada', score: 1.5, big: 123456789, tags: ['a', 'b'], user: { b: 2, a: 'x' }, 'my-key': 'dash', nothing: null, yes: true, zero: 0 },
})

const render = (source: string, r: PipelineRecord = record): string => compileTemplate(source, 'settings.value')(r)

function compileFails(source: string, ...mentions: RegExp[]): void {
  assert.throws(
    () => compileTemplate(source, 'processors[1].settings.value'),
    (err) => {
      assert.ok(isTributaryError(err, 'TRIB_PIPELINE_CONFIG'), `expected TRIB_PIPELINE_CONFIG, got ${String(err)}`)
      assert.match(err.message, /^processors\[1\]\.settings\.value: template /)
      for (const m of mentions) assert.match(err.message, m)
      return true
    },
  )
}

function renderFails(source: string, ...mentions: RegExp[]): void {
  const t = compileTemplate(source, 'settings.value')
  assert.throws(
    () => t(record),
    (err) => {
      assert.ok(isTributaryError(err, 'TRIB_PIPELINE_RECORD'), `expected TRIB_PIPELINE_RECORD, got ${String(err)}`)
      assert.match(err.message, /settings\.value/)
      assert.match(err.message, /position "pos-7"/)
      for (const m of mentions) assert.match(err.message, m)
      return true
    },
  )
}

describe('templates: what renders', () => {
  it('text without actions is returned as is, with text around actions kept', () => {
    assert.equal(render('plain text'), 'plain text')
    assert.equal(render(''), '')
    assert.equal(render('id={{ .Payload.After.id }}, name={{.Payload.After.name}}!'), 'id=42, name=Ada!')
  })

  it('field chains reach every part of the record', () => {
    assert.equal(render('{{ .Position }}'), 'pos-7')
    assert.equal(render('{{ .Operation }}'), 'update')
    assert.equal(render('{{ .Metadata.table }}'), 'users')
    assert.equal(render('{{ .Payload.Before.id }}'), '1')
    assert.equal(render('{{ .Payload.After.user.a }}'), 'x')
  })

  it('values print as Go prints them', () => {
    assert.equal(render('{{ .Payload.After.user }}'), 'map[a:x b:2]')
    assert.equal(render('{{ .Payload.After.tags }}'), '[a b]')
    assert.equal(render('{{ .Key }}'), '[104 105]', 'raw data prints as its bytes')
    assert.equal(render('{{ .Payload.After.score }} {{ .Payload.After.big }} {{ 1234567.5 }} {{ 0.00001 }}'), '1.5 123456789 1.2345675e+06 1e-05')
    assert.equal(render('{{ .Payload.After.missing }}'), '<no value>')
    assert.equal(render('{{ .Payload.After.nothing }}'), '<nil>')
    assert.equal(render('{{ .Metadata.missing }}'), '<no value>')
    assert.equal(render('{{ .Metadata }}'), 'map[empty: opencdc.collection:public.users table:users]')
    assert.equal(render('{{ .Payload.After.yes }} {{ true }} {{ "s" }} {{ `raw\\n` }}'), 'true true s raw\\n')
  })

  it('eq, ne, lt, le, gt, ge compare like Go', () => {
    assert.equal(render('{{ eq .Metadata.table "users" }}'), 'true')
    assert.equal(render('{{ eq .Metadata.table "orders" "users" }}'), 'true', 'eq with several arguments is "any of"')
    assert.equal(render('{{ ne .Operation "create" }}'), 'true')
    assert.equal(render('{{ eq .Payload.After.id 42 }}'), 'true')
    assert.equal(render('{{ eq .Payload.After.missing "x" }}'), 'false', 'a missing value equals nothing')
    assert.equal(render('{{ lt .Payload.After.score 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1 2 }}'), 'true true true false')
  })

  it('and, or, not follow Go truth and return values', () => {
    assert.equal(render('{{ and .Payload.After.name .Payload.After.zero }}'), '0')
    assert.equal(render('{{ or .Payload.After.missing .Metadata.empty "default" }}'), 'default')
    assert.equal(render('{{ not .Payload.After.zero }} {{ not .Payload.After.tags }}'), 'true false')
    assert.equal(render('{{ and (eq .Operation "update") (not (eq .Metadata.table "orders")) }}'), 'true')
    // and stops at the first false value: the comparison that would fail is not evaluated
    assert.equal(render('{{ and false (eq 1 "x") }}'), 'false')
  })

  it('printf formats with Go verbs, also in a pipeline', () => {
    assert.equal(render('{{ printf "%s=%d (%.2f) %v %q %t %x" .Metadata.table .Payload.After.id .Payload.After.score .Payload.After.tags .Payload.After.name .Payload.After.yes "hi" }}'), 'users=42 (1.50) [a b] "Ada" true 6869')
    assert.equal(render('{{ printf "%s" .Key }}'), 'hi', '%s prints raw data as text')
    assert.equal(render('{{ .Payload.After.name | printf "<%s>" }}'), '<Ada>')
    assert.equal(render('{{ printf "%d" .Metadata.table }}'), '%!d(string=users)')
    assert.equal(render('{{ printf "%s %s" "a" }}'), 'a %!s(MISSING)')
  })

  it('index reads map keys that are not identifiers, array elements and metadata', () => {
    assert.equal(render('{{ index .Payload.After "my-key" }}'), 'dash')
    assert.equal(render('{{ index .Metadata "opencdc.collection" }}'), 'public.users')
    assert.equal(render('{{ index .Payload.After.tags 1 }}'), 'b')
    assert.equal(render('{{ index .Payload.After "user" "b" }}'), '2')
    assert.equal(render('{{ (index .Payload.After "user").a }}'), 'x')
    assert.equal(render('[{{ index .Metadata "nope" }}]'), '[]', 'a missing metadata key is the empty string')
  })

  it('toJson writes a value or the whole record as Go marshals it', () => {
    assert.equal(render('{{ toJson .Payload.After.user }}'), '{"a":"x","b":2}')
    const small = createRecord({ position: Buffer.from('p'), operation: 'create', metadata: { a: '<b>' }, key: Buffer.from('k'), after: { bar: 123, baz: null } })
    assert.equal(render('{{ toJson . }}', small), '{"position":"cA==","operation":"create","metadata":{"a":"\\u003cb\\u003e"},"key":"aw==","payload":{"before":null,"after":{"bar":123,"baz":null}}}')
  })

  it('trim markers and comments', () => {
    assert.equal(render('a  {{- .Metadata.table -}}  b'), 'ausersb')
    assert.equal(render('x{{/* a comment */}}y'), 'xy')
  })

  it('renders many records from one compilation', () => {
    const t = compileTemplate('{{ .Payload.After.n }}', 'v')
    for (let n = 0; n < 100; n++) assert.equal(t(createRecord({ position: Buffer.from(String(n)), after: { n } })), String(n))
  })
})

describe('templates: what is not supported fails at compile time, naming the setting and the construct', () => {
  it('control actions', () => {
    for (const kw of ['if', 'range', 'with', 'define', 'template', 'block']) compileFails(`{{ ${kw} .Key }}x{{ end }}`, new RegExp(`"${kw}" actions are not supported`))
    compileFails('{{ end }}', /"end" actions are not supported/)
    compileFails('{{ else }}', /"else"/)
  })

  it('variables and assignments', () => {
    compileFails('{{ $x := .Key }}', /variables/)
    compileFails('{{ $ }}', /variables/)
    compileFails('{{ .Key = 1 }}', /assignments/)
  })

  it('functions outside the subset name the supported ones', () => {
    compileFails('{{ upper .Metadata.table }}', /function "upper" is not supported/, /supported: eq, ne/)
    compileFails('{{ .Metadata.table | lower }}', /function "lower"/)
    compileFails('{{ len .Payload.After.tags }}', /function "len"/)
  })

  it('character constants and nil', () => {
    compileFails("{{ eq .Metadata.table 'u' }}", /character constants/)
    compileFails('{{ eq .Key nil }}', /nil is not supported/)
  })

  it('bad syntax', () => {
    compileFails('{{ .Payload.After.my-key }}', /bad character U\+002D "-"/, /index \.Payload\.After "my-key"/)
    compileFails('{{ .Payload.After.name', /unclosed action/)
    compileFails('{{ }}', /missing value/)
    compileFails('{{ eq (.Key }}', /unclosed left paren/)
    compileFails('{{ "abc }}', /unterminated quoted string/)
    compileFails('{{ .Key .Operation }}', /can't give argument to non-function/)
    compileFails('{{ eq .Key }}', /wrong number of args for eq/)
    compileFails('{{ not 1 2 }}', /wrong number of args for not/)
    compileFails('{{ 12abc }}', /bad number syntax/)
    compileFails('{{ .Key | }}', /missing command/)
  })

  it('fields the record does not have', () => {
    compileFails('{{ .Foo }}', /can't evaluate field Foo in type opencdc.Record/)
    compileFails('{{ .payload.after }}', /can't evaluate field payload/)
    compileFails('{{ .Payload.Middle }}', /can't evaluate field Middle in type opencdc.Change/)
    compileFails('{{ .Operation.x }}', /\.Operation has no fields/)
    compileFails('{{ .Metadata.a.b }}', /metadata values are strings/)
  })
})

describe('templates: errors while rendering name the setting and the record position', () => {
  it('comparing different types', () => {
    renderFails('{{ eq .Payload.After.id "42" }}', /incompatible types for comparison/)
    renderFails('{{ lt .Payload.After.tags 1 }}', /invalid type for comparison/)
  })

  it('fields of raw data, of nil and of scalars', () => {
    renderFails('{{ .Key.id }}', /can't evaluate field id in type \[\]uint8/, /raw data/)
    renderFails('{{ .Payload.After.nothing.x }}', /nil pointer evaluating/)
    renderFails('{{ .Payload.After.name.first }}', /can't evaluate field first in type string/)
  })

  it('index out of range and printf without a format', () => {
    renderFails('{{ index .Payload.After.tags 5 }}', /index out of range: 5/)
    renderFails('{{ printf .Payload.After.id }}', /wrong type for value; expected string/)
  })
})

describe('conditions', () => {
  it('read the output as Go’s strconv.ParseBool', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(compileCondition(t, 'c')(record), true, t)
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(compileCondition(f, 'c')(record), false, f)
    assert.equal(compileCondition('{{ eq .Metadata.table "users" }}', 'c')(record), true)
    assert.equal(compileCondition('{{ eq .Metadata.table "orders" }}', 'c')(record), false)
  })

  it('a non-boolean output is an error naming the condition, the output and the position', () => {
    const c = compileCondition('{{ .Metadata.table }}', 'pipelines[0].processors[2].condition')
    assert.throws(
      () => c(record),
      (err) => isTributaryError(err, 'TRIB_PIPELINE_RECORD') && /pipelines\[0\]\.processors\[2\]\.condition/.test(err.message) && /gave "users"/.test(err.message) && /position "pos-7"/.test(err.message),
    )
  })

  it('a blank condition is no condition', () => {
    assert.equal(compileCondition('  ', 'c')(record), true)
  })

  it('an unsupported condition fails when compiled', () => {
    assert.throws(() => compileCondition('{{ contains .Metadata.table "u" }}', 'processors[0].condition'), (err) => isTributaryError(err, 'TRIB_PIPELINE_CONFIG') && /processors\[0\]\.condition/.test(err.message))
  })
})
