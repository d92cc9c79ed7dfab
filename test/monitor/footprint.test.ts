/**
 * `tributary monitor` loads what watching a cluster needs and nothing more: no processor, state
 * (LMDB), bench or demo code, and the Kafka client only for a Kafka cluster.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'

const root = path.join(import.meta.dirname, '../..')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-footprint-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** Runs `tributary monitor` until it listens; returns the module URLs it loaded. */
async function modulesOf(config: string): Promise<string[]> {
  const file = path.join(tmp, `modules-${Date.now()}.txt`)
  const configFile = path.join(tmp, `config-${Date.now()}.yaml`)
  fs.writeFileSync(configFile, config)
  const child = spawn(
    process.execPath,
    ['--import', path.join(import.meta.dirname, 'fixtures/record-modules.mjs'), path.join(root, 'src/cli/main.ts'), 'monitor', '--config', configFile, '--address', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRIBUTARY_MODULE_LOG: file, TRIBUTARY_LOG_LEVEL: 'error' } },
  )
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    await new Promise<void>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes('listening on')) resolve()
      })
      child.once('exit', (code) => reject(new Error(`the monitor exited with ${code}: ${stderr}`)))
    })
  } finally {
    child.kill('SIGTERM')
    await exited
  }
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)
}

const ours = (urls: string[], folder: string): string[] => urls.filter((u) => u.includes(`/src/${folder}/`))

describe('what tributary monitor loads', () => {
  it('for an embedded cluster: no processor, state, bench, demo or Kafka client code', async () => {
    const urls = await modulesOf(`clusters:\n  local:\n    log: 'memory:'\n`)
    assert.ok(ours(urls, 'monitor').length > 5, 'the monitor itself is loaded')
    for (const folder of ['processor', 'state', 'bench', 'pipeline', 'server']) assert.deepEqual(ours(urls, folder), [], `no src/${folder}`)
    // The Kafka URL's TLS/SASL settings and error names (src/log/kafka/security.ts, errors.ts) are small
    // and parse the config; the client itself must not load.
    assert.deepEqual(urls.filter((u) => /\/src\/cli\/demo\.ts|\/src\/log\/kafka\/(?!security\.ts|errors\.ts)|\/src\/monitor\/kafka-|node_modules\/(lmdb|@platformatic\/kafka)\//.test(u)), [], 'no demo, LMDB or Kafka client')
  })

  it('for a Kafka cluster: the Kafka reader, still without processor, state or bench code', async () => {
    const urls = await modulesOf(`clusters:\n  prod:\n    servers: [127.0.0.1:1]\n`)
    assert.ok(urls.some((u) => u.includes('/src/monitor/kafka-source.ts')), 'the Kafka reader is loaded for a Kafka cluster')
    for (const folder of ['processor', 'state', 'bench']) assert.deepEqual(ours(urls, folder), [], `no src/${folder}`)
  })
})
