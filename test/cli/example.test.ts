/** `npm run example -- <name> ...` (scripts/example.sh) runs an example with Node 24. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, it } from 'node:test'

const root = path.resolve(import.meta.dirname, '../..')
const example = (...args: string[]) => spawnSync('bash', [path.join(root, 'scripts/example.sh'), ...args], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, TRIBUTARY_LOG_LEVEL: '' } })

describe('npm run example', () => {
  it('runs an example by name with its arguments, without the library log lines', () => {
    const r = example('word-count', 'to be or not to be')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'be\t2\nnot\t1\nor\t1\nto\t2\n')
    assert.equal(r.stderr, '')
  })

  it('lists the examples when the name is missing or unknown', () => {
    for (const args of [[], ['nosuch']]) {
      const r = example(...args)
      assert.equal(r.status, 2)
      assert.match(r.stderr, /usage: npm run example -- <name> \[arguments\]; examples:\n {2}clicks\n {2}word-count\n/)
    }
    assert.match(example('nosuch').stderr, /^tributary: no example named nosuch/)
  })
})
