import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { open } from 'node:fs/promises'
import path from 'node:path'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../../src/core/index.ts'
import { fileConnector } from '../../../src/pipeline/connectors/index.ts'
import { createRecord, recordFromJson, type PipelineRecord, type Source } from '../../../src/pipeline/index.ts'
import { capturingLogger, context, eventually, settingErrors, settingsOf, signal, tempDir } from './helpers.ts'

const text = (data: unknown): string => (data as Buffer).toString()

async function openSource(file: string, lastPosition?: string, extra: { [k: string]: string } = {}): Promise<Source> {
  const source = fileConnector.source!(settingsOf(fileConnector, { path: file, pollInterval: '10ms', ...extra }), context({ lastPosition }))
  await source.open(signal())
  return source
}

async function readN(source: Source, n: number): Promise<PipelineRecord[]> {
  const out: PipelineRecord[] = []
  while (out.length < n) out.push(...(await source.read(signal())))
  return out
}

describe('file source', () => {
  it('reads each line as a record shaped as Conduit: position = offset after the line, key = line number, raw payload, file.path', async () => {
    const file = path.join(tempDir(), 'in.txt')
    fs.writeFileSync(file, 'alpha\nbeta\n\ngamma delta\n')
    const source = await openSource(file)
    const records = await readN(source, 4)
    assert.deepEqual(
      records.map((r) => [r.position.toString(), text(r.key), text(r.payload.after)]),
      [
        ['6', '1', 'alpha'],
        ['11', '2', 'beta'],
        ['12', '3', ''],
        ['24', '4', 'gamma delta'],
      ],
    )
    for (const r of records) {
      assert.equal(r.operation, 'create')
      assert.equal(r.payload.before, null)
      assert.equal(r.metadata['file.path'], file)
      assert.match(r.metadata['opencdc.readAt'], /^\d{19}$/)
    }
    await source.teardown()
  })

  it('tails: lines appended while running are read; a line without its newline waits for it', async () => {
    const file = path.join(tempDir(), 'tail.txt')
    fs.writeFileSync(file, 'one\n')
    const source = await openSource(file)
    assert.equal(text((await readN(source, 1))[0].payload.after), 'one')
    fs.appendFileSync(file, 'two\nthr')
    const next = await readN(source, 1)
    assert.deepEqual(next.map((r) => text(r.payload.after)), ['two'])
    const stop = new AbortController()
    const waiting = source.read(stop.signal)
    fs.appendFileSync(file, 'ee\n')
    const last = await waiting
    assert.deepEqual(last.map((r) => [text(r.payload.after), text(r.key), r.position.toString()]), [['three', '3', '14']])
    await source.teardown()
  })

  it('waits for a file that does not exist yet (as Conduit)', async () => {
    const file = path.join(tempDir(), 'later.txt')
    const source = await openSource(file)
    const pending = source.read(signal())
    fs.writeFileSync(file, 'hello\n')
    assert.equal(text((await pending)[0].payload.after), 'hello')
    await source.teardown()
  })

  it('resumes after a restart from lastPosition: the next line, with its line number', async () => {
    const file = path.join(tempDir(), 'resume.txt')
    fs.writeFileSync(file, 'a\nb\nc\nd\n')
    const first = await openSource(file)
    const two = await readN(first, 2)
    await first.teardown()
    const stored = two[1].position.toString()
    fs.appendFileSync(file, 'e\n')
    const second = await openSource(file, stored)
    const rest = await readN(second, 3)
    assert.deepEqual(rest.map((r) => [text(r.key), text(r.payload.after)]), [
      ['3', 'c'],
      ['4', 'd'],
      ['5', 'e'],
    ])
    await second.teardown()
  })

  it('a stored position past the end, inside a line, or not a number is an error naming file and offset', async () => {
    const file = path.join(tempDir(), 'bad.txt')
    fs.writeFileSync(file, 'abc\ndef\n')
    const past = fileConnector.source!(settingsOf(fileConnector, { path: file }), context({ lastPosition: '100' }))
    await assert.rejects(past.open(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_POSITION') && err.message.includes(file) && /8 bytes, fewer than the stored position \(byte offset 100\)/.test(err.message))
    const mid = fileConnector.source!(settingsOf(fileConnector, { path: file }), context({ lastPosition: '6' }))
    await assert.rejects(mid.open(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_POSITION') && err.message.includes(file) && /byte offset 6\) is not at the start of a line/.test(err.message))
    const junk = fileConnector.source!(settingsOf(fileConnector, { path: file }), context({ lastPosition: 'Mg==' }))
    await assert.rejects(junk.open(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_POSITION') && /not a byte offset/.test(err.message))
    const gone = fileConnector.source!(settingsOf(fileConnector, { path: file + '.missing' }), context({ lastPosition: '4' }))
    await assert.rejects(gone.open(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_POSITION') && /does not exist, but the stored position is byte offset 4/.test(err.message))
  })

  it('a file truncated under the tail, or a line longer than maxLineBytes, is an error naming file and offset', async () => {
    const file = path.join(tempDir(), 'shrink.txt')
    fs.writeFileSync(file, 'aaaa\nbbbb\n')
    const source = await openSource(file)
    await readN(source, 2)
    fs.truncateSync(file, 3)
    await assert.rejects(source.read(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_IO') && err.message.includes(file) && /shrank to 3 bytes while being read at byte offset 10/.test(err.message))
    await source.teardown()

    const long = path.join(tempDir(), 'long.txt')
    fs.writeFileSync(long, 'ok\n' + 'x'.repeat(100))
    const limited = await openSource(long, undefined, { maxLineBytes: '64' })
    await readN(limited, 1)
    await assert.rejects(limited.read(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_IO') && err.message.includes(long) && /line at byte offset 3 is longer than maxLineBytes \(64\)/.test(err.message))
    await limited.teardown()
  })

  it('a file replaced or removed under the tail is an error naming file and offset', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'rotated.txt')
    fs.writeFileSync(file, 'one\n')
    const source = await openSource(file)
    await readN(source, 1)
    fs.renameSync(file, path.join(dir, 'rotated.txt.1'))
    fs.writeFileSync(file, 'fresh\n')
    await assert.rejects(source.read(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_IO') && err.message === `file ${file} was replaced by another file while being read at byte offset 4`)
    await source.teardown()
    const removed = await openSource(file)
    await readN(removed, 1)
    fs.rmSync(file)
    await assert.rejects(removed.read(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_IO') && /was removed while being read at byte offset 6/.test(err.message))
    await removed.teardown()
  })

  it('bad settings name the setting', () => {
    assert.match(settingErrors(fileConnector, {}).join('\n'), /^path: "path" is required/m)
    assert.match(settingErrors(fileConnector, { path: '  ' }).join('\n'), /^path: "path" is required/m)
    assert.match(settingErrors(fileConnector, { path: null }).join('\n'), /^path: "path" is required/m)
    assert.match(settingErrors(fileConnector, { path: ['a'] }).join('\n'), /^path: "path" must be a string, number or boolean, got a list/m)
    assert.match(settingErrors(fileConnector, { path: 'x', 'sdk.record.format': 'debezium/json' }).join('\n'), /sdk\.record\.format: .*debezium\/json is not supported/)
    assert.match(settingErrors(fileConnector, { path: 'x', pollInterval: 'soon' }).join('\n'), /pollInterval: "pollInterval" is not a duration/)
    assert.match(settingErrors(fileConnector, { path: 'x', 'sdk.record.format': 'template' }).join('\n'), /sdk\.record\.format\.options: .*must hold the Go template/)
  })
})

describe('file destination', () => {
  it('writes Conduit-identical OpenCDC JSON lines', async () => {
    const file = path.join(tempDir(), 'out.jsonl')
    const dest = fileConnector.destination!(settingsOf(fileConnector, { path: file }), context())
    await dest.open(signal())
    const records = [
      createRecord({ position: Buffer.from('2'), key: '1', after: '1', metadata: { 'file.path': './in.txt', 'conduit.source.connector.id': 'p1:c1' } }),
      createRecord({
        position: Buffer.from('7'),
        operation: 'update',
        key: { id: 7 } as never,
        before: { zeta: true, alpha: 'x' } as never,
        after: { name: '<b>Tom & Jerry</b>', nested: { b: 2, a: [1, 2.5] }, bytes: Buffer.from('hi') } as never,
        metadata: { 'opencdc.readAt': '1700000000000000000', 'opencdc.collection': 'users' },
      }),
    ]
    const acks = await dest.write(records, signal())
    assert.deepEqual(acks.map((a) => [a.position.toString(), a.error]), [['2', undefined], ['7', undefined]])
    await dest.teardown()
    // Written by hand from Conduit's encoding rules: sorted keys, base64 bytes, HTML-safe escapes.
    const expected =
      '{"position":"Mg==","operation":"create","metadata":{"conduit.source.connector.id":"p1:c1","file.path":"./in.txt"},"key":"MQ==","payload":{"before":null,"after":"MQ=="}}\n' +
      '{"position":"Nw==","operation":"update","metadata":{"opencdc.collection":"users","opencdc.readAt":"1700000000000000000"},"key":{"id":7},' +
      '"payload":{"before":{"alpha":"x","zeta":true},"after":{"bytes":"aGk=","name":"\\u003cb\\u003eTom \\u0026 Jerry\\u003c/b\\u003e","nested":{"a":[1,2.5],"b":2}}}}\n'
    assert.equal(fs.readFileSync(file, 'utf8'), expected)
    const back = recordFromJson(fs.readFileSync(file, 'utf8').split('\n')[0])
    assert.deepEqual(back, records[0], 'a line reads back as the record')
  })

  it('file → file gives the lines Conduit gives for the same input', async () => {
    const dir = tempDir()
    const input = path.join(dir, 'source.txt')
    const output = path.join(dir, 'destination.txt')
    fs.writeFileSync(input, 'a\nbb\nccc\n')
    const source = await openSource(input)
    const dest = fileConnector.destination!(settingsOf(fileConnector, { path: output }), context())
    await dest.open(signal())
    const records = await readN(source, 3)
    for (const r of records) {
      // What Conduit's runtime adds, and what its field.exclude of .Metadata["opencdc.readAt"] takes away.
      r.metadata['conduit.source.connector.id'] = 'demo:in'
      delete r.metadata['opencdc.readAt']
    }
    await dest.write(records, signal())
    await Promise.all([source.teardown(), dest.teardown()])
    const meta = `"metadata":{"conduit.source.connector.id":"demo:in","file.path":${JSON.stringify(input)}}`
    assert.equal(
      fs.readFileSync(output, 'utf8'),
      `{"position":"Mg==","operation":"create",${meta},"key":"MQ==","payload":{"before":null,"after":"YQ=="}}\n` +
        `{"position":"NQ==","operation":"create",${meta},"key":"Mg==","payload":{"before":null,"after":"YmI="}}\n` +
        `{"position":"OQ==","operation":"create",${meta},"key":"Mw==","payload":{"before":null,"after":"Y2Nj"}}\n`,
    )
  })

  it('syncs once per batch, before acknowledging, and appends to an existing file', async () => {
    const file = path.join(tempDir(), 'sync.jsonl')
    fs.writeFileSync(file, '{"existing":true}\n')
    const probe = await open(file, 'r')
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }
    await probe.close()
    const original = proto.datasync
    let syncs = 0
    proto.datasync = function (this: unknown) {
      syncs++
      return original.call(this)
    }
    try {
      const dest = fileConnector.destination!(settingsOf(fileConnector, { path: file }), context())
      await dest.open(signal())
      const batch = Array.from({ length: 100 }, (_, i) => createRecord({ position: Buffer.from(String(i)), after: String(i) }))
      const before = syncs
      const acks = await dest.write(batch, signal())
      assert.equal(syncs - before, 1, 'one sync for the batch')
      assert.equal(acks.length, 100)
      await dest.write(batch.slice(0, 3), signal())
      assert.equal(syncs - before, 2)
      await dest.teardown()
    } finally {
      proto.datasync = original
    }
    const lines = fs.readFileSync(file, 'utf8').split('\n')
    assert.equal(lines[0], '{"existing":true}')
    assert.equal(lines.length, 1 + 103 + 1)
    assert.equal(lines.at(-1), '')
  })

  it('batches handed over without waiting are written one after the other', async () => {
    const file = path.join(tempDir(), 'overlap.jsonl')
    const dest = fileConnector.destination!(settingsOf(fileConnector, { path: file }), context())
    await dest.open(signal())
    const batches = Array.from({ length: 5 }, (_, b) => Array.from({ length: 200 }, (_, i) => createRecord({ position: Buffer.from(`${b}-${i}`), after: { b, i } as never })))
    const acks = await Promise.all(batches.map((batch) => dest.write(batch, signal())))
    assert.deepEqual(acks.map((a) => a.length), [200, 200, 200, 200, 200])
    await dest.teardown()
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n')
    assert.deepEqual(lines.map((l) => recordFromJson(l).position.toString()), batches.flat().map((r) => r.position.toString()))
  })

  it('a torn last line left by a crash is cut on open, with a warning naming file and offset', async () => {
    const file = path.join(tempDir(), 'torn.jsonl')
    const good = '{"position":"MQ==","operation":"create","metadata":{},"key":null,"payload":{"before":null,"after":"YQ=="}}\n'
    fs.writeFileSync(file, good + '{"position":"Mg==","operation":"cre')
    const { logger, lines } = capturingLogger('warn')
    const dest = fileConnector.destination!(settingsOf(fileConnector, { path: file }), context({ logger }))
    await dest.open(signal())
    assert.equal(fs.readFileSync(file, 'utf8'), good, 'the partial line is gone')
    const warning = lines.find((l) => String(l.msg).includes('torn last line'))
    assert.ok(warning, 'a warning was logged')
    assert.equal(warning.file, file)
    assert.equal(warning.offset, good.length)
    await dest.write([createRecord({ position: Buffer.from('2'), after: 'b' })], signal())
    await dest.teardown()
    const content = fs.readFileSync(file, 'utf8')
    assert.ok(content.endsWith('\n'))
    for (const line of content.trimEnd().split('\n')) recordFromJson(line)
  })

  it('a file of only a torn line is emptied', async () => {
    const file = path.join(tempDir(), 'torn-only.jsonl')
    fs.writeFileSync(file, '{"posi')
    const dest = fileConnector.destination!(settingsOf(fileConnector, { path: file }), context())
    await dest.open(signal())
    assert.equal(fs.readFileSync(file, 'utf8'), '')
    await dest.teardown()
  })

  it('kill -9 of a writing process leaves whole lines only after reopening', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'killed.jsonl')
    const script = path.join(dir, 'writer.ts')
    const connectors = path.resolve(import.meta.dirname, '../../../src/pipeline/connectors/index.ts')
    const core = path.resolve(import.meta.dirname, '../../../src/core/index.ts')
    fs.writeFileSync(
      script,
      `import { fileConnector } from ${JSON.stringify(connectors)}
import { createLogger } from ${JSON.stringify(core)}
const ctx = { pipelineId: 'p', connectorId: 'p:c', lastPosition: null, stateDir: '.', logger: createLogger({ level: 'silent' }) }
const dest = fileConnector.destination(fileConnector.settings.parse({ path: ${JSON.stringify(file)} }), ctx)
const signal = new AbortController().signal
await dest.open(signal)
let n = 0
for (;;) {
  const batch = []
  for (let i = 0; i < 2000; i++, n++) batch.push({ position: Buffer.from(String(n)), operation: 'create', metadata: { big: 'x'.repeat(200) }, key: null, payload: { before: null, after: { n } } })
  await dest.write(batch, signal)
  process.stdout.write('acked ' + n + '\\n')
}
`,
    )
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] })
    let acked = 0
    child.stdout.on('data', (chunk: Buffer) => {
      const m = /acked (\d+)\n$/.exec(chunk.toString())
      if (m) acked = Number(m[1])
    })
    await eventually(() => acked >= 10_000, 30_000, 'the writer to ack 10,000 records')
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    const dest = fileConnector.destination!(settingsOf(fileConnector, { path: file }), context())
    await dest.open(signal())
    await dest.teardown()
    const content = fs.readFileSync(file, 'utf8')
    assert.ok(content.endsWith('\n'))
    const lines = content.slice(0, -1).split('\n')
    const ns = lines.map((l) => (recordFromJson(l).payload.after as { n: number }).n)
    assert.ok(ns.length >= acked, `every acked record is there (${ns.length} lines, ${acked} acked)`)
    assert.deepEqual(ns, Array.from({ length: ns.length }, (_, i) => i), 'in order, none torn')
  })

  it('a path in a missing directory fails open, naming the setting', async () => {
    const dest = fileConnector.destination!(settingsOf(fileConnector, { path: '/nonexistent-dir/out.jsonl' }), context())
    await assert.rejects(dest.open(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_SETTINGS') && /"path" \/nonexistent-dir\/out\.jsonl cannot be opened/.test(err.message))
  })
})
