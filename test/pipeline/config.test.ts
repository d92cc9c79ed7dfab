import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { z } from 'zod'
import { isTributaryError } from '../../src/core/errors.ts'
import { loadPipelineFiles, parsePipelineYaml } from '../../src/pipeline/config.ts'
import type { ConnectorPlugin } from '../../src/pipeline/connector.ts'
import { normalizePluginName, PluginRegistry } from '../../src/pipeline/registry.ts'
import { MemoryDestination, testArrayPlugin, testMemoryPlugin, testNackPlugin } from './helpers.ts'

const logPlugin: ConnectorPlugin<{ level: string }> = {
  name: 'log',
  summary: 'test stand-in for builtin:log',
  settings: z.object({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info'), message: z.string().optional() }),
  destination: () => new MemoryDestination(),
}

const registry = (): PluginRegistry => new PluginRegistry({ builtins: false, connectors: [testArrayPlugin, testMemoryPlugin, logPlugin], processors: [testNackPlugin] })

const GOOD = `version: "2.2"
pipelines:
  - id: first
    status: running
    name: first pipeline
    description: moves things
    connectors:
      - id: src
        type: source
        plugin: builtin:test-array@v0.1.0
        settings:
          store: s1
          count: 5
        processors:
          - id: early
            plugin: test.nack
            settings: { bad: "1" }
      - id: dst
        type: destination
        plugin: test-memory
        settings: { store: d1 }
    processors:
      - id: p1
        type: test.nack
        workers: 3
        settings:
          bad: "2,3"
    dead-letter-queue:
      plugin: builtin:test-memory
      settings: { store: dlq1 }
      window-size: 5
      window-nack-threshold: 2
  - id: second
    status: stopped
    connectors:
      - { id: src, type: source, plugin: test-array, settings: { store: s2 } }
      - { id: a, type: destination, plugin: test-memory, settings: { store: a } }
      - { id: b, type: destination, plugin: test-memory, settings: { store: b }, processors: [{ id: only-b, plugin: test.nack, settings: { bad: "0" } }] }
`

function configError(text: string, reg = registry()): string {
  try {
    parsePipelineYaml(text, 'p.yaml', reg)
  } catch (err) {
    assert.ok(isTributaryError(err, 'TRIB_PIPELINE_CONFIG'), String(err))
    return (err as Error).message
  }
  assert.fail('expected a config error')
}

describe('pipeline files', () => {
  it('reads Conduit v2 files: several pipelines, builtin: and versioned names, connector-level processors, the DLQ and its window', () => {
    const { pipelines, warnings } = parsePipelineYaml(GOOD, 'p.yaml', registry())
    assert.equal(pipelines.length, 2)
    const [p, q] = pipelines
    assert.equal(p.id, 'first')
    assert.equal(p.name, 'first pipeline')
    assert.equal(p.source.id, 'first:src')
    assert.equal(p.source.plugin.name, 'test-array')
    assert.deepEqual(p.source.settings, { store: 's1', count: 5 })
    assert.equal(p.source.processors[0].id, 'first:src:early')
    assert.equal(p.processors[0].id, 'first:p1')
    assert.equal(p.processors[0].workers, 3)
    assert.deepEqual(p.dlq.settings, { store: 'dlq1' })
    assert.equal(p.dlq.windowSize, 5)
    assert.equal(p.dlq.windowNackThreshold, 2)
    assert.equal(q.status, 'stopped')
    assert.equal(q.destinations.length, 2)
    assert.equal(q.destinations[1].processors[0].id, 'second:b:only-b')
    assert.equal(q.dlq.plugin.name, 'log', 'the DLQ defaults to builtin:log')
    assert.deepEqual(q.dlq.settings, { level: 'warn', message: 'record delivery failed' })
    assert.equal(q.dlq.windowSize, 1)
    assert.equal(q.dlq.windowNackThreshold, 0)
    assert.deepEqual(warnings, ['p.yaml:24: pipelines[0].processors[0].type: deprecated since version 2.2, use plugin'])
  })

  it('malformed YAML names the file and line', () => {
    const message = configError('version: "2.2"\npipelines:\n  - id: x\n    connectors: [\n  bad: : :\n')
    assert.match(message, /^p\.yaml:\d+: malformed YAML: /)
  })

  it('an unknown plugin lists the plugins that exist', () => {
    const message = configError(GOOD.replace('plugin: test-memory\n        settings: { store: d1 }', 'plugin: builtin:fil\n        settings: { store: d1 }'))
    assert.equal(message, 'p.yaml:20: pipelines[0].connectors[1].plugin: unknown connector plugin "builtin:fil"; plugins that exist for a destination: log, test-memory')
    assert.match(configError(GOOD.replace('type: test.nack', 'type: nope')), /^p\.yaml:24: pipelines\[0\]\.processors\[0\]\.type: unknown processor plugin "nope"; plugins that exist: test\.nack$/)
    assert.match(configError(GOOD.replace('plugin: builtin:test-array@v0.1.0', 'plugin: test-memory')), /plugin test-memory cannot be a source; plugins that exist for a source: test-array/)
    assert.match(configError(GOOD.replace('plugin: builtin:test-array@v0.1.0', 'plugin: standalone:foo')), /standalone .* not supported/)
  })

  it('bad settings name the field and line', () => {
    assert.match(configError(GOOD.replace('count: 5', 'count: five')), /^p\.yaml:13: pipelines\[0\]\.connectors\[0\]\.settings\.count: source src \(test-array\) settings: /)
    assert.match(configError(GOOD.replace('settings: { store: d1 }', 'settings: { other: d1 }')), /^p\.yaml:21: pipelines\[0\]\.connectors\[1\]\.settings\.store: destination dst \(test-memory\) settings: /)
    assert.match(configError(GOOD.replace('window-size: 5', 'window-size: -1')), /^p\.yaml:\d+: pipelines\[0\]\.dead-letter-queue\.window-size: /)
  })

  it('structural mistakes name the field', () => {
    assert.match(configError(GOOD.replace('type: source', 'type: sink')), /^p\.yaml:9: pipelines\[0\]\.connectors\[0\]\.type: expected one of "source", "destination", got "sink"$/)
    assert.match(configError(GOOD.replace('  - id: second', '  - id: first')), /pipelines\[1\]\.id: pipeline id "first" is used twice/)
    assert.match(configError('version: "1.0"\npipelines: []\n'), /^p\.yaml:1: version: version "1\.0" is not supported/)
    assert.match(configError('version: "2.2"\npipelines:\n  - id: x\n    connectors:\n      - { id: d, type: destination, plugin: test-memory, settings: { store: x } }\n'), /pipelines\[0\]\.connectors: a pipeline needs a source connector/)
    assert.match(configError('pipelines: []\n'), /^p\.yaml:1: version: required field is missing$/)
  })

  it('unknown fields are warnings, as in Conduit; nested settings flatten to dotted keys; ${ENV} expands', () => {
    process.env.TRIB_TEST_STORE = 'from-env'
    const text = GOOD.replace('plugin: test-memory\n        settings: { store: d1 }', 'plugin: test-nested\n        colour: blue\n        settings:\n          store: ${TRIB_TEST_STORE}\n          nested: { a: 1 }')
    const reg = registry().registerConnector({ ...testMemoryPlugin, name: 'test-nested', settings: z.object({ store: z.string(), 'nested.a': z.string() }) })
    const { pipelines, warnings } = parsePipelineYaml(text, 'p.yaml', reg)
    assert.deepEqual(pipelines[0].destinations[0].settings, { store: 'from-env', 'nested.a': '1' })
    assert.ok(warnings.some((w) => /pipelines\[0\]\.connectors\[1\]\.colour: unknown field, ignored/.test(w)), warnings.join('\n'))
  })

  it('an unset ${ENV} variable in settings is an error naming the setting', () => {
    delete process.env.TRIB_TEST_UNSET
    assert.match(configError(GOOD.replace('store: s1', 'store: ${TRIB_TEST_UNSET}')), /^p\.yaml:12: pipelines\[0\]\.connectors\[0\]\.settings\.store: environment variable TRIB_TEST_UNSET is not set$/)
  })

  it('loads every .yaml/.yml of a directory; pipeline ids are unique across files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-cfg-'))
    try {
      fs.writeFileSync(path.join(dir, 'a.yaml'), GOOD)
      fs.writeFileSync(path.join(dir, 'b.yml'), GOOD.replace('id: first', 'id: third').replace('id: second', 'id: fourth'))
      fs.writeFileSync(path.join(dir, 'notes.txt'), 'ignored')
      assert.deepEqual(loadPipelineFiles(dir, registry()).pipelines.map((p) => p.id), ['first', 'second', 'third', 'fourth'])
      fs.writeFileSync(path.join(dir, 'c.yaml'), GOOD.replace('id: second', 'id: other'))
      assert.throws(() => loadPipelineFiles(dir, registry()), /c\.yaml:3: pipeline id "first" is already used in .*a\.yaml:3/)
      assert.throws(() => loadPipelineFiles(path.join(dir, 'missing.yaml'), registry()), /missing\.yaml: no such file/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('plugin names: builtin: prefix and @version are ignored', () => {
    assert.equal(normalizePluginName('builtin:file@v0.1.0'), 'file')
    assert.equal(normalizePluginName('builtin:log'), 'log')
    assert.equal(normalizePluginName('generator'), 'generator')
    assert.equal(registry().connector('builtin:test-array@latest')?.name, 'test-array')
  })
})
