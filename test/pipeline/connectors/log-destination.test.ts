import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { logConnector } from '../../../src/pipeline/connectors/index.ts'
import { createRecord } from '../../../src/pipeline/index.ts'
import { capturingLogger, context, settingErrors, settingsOf, signal } from './helpers.ts'

describe("log destination (Conduit's builtin:log)", () => {
  it('logs every record as its OpenCDC JSON at the level, with the message, and acks all', async () => {
    const { logger, lines } = capturingLogger('trace')
    const dest = logConnector.destination!(settingsOf(logConnector, { level: 'WARN', message: 'delivered' }), context({ logger }))
    await dest.open(signal())
    const records = [createRecord({ position: Buffer.from('1'), key: 'k', after: { b: 1, a: 2 } as never }), createRecord({ position: Buffer.from('2'), after: 'raw' })]
    const acks = await dest.write(records, signal())
    assert.deepEqual(acks.map((a) => [a.position.toString(), a.error]), [['1', undefined], ['2', undefined]])
    assert.equal(lines.length, 2)
    assert.equal(lines[0].level, 40, 'pino warn')
    assert.equal(lines[0].msg, 'delivered')
    assert.deepEqual(lines[0].record, { position: 'MQ==', operation: 'create', metadata: {}, key: 'aw==', payload: { before: null, after: { a: 2, b: 1 } } })
    await dest.teardown()
  })

  it('defaults to info and logs nothing when the logger is above the level', async () => {
    const { logger, lines } = capturingLogger('warn')
    const dest = logConnector.destination!(settingsOf(logConnector, {}), context({ logger }))
    const acks = await dest.write([createRecord({ position: Buffer.from('1') })], signal())
    assert.equal(acks.length, 1)
    assert.equal(lines.length, 0)
  })

  it('an unknown level names the setting; it has no source', () => {
    assert.match(settingErrors(logConnector, { level: 'loud' }).join('\n'), /^level: "level" is "loud"; use one of trace, debug, info, warn, error/m)
    assert.equal(logConnector.source, undefined)
  })
})
