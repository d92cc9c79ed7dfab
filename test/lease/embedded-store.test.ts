import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
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
    // Every racer lists the rows first (all see them free), says ready, and takes when released.
    const racers = ['p1', 'p2', 'p3'].map((owner) => {
      const child = spawn(process.execPath, [fixture, dir, owner], { stdio: ['pipe', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
      const ready = new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve())
        child.once('exit', (code) => reject(new Error(`racer ${owner} exited with ${code} before it was ready`)))
      })
      const done = new Promise<string[]>((resolve, reject) =>
        child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`racer ${owner} exited with ${code}`)))),
      )
      return { child, ready, done }
    })
    await Promise.all(racers.map((r) => r.ready))
    for (const r of racers) r.child.stdin.end()
    const results = await Promise.all(racers.map((r) => r.done))
    const all = results.flat().sort()
    assert.equal(all.length, 300, 'each key won exactly once')
    assert.equal(new Set(all).size, 300)
    const check = embeddedLeaseStore({ dir })
    await check.init()
    for (const lease of await check.list()) {
      assert.equal(lease.counter, 1)
      assert.ok(results[['p1', 'p2', 'p3'].indexOf(lease.owner as string)].includes(lease.key))
    }
    await check.close()
  })
})
