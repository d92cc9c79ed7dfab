import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../../src/core/index.ts'
import { generatorConnector } from '../../../src/pipeline/connectors/index.ts'
import { parseConnectorSettings } from '../../../src/pipeline/connectors/settings.ts'
import type { PipelineRecord, Source } from '../../../src/pipeline/index.ts'
import { context, settingErrors, settingsOf, signal, tempDir } from './helpers.ts'

async function openGenerator(settings: { [k: string]: unknown }, lastPosition?: string): Promise<Source> {
  const source = generatorConnector.source!(settingsOf(generatorConnector, settings), context({ lastPosition }))
  await source.open(signal())
  return source
}

async function readAll(source: Source, count: number): Promise<PipelineRecord[]> {
  const out: PipelineRecord[] = []
  while (out.length < count) out.push(...(await source.read(signal())))
  return out
}

describe('generator source', () => {
  it('generates exactly recordCount records with increasing positions "1".."n", then waits until stopped', async () => {
    const source = await openGenerator({ 'format.type': 'structured', 'format.options.id': 'int', recordCount: '25', 'sdk.batch.size': '10' })
    const records = await readAll(source, 25)
    assert.equal(records.length, 25)
    assert.deepEqual(
      records.map((r) => r.position.toString()),
      Array.from({ length: 25 }, (_, i) => String(i + 1)),
    )
    const stop = new AbortController()
    const pending = source.read(stop.signal)
    let settled = false
    void pending.then(() => (settled = true))
    await new Promise((r) => setImmediate(r))
    assert.equal(settled, false, 'read blocks once all records are generated')
    stop.abort()
    assert.deepEqual(await pending, [])
    await source.teardown()
  })

  it('structured records carry typed fields, a raw word key and Conduit metadata', async () => {
    const source = await openGenerator({
      'format.type': 'structured',
      'format.options.id': 'int',
      'format.options.name': 'string',
      'format.options.at': 'time',
      'format.options.ok': 'bool',
      'format.options.took': 'duration',
      'format.options.score': 'float',
      recordCount: 50,
    })
    const before = BigInt(Date.now()) * 1_000_000n
    const records = await readAll(source, 50)
    for (const r of records) {
      assert.equal(r.operation, 'create')
      assert.ok(Buffer.isBuffer(r.key) && /^[a-z]+$/.test(r.key.toString()), 'key is a raw word')
      assert.equal(r.payload.before, null)
      const after = r.payload.after as { [k: string]: unknown }
      assert.deepEqual(Object.keys(after), ['at', 'id', 'name', 'ok', 'score', 'took'], 'fields in sorted order')
      assert.ok(Number.isSafeInteger(after.id) && (after.id as number) >= 0)
      assert.match(after.name as string, /^[a-z]+$/)
      assert.match(after.at as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
      assert.equal(typeof after.ok, 'boolean')
      assert.equal(typeof after.score, 'number')
      assert.equal((after.took as number) % 1_000_000_000, 0, 'a duration is whole seconds in nanoseconds')
      assert.deepEqual(Object.keys(r.metadata), ['opencdc.createdAt', 'opencdc.readAt'])
      assert.ok(BigInt(r.metadata['opencdc.createdAt']) >= before - 1_000_000n)
    }
    await source.teardown()
  })

  it('raw format gives the JSON of the fields as bytes; operations shape before/after as Conduit', async () => {
    const source = await openGenerator({ 'format.type': 'raw', 'format.options.b': 'int', 'format.options.a': 'string', operations: 'create,update,delete,snapshot', recordCount: 400 })
    const records = await readAll(source, 400)
    const seen = new Set<string>()
    for (const r of records) {
      seen.add(r.operation)
      const parts = r.operation === 'update' ? [r.payload.before, r.payload.after] : r.operation === 'delete' ? [r.payload.before] : [r.payload.after]
      if (r.operation === 'delete') assert.equal(r.payload.after, null)
      if (r.operation === 'create' || r.operation === 'snapshot') assert.equal(r.payload.before, null)
      for (const part of parts) {
        assert.ok(Buffer.isBuffer(part))
        assert.deepEqual(Object.keys(JSON.parse(part.toString())), ['a', 'b'])
      }
    }
    assert.deepEqual([...seen].sort(), ['create', 'delete', 'snapshot', 'update'])
  })

  it('collections: each record belongs to one, with opencdc.collection and that collection\'s format', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'payload.bin')
    fs.writeFileSync(file, 'fixed payload')
    const source = await openGenerator({
      'collections.users.format.type': 'structured',
      'collections.users.format.options.id': 'int',
      'collections.orders.format.type': 'raw',
      'collections.orders.format.options.product': 'string',
      'collections.orders.operations': 'update',
      'collections.blobs.format.type': 'file',
      'collections.blobs.format.options.path': file,
      recordCount: 300,
    })
    const records = await readAll(source, 300)
    const by = new Map<string, PipelineRecord[]>()
    for (const r of records) by.set(r.metadata['opencdc.collection'], [...(by.get(r.metadata['opencdc.collection']) ?? []), r])
    assert.deepEqual([...by.keys()].sort(), ['blobs', 'orders', 'users'])
    for (const r of by.get('users')!) assert.deepEqual(Object.keys(r.payload.after as object), ['id'])
    for (const r of by.get('orders')!) {
      assert.equal(r.operation, 'update')
      assert.ok(Buffer.isBuffer(r.payload.before) && Buffer.isBuffer(r.payload.after))
    }
    for (const r of by.get('blobs')!) assert.equal((r.payload.after as Buffer).toString(), 'fixed payload')
    assert.deepEqual(
      records.map((r) => Number(r.position.toString())),
      Array.from({ length: 300 }, (_, i) => i + 1),
      'one position sequence across collections',
    )
  })

  it('resumes after lastPosition: recordCount counts across restarts', async () => {
    const source = await openGenerator({ 'format.type': 'structured', 'format.options.id': 'int', recordCount: '10' }, '7')
    const records = await readAll(source, 3)
    assert.deepEqual(
      records.map((r) => r.position.toString()),
      ['8', '9', '10'],
    )
    const done = await openGenerator({ 'format.type': 'structured', recordCount: '10' }, '10')
    const stop = new AbortController()
    const pending = done.read(stop.signal)
    stop.abort()
    assert.deepEqual(await pending, [], 'nothing left after a restart at the last record')
  })

  it('a stored position that is not a record number is a clear error', async () => {
    const source = generatorConnector.source!(settingsOf(generatorConnector, { 'format.type': 'raw' }), context({ lastPosition: '{"x":1}' }))
    await assert.rejects(source.open(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_POSITION') && /not a record number/.test(err.message))
  })

  it('rate limits the records per second', async () => {
    const rate = 200
    const source = await openGenerator({ 'format.type': 'raw', 'format.options.id': 'int', rate: String(rate) })
    const started = Date.now()
    const records = await readAll(source, 60)
    const elapsed = Date.now() - started
    // 60 records at 200/s take at least (60 - 1 banked - 20 banked per 100 ms) / 200 s.
    assert.ok(elapsed >= ((60 - 21) / rate) * 1_000 - 15, `60 records at ${rate}/s took ${elapsed} ms`)
    assert.ok(records.length >= 60)
  })

  it('bursts: no records while sleeping between bursts', async () => {
    const source = await openGenerator({ 'format.type': 'raw', 'burst.generateTime': '100ms', 'burst.sleepTime': '400ms', 'sdk.batch.size': 5 })
    const opened = Date.now()
    assert.equal((await source.read(signal())).length, 5, 'in the first burst')
    await new Promise((r) => setTimeout(r, Math.max(0, opened + 150 - Date.now())))
    await source.read(signal())
    const secondBurst = Date.now() - opened
    assert.ok(secondBurst >= 490, `the next burst starts after 100 ms + 400 ms of sleep (got a record at ${secondBurst} ms)`)
  })

  it('accepts YAML numbers and booleans and Go durations', () => {
    const s = settingsOf(generatorConnector, { 'format.type': 'structured', recordCount: 5, rate: 2.5, 'burst.sleepTime': '1m30s', 'burst.generateTime': '250ms' })
    assert.equal(s.recordCount, 5)
    assert.equal(s.rate, 2.5)
    assert.equal(s.burstSleepTime, 90_000)
    assert.equal(s.burstGenerateTime, 250)
    assert.equal(settingsOf(generatorConnector, { 'format.type': 'raw', readTime: '100ms' }).rate, 10, 'deprecated readTime becomes a rate')
  })

  it('bad settings are errors naming the setting', () => {
    assert.match(settingErrors(generatorConnector, {}).join('\n'), /^format\.type: "format\.type" is required/m)
    assert.match(settingErrors(generatorConnector, { 'format.type': 'xml' }).join('\n'), /format\.type: "format\.type" is "xml"; use one of structured, raw, file/)
    assert.match(settingErrors(generatorConnector, { 'format.type': 'raw', 'format.options.id': 'integer' }).join('\n'), /format\.options\.id: .*unknown type "integer"/)
    assert.match(settingErrors(generatorConnector, { 'format.type': 'raw', recordCount: 'lots' }).join('\n'), /recordCount: .*not an integer/)
    assert.match(settingErrors(generatorConnector, { 'format.type': 'raw', recordCount: '-1' }).join('\n'), /recordCount: .*at least 0/)
    assert.match(settingErrors(generatorConnector, { 'format.type': 'raw', 'burst.sleepTime': '5' }).join('\n'), /burst\.sleepTime: .*missing unit/)
    assert.match(settingErrors(generatorConnector, { 'format.type': 'raw', rate: '10', readTime: '1s' }).join('\n'), /readTime: .*both set/)
    assert.match(settingErrors(generatorConnector, { 'format.type': 'raw', operations: 'create,upsert' }).join('\n'), /operations: .*unknown operation "upsert"/)
    assert.match(settingErrors(generatorConnector, { 'format.type': 'file' }).join('\n'), /format\.options\.path: .*required when the format type is file/)
    assert.match(settingErrors(generatorConnector, { 'format.type': 'raw', colour: 'blue' }).join('\n'), /colour: "colour" is not a setting of this connector/)
    assert.match(settingErrors(generatorConnector, { 'collections.users.operations': 'create' }).join('\n'), /collections\.users\.format\.type: .*required/)
    assert.throws(
      () => parseConnectorSettings(generatorConnector, { 'format.type': 'xml' }, 'pipeline.yaml: pipelines[0].connectors[0]'),
      (err) => isTributaryError(err, 'TRIB_CONNECTOR_SETTINGS') && err.message.startsWith('pipeline.yaml: pipelines[0].connectors[0]: invalid settings for plugin generator: "format.type" is "xml"'),
    )
  })

  it('a file payload that cannot be read fails open, naming the setting', async () => {
    const source = generatorConnector.source!(settingsOf(generatorConnector, { 'format.type': 'file', 'format.options.path': '/nonexistent/file' }), context())
    await assert.rejects(source.open(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_SETTINGS') && /"format\.options\.path" names \/nonexistent\/file/.test(err.message))
  })
})
