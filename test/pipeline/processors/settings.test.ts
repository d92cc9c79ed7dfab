import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { builtinProcessors } from '../../../src/pipeline/processors/index.ts'
import { plugin } from './helpers.ts'

/** Minimal valid settings per plugin, as strings the way a Conduit pipeline file gives them. */
const minimal: Record<string, Record<string, unknown>> = {
  'field.set': { field: '.Payload.After.x', value: 'v' },
  'field.exclude': { fields: '.Key' },
  'field.rename': { mapping: '.Payload.After.a:b' },
  'field.convert': { field: '.Key.id', type: 'int' },
  'json.decode': { field: '.Payload.After' },
  'json.encode': { field: '.Payload.After' },
  'base64.encode': { field: '.Key' },
  'base64.decode': { field: '.Key' },
  filter: {},
  error: {},
  split: { field: '.Payload.After.items' },
  clone: { count: '1' },
  'unwrap.opencdc': {},
  'unwrap.debezium': {},
  'unwrap.kafkaconnect': {},
  'custom.javascript': { script: 'function process(r) { return r }' },
  'webhook.http': { 'request.url': 'http://127.0.0.1:9/' },
}

describe('builtin processor settings', () => {
  it('the builtin list has Conduit’s names, each once', () => {
    assert.deepEqual(builtinProcessors.map((p) => p.name).sort(), Object.keys(minimal).sort())
    for (const p of builtinProcessors) assert.ok(p.summary.length > 0, p.name)
  })

  it('minimal settings validate and every plugin creates a processor from them', () => {
    for (const p of builtinProcessors) {
      const settings = p.settings.parse(minimal[p.name])
      const proc = p.create(settings, { pipelineId: 'pl', processorId: p.name, logger: undefined as never })
      assert.equal(typeof proc.process, 'function', p.name)
    }
  })

  it('Conduit’s sdk.schema.* settings are accepted everywhere (booleans as strings)', () => {
    for (const p of builtinProcessors) {
      const r = p.settings.safeParse({ ...minimal[p.name], 'sdk.schema.decode.payload.enabled': 'false', 'sdk.schema.encode.key.enabled': 'true' })
      assert.equal(r.success, true, `${p.name}: ${r.error?.message}`)
    }
    const bad = plugin('json.decode').settings.safeParse({ field: '.Key', 'sdk.schema.decode.key.enabled': 'maybe' })
    assert.equal(bad.success, false)
    assert.deepEqual(bad.error?.issues[0]?.path, ['sdk.schema.decode.key.enabled'])
  })

  it('an unknown setting is an error naming it', () => {
    for (const p of builtinProcessors) {
      const r = p.settings.safeParse({ ...minimal[p.name], 'no.such.setting': 'x' })
      assert.equal(r.success, false, p.name)
      assert.ok(JSON.stringify(r.error?.issues).includes('no.such.setting'), p.name)
    }
  })

  it('a missing required setting is an error naming it', () => {
    const required: [string, string][] = [
      ['field.set', 'field'],
      ['field.set', 'value'],
      ['field.exclude', 'fields'],
      ['field.rename', 'mapping'],
      ['field.convert', 'field'],
      ['field.convert', 'type'],
      ['json.decode', 'field'],
      ['json.encode', 'field'],
      ['base64.encode', 'field'],
      ['base64.decode', 'field'],
      ['split', 'field'],
      ['clone', 'count'],
      ['webhook.http', 'request.url'],
    ]
    for (const [name, key] of required) {
      const settings = { ...minimal[name] }
      delete settings[key]
      const r = plugin(name).settings.safeParse(settings)
      assert.equal(r.success, false, `${name} without ${key}`)
      assert.deepEqual(r.error?.issues[0]?.path, [key], `${name} without ${key}`)
      const blank = plugin(name).settings.safeParse({ ...minimal[name], [key]: '  ' })
      assert.equal(blank.success, false, `${name} with a blank ${key}`)
    }
  })

  it('defaults are Conduit’s', () => {
    assert.deepEqual(plugin('error').settings.parse({}), { message: 'error processor triggered' })
    for (const name of ['unwrap.opencdc', 'unwrap.debezium', 'unwrap.kafkaconnect']) assert.deepEqual(plugin(name).settings.parse({}), { field: '.Payload.After' })
    assert.equal((plugin('custom.javascript').settings.parse({ script: 'x' }) as { timeout: number }).timeout, 1000)
    assert.equal((plugin('clone').settings.parse({ count: 3 }) as { count: number }).count, 3, 'numbers from YAML are accepted too')
  })
})
