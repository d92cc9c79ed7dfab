import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { embeddedLeaseStore } from '../../src/lease/index.ts'
import { leaseStoreConformance } from './conformance.ts'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-leases-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

leaseStoreConformance('embedded (LMDB)', { open: async (table) => embeddedLeaseStore({ dir: path.join(tmp, table) }) })

describe('embedded lease store across processes', () => {
  it('processes racing to take the same observed rows: every lease has exactly one winner', async () => {
    const dir = path.join(tmp, 'race')
    const store = embeddedLeaseStore({ dir })
    await store.init()
    for (let i = 0; i < 300; i++) await store.create(`k${i}`)
    await store.close()
    const fixture = path.join(import.meta.dirname, 'fixtures', 'race-takes.ts')
    const startAt = Date.now() + 1_500
    const run = (owner: string): Promise<string[]> =>
      new Promise((resolve, reject) => {
        execFile(process.execPath, [fixture, dir, owner, String(startAt)], (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout) as string[])))
      })
    const results = await Promise.all(['p1', 'p2', 'p3'].map(run))
    const all = results.flat().sort()
    assert.equal(all.length, 300, 'each key won exactly once')
    assert.equal(new Set(all).size, 300)
    assert.ok(results.filter((r) => r.length > 0).length >= 2, `the racers overlapped (${results.map((r) => r.length)})`)
    const check = embeddedLeaseStore({ dir })
    await check.init()
    for (const lease of await check.list()) {
      assert.equal(lease.counter, 1)
      assert.ok(results[['p1', 'p2', 'p3'].indexOf(lease.owner as string)].includes(lease.key))
    }
    await check.close()
  })
})
