import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { ErrorCodes, TributaryError, isTributaryError } from '../../src/core/index.ts'

describe('errors', () => {
  it('every code is its own key and prefixed TRIB_', () => {
    for (const [key, code] of Object.entries(ErrorCodes)) {
      assert.equal(key, code)
      assert.match(code, /^TRIB_[A-Z_]+$/)
    }
  })

  it('every code is documented in docs/errors.md, and every documented code exists', () => {
    const doc = fs.readFileSync(path.join(import.meta.dirname, '../../docs/errors.md'), 'utf8')
    const documented = new Set(doc.match(/TRIB_[A-Z_]+/g))
    for (const code of Object.values(ErrorCodes)) assert.ok(documented.has(code), `${code} is documented`)
    for (const code of documented) assert.ok(code in ErrorCodes, `${code} in the docs exists`)
  })

  it('carries code, retriable, details and cause', () => {
    const cause = new Error('socket hang up')
    const err = new TributaryError('TRIB_LOG_BROKER_UNREACHABLE', 'no broker', { retriable: true, cause, details: { brokers: ['a:1'] } })
    assert.ok(err instanceof Error)
    assert.equal(isTributaryError(err, 'TRIB_LOG_BROKER_UNREACHABLE'), true)
    assert.equal(isTributaryError(err, 'TRIB_TIMEOUT'), false)
    assert.equal(err.retriable, true)
    assert.equal(err.cause, cause)
    assert.deepEqual(err.details, { brokers: ['a:1'] })
    assert.equal(new TributaryError('TRIB_TIMEOUT', 'x').retriable, false)
  })
})
