import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../../src/core/errors.ts'
import { createLogger } from '../../../src/core/logger.ts'
import { isSingleRecord } from '../../../src/pipeline/processor.ts'
import { frozen, make, plugin, processError, processOne, rec, run, runOne } from './helpers.ts'

const js = (script: string, extra: Record<string, unknown> = {}) => make('custom.javascript', { script, ...extra }, 'script')

function configFails(fn: () => unknown, ...mentions: RegExp[]): void {
  assert.throws(fn, (err) => {
    assert.ok(isTributaryError(err, 'TRIB_PIPELINE_CONFIG'), `expected TRIB_PIPELINE_CONFIG, got ${String(err)}`)
    for (const m of mentions) assert.match(err.message, m)
    return true
  })
}

describe('custom.javascript', () => {
  it('an endless loop is a nack naming the processor; the records around it and the next call work', async () => {
    const p = js(
      `function process(r) {
        if (r.Metadata.loop === "yes") { while (true) {} }
        r.Metadata.done = "1";
        return r;
      }`,
      { timeout: '150ms' },
    )
    const started = performance.now()
    const out = await run(p, [rec({ position: 'a' }), rec({ position: 'b', metadata: { loop: 'yes' } }), rec({ position: 'c' })])
    assert.ok(performance.now() - started < 5000)
    assert.equal(out.length, 3)
    assert.ok(isSingleRecord(out[0]!) && out[0].metadata.done === '1')
    assert.ok(!isSingleRecord(out[1]!) && out[1].kind === 'error')
    assert.ok(isTributaryError(out[1].error, 'TRIB_PIPELINE_RECORD'))
    assert.match(out[1].error.message, /processor "script" \(custom.javascript\): record at position "b": process\(\) did not return within 150 ms/)
    assert.ok(isSingleRecord(out[2]!) && out[2].metadata.done === '1')
    const next = await processOne(p, rec({ position: 'd' }))
    assert.equal(next.metadata.done, '1')
  })

  it('a slow batch is not mistaken for an endless loop: every record gets the full time limit', async () => {
    const p = js('function process(r) { var end = Date.now() + 40; while (Date.now() < end) {} return r }', { timeout: '100ms' })
    const out = await run(p, [rec({ position: 'a' }), rec({ position: 'b' }), rec({ position: 'c' }), rec({ position: 'd' })])
    assert.ok(out.every((o) => isSingleRecord(o)))
  })

  it('a thrown error is a nack carrying the message', async () => {
    const err = await processError(js('function process(r) { throw new Error("something bad happened") }'), rec({ position: 'z' }))
    assert.match(err.message, /record at position "z": process\(\) threw: Error: something bad happened/)
  })

  it('returning null filters the record, as Conduit documents', async () => {
    const p = js('function process(r) { if (r.Metadata["keepme"] != undefined) { return r } return null }')
    assert.deepEqual(await runOne(p, rec({ metadata: { foo: 'bar' } })), { kind: 'filter' })
    assert.deepEqual((await processOne(p, rec({ metadata: { keepme: 'yes' } }))).metadata, { keepme: 'yes' })
  })

  it('changes structured data, operation, key and metadata; the input record is not changed', async () => {
    const input = frozen(rec({ position: '2', metadata: { existing: 'val', remove_me: 'x' }, key: 'bar', after: { aaa: 111, bbb: ['foo', 'bar'] } }))
    const out = await processOne(
      js(`function process(rec) {
        rec.Operation = "update";
        rec.Metadata["returned"] = "JS";
        delete rec.Metadata.remove_me;
        rec.Key = RawData("baz");
        rec.Payload.After["ccc"] = "baz";
        rec.Payload.After.bbb.push("x");
        return rec;
      }`),
      input,
    )
    assert.deepEqual(out, {
      position: Buffer.from('2'),
      operation: 'update',
      metadata: { existing: 'val', returned: 'JS' },
      key: Buffer.from('baz'),
      payload: { before: null, after: { aaa: 111, bbb: ['foo', 'bar', 'x'], ccc: 'baz' } },
    })
    assert.deepEqual(input.payload.after, { aaa: 111, bbb: ['foo', 'bar'] })
  })

  it('new Record(), new RawData(...), new StructuredData() and a position from a string', async () => {
    const out = await processOne(
      js(`function process(record) {
        var r = new Record();
        r.Position = "3";
        r.Metadata["returned"] = "JS";
        r.Key = new RawData("baz");
        r.Payload.After = new StructuredData();
        r.Payload.After["foo"] = "bar";
        r.Payload.Before = RawData();
        return r;
      }`),
      rec({ position: 'orig' }),
    )
    assert.deepEqual(out, { position: Buffer.from('3'), operation: 'create', metadata: { returned: 'JS' }, key: Buffer.from('baz'), payload: { before: Buffer.alloc(0), after: { foo: 'bar' } } })
  })

  it('the record is made of the script’s own objects: instanceof works', async () => {
    const out = await processOne(
      js('function process(r) { r.Metadata.checks = [r.Payload.After.list instanceof Array, r.Payload.After instanceof Object, r.Key instanceof RawData, r.Key instanceof Uint8Array].join(); return r }'),
      rec({ key: 'k', after: { list: [1] } }),
    )
    assert.equal(out.metadata.checks, 'true,true,true,true')
  })

  it('raw data is a byte array with UTF-8 text', async () => {
    const out = await processOne(js('function process(r) { r.Metadata.len = String(r.Payload.After.length); r.Payload.After = RawData("é✓"); return r }'), rec({ after: 'héllo' }))
    assert.equal(out.metadata.len, '6')
    assert.deepEqual(out.payload.after, Buffer.from('é✓'))
  })

  it('a returned value that is not a record is a nack', async () => {
    assert.match((await processError(js('function process(r) { return 5 }'), rec({}))).message, /must return a record or null, not a number/)
    assert.match((await processError(js('function process(r) { r.Operation = "upsert"; return r }'), rec({}))).message, /Operation "upsert" is not one of/)
    assert.match((await processError(js('async function process(r) { return r }'), rec({}))).message, /returned a Promise/)
    assert.match((await processError(js('function process(r) { return [r] }'), rec({}))).message, /not an array/)
    assert.match((await processError(js('function process(r) { return { foo: 1 } }'), rec({}))).message, /an object without Position/)
    assert.match((await processError(js('function process(r) { r.Key = [1, 2]; return r }'), rec({}))).message, /Key is an array/)
  })

  it('logger follows zerolog’s chain and writes to the pipeline log', async () => {
    const lines: string[] = []
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk))
        done()
      },
    })
    const logger = createLogger({ level: 'debug' }, sink)
    const p = plugin('custom.javascript')
    const proc = p.create(p.settings.parse({ script: 'function process(r) { logger.Info().Str("table", "users").Int("n", 2).Msg("Hello"); logger.Debug().Send(); return r }' }), { pipelineId: 'pl', processorId: 'log-js', logger })
    await proc.process([rec({})], new AbortController().signal)
    const hello = JSON.parse(lines.find((l) => l.includes('Hello')) ?? '{}') as Record<string, unknown>
    assert.equal(hello.msg, 'Hello')
    assert.equal(hello.table, 'users')
    assert.equal(hello.n, 2)
    assert.equal(hello.level, 30)
    assert.equal(lines.length, 2)
  })

  it('script.path reads the script from a file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-js-'))
    try {
      const file = path.join(dir, 'p.js')
      fs.writeFileSync(file, 'function process(r) { r.Metadata.from = "file"; return r }')
      const out = await processOne(make('custom.javascript', { 'script.path': file }), rec({}))
      assert.equal(out.metadata.from, 'file')
      configFails(() => make('custom.javascript', { 'script.path': path.join(dir, 'missing.js') }), /setting "script.path": cannot read/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('bad scripts and settings fail when created, naming the setting', () => {
    configFails(() => make('custom.javascript', {}), /one of script and script.path is required/)
    configFails(() => make('custom.javascript', { script: 'function process(r) { return r }', 'script.path': '/x.js' }), /only one of script and script.path/)
    configFails(() => js('function process(r) { return r '), /setting "script": the script does not compile/)
    configFails(() => js('function something() {}'), /must define a function process\(record\)/)
    configFails(() => js('while (true) {}', { timeout: '50ms' }), /setting "script": running the script failed: Script execution timed out/)
    assert.equal(plugin('custom.javascript').settings.safeParse({ script: 'x', timeout: 'soon' }).success, false)
  })
})
