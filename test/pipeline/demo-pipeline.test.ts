import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runDemoPipeline } from '../../src/cli/demo-pipeline.ts'
import { PluginRegistry } from '../../src/pipeline/registry.ts'

const ready = ['generator', 'file', 'tributary-log'].every((n) => new PluginRegistry().connector(n))

describe('demo pipeline', () => {
  it('delivers every record but the ten it nacks, which are in the DLQ with their error', { skip: ready ? false : 'needs the builtin connectors' }, async () => {
    const lines: string[] = []
    const result = await runDemoPipeline({ print: (l) => lines.push(l) })
    assert.ok(result)
    assert.equal(result.delivered, 990)
    assert.deepEqual(result.deadLettered.map((d) => d.position), ['37', '137', '237', '337', '437', '537', '637', '737', '837', '937'])
    assert.match(result.deadLettered[0].error, /record 37 rejected by the demo/)
    assert.ok(lines.some((l) => /990 \+ 10 = 1000/.test(l)), lines.join('\n'))
  })

  it('says it is skipped while the connectors are missing', { skip: ready ? 'the connectors are registered' : false }, async () => {
    const lines: string[] = []
    assert.equal(await runDemoPipeline({ print: (l) => lines.push(l) }), undefined)
    assert.match(lines[0], /pipeline demo skipped: the builtin connector\(s\) generator, file, tributary-log are not registered/)
  })
})
