import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { PositionStore } from '../../src/pipeline/position-store.ts'

describe('PositionStore', () => {
  it('keeps the latest saved position per source, replaced atomically, with no temporary file left', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-pos-'))
    try {
      const store = new PositionStore(path.join(dir, 'positions'))
      assert.equal(store.load('p:src'), null)
      for (let i = 0; i < 500; i++) store.save('p:src', Buffer.from(`pos-${i}`))
      store.save('p:other', Buffer.from([0, 1, 2]))
      await store.flush()
      assert.equal(store.load('p:src')?.toString(), 'pos-499')
      assert.deepEqual([...(store.load('p:other') ?? [])], [0, 1, 2])
      assert.deepEqual(fs.readdirSync(path.join(dir, 'positions')).sort(), ['p%3Aother.position', 'p%3Asrc.position'])
      assert.equal(new PositionStore(path.join(dir, 'positions')).load('p:src')?.toString(), 'pos-499', 'a new store (a restart) reads it back')
      store.clear('p:src')
      assert.equal(store.load('p:src'), null)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('reports a write that fails from flush()', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-pos-'))
    try {
      fs.writeFileSync(path.join(dir, 'blocked'), 'a file where the directory should be')
      const store = new PositionStore(path.join(dir, 'blocked', 'positions'))
      store.save('p:src', Buffer.from('1'))
      await assert.rejects(store.flush(), /EEXIST|ENOTDIR/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
