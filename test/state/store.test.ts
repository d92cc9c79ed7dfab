import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { after, describe, it } from 'node:test'
import { createLogger, isTributaryError } from '../../src/core/index.ts'
import { compareKeys, lmdbStore, memoryStore, type StoreBuilder } from '../../src/state/index.ts'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-store-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))
const b = (s: string): Buffer => Buffer.from(s)
let seq = 0
const spec = (): { topic: string; partition: number; role: 'processor' } => ({ topic: `t${seq++}-table`, partition: 0, role: 'processor' })

/** A logger whose JSON lines land in `lines`. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      cb()
    },
  })
  return { logger: createLogger({ level: 'warn' }, stream), lines }
}

function storeConformance(name: string, builder: StoreBuilder): void {
  describe(`Store conformance: ${name}`, () => {
    it('gets, sets, deletes and answers has', async () => {
      const store = await builder(spec())
      assert.equal(store.get('a'), undefined)
      assert.equal(store.has('a'), false)
      store.set('a', b('1'))
      assert.equal(store.get('a')?.toString(), '1')
      assert.equal(store.has('a'), true)
      store.delete('a')
      assert.equal(store.has('a'), false)
      store.delete('never-there')
      await store.close()
    })

    it('applies a batch in order with its offset, and deletes with null', async () => {
      const store = await builder(spec())
      assert.equal(store.offset(), undefined)
      store.write([['a', b('1')], ['b', b('2')], ['a', b('3')], ['c', b('x')], ['c', null]], 17)
      assert.equal(store.get('a')?.toString(), '3')
      assert.equal(store.get('b')?.toString(), '2')
      assert.equal(store.has('c'), false)
      assert.equal(store.offset(), 17)
      store.write([['d', b('4')]])
      assert.equal(store.offset(), 17, 'a batch without offset keeps the stored offset')
      store.setOffset(20)
      assert.equal(store.offset(), 20)
      assert.equal(store.size(), 3)
      await store.close()
    })

    it('iterates and ranges in UTF-8 byte order with an exclusive end', async () => {
      const store = await builder(spec())
      const keys = ['b', 'a', '', 'ab', 'b0', '\u{1F600}', '\uE000', 'z']
      store.write(keys.map((k) => [k, b(k || 'empty')]))
      const sorted = [...keys].sort(compareKeys)
      assert.deepEqual(sorted, ['', 'a', 'ab', 'b', 'b0', 'z', '\uE000', '\u{1F600}'])
      assert.deepEqual([...store.iterate()].map((e) => e.key), sorted)
      assert.deepEqual([...store.range('ab', 'b0')].map((e) => e.key), ['ab', 'b'])
      assert.deepEqual([...store.range('b')].map((e) => e.key), ['b', 'b0', 'z', '\uE000', '\u{1F600}'])
      assert.deepEqual([...store.range(undefined, 'ab')].map((e) => e.key), ['', 'a'])
      assert.equal([...store.iterate()].find((e) => e.key === 'z')?.value.toString(), 'z')
      await store.close()
    })

    it('clear drops every entry and the offset', async () => {
      const store = await builder(spec())
      store.write([['a', b('1')]], 5)
      store.clear()
      assert.equal(store.size(), 0)
      assert.equal(store.offset(), undefined)
      await store.close()
    })
  })
}

storeConformance('memory', memoryStore())
storeConformance('lmdb', lmdbStore({ dir: path.join(tmp, 'conformance'), sync: false }))

describe('lmdb store', () => {
  it('keeps rows and offset across close and reopen', async () => {
    const builder = lmdbStore({ dir: path.join(tmp, 'reopen') })
    const s = spec()
    const store = await builder(s)
    store.write([['k', b('v')]], 9)
    await store.close()
    const again = await builder(s)
    assert.equal(again.get('k')?.toString(), 'v')
    assert.equal(again.offset(), 9)
    await again.close()
  })

  it('refuses a second open of the same partition in one process', async () => {
    const builder = lmdbStore({ dir: path.join(tmp, 'locked') })
    const s = spec()
    const store = await builder(s)
    await assert.rejects(async () => builder(s), (err) => isTributaryError(err, 'TRIB_STATE_LOCKED') && /already open/.test(err.message))
    await store.close()
    await (await builder(s)).close()
  })

  it('discards a corrupt store with a warning and opens it empty, without crashing the process', async () => {
    const { logger, lines } = capturingLogger()
    const dir = path.join(tmp, 'corrupt')
    const builder = lmdbStore({ dir, logger })
    const s = spec()
    const store = await builder(s)
    store.write(Array.from({ length: 5_000 }, (_, i) => [`key-${i}`, Buffer.alloc(100, i)] as const), 5_000)
    await store.close()
    const file = path.join(dir, 'processor', encodeURIComponent(s.topic), '0', 'data.mdb')
    const bytes = fs.readFileSync(file)
    bytes.fill(0x41, 16_384, 65_536) // garbage over B-tree pages: LMDB itself would abort the process
    fs.writeFileSync(file, bytes)
    const reopened = await builder(s)
    assert.equal(reopened.offset(), undefined, 'the rebuilt store starts from the beginning of the changelog')
    assert.equal(reopened.size(), 0)
    reopened.write([['fresh', b('1')]], 1)
    assert.equal(reopened.get('fresh')?.toString(), '1')
    await reopened.close()
    const warning = lines.find((l) => /corrupt/.test(String(l.msg)))
    assert.ok(warning, 'a warning was logged')
    assert.equal(warning.store, `${s.topic}/0`)
  })

  it('discards a store that holds another table partition', async () => {
    const { logger, lines } = capturingLogger()
    const dir = path.join(tmp, 'foreign')
    const builder = lmdbStore({ dir, logger })
    const s = spec()
    const store = await builder(s)
    store.write([['a', b('1')]], 1)
    await store.close()
    const marker = path.join(dir, 'processor', encodeURIComponent(s.topic), '0', 'store.json')
    fs.writeFileSync(marker, JSON.stringify({ format: 1, topic: 'other', partition: 3 }))
    const reopened = await builder(s)
    assert.equal(reopened.size(), 0)
    await reopened.close()
    assert.ok(lines.some((l) => /holds other\/3/.test(String(l.problem))))
  })
})
