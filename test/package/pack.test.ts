/**
 * The library from another project: `npm pack` (which builds dist/ first) gives a tarball that a
 * fresh project installs; every subpath export then imports in ESM, type-checks in TypeScript with
 * the shipped declarations, and the `tributary` bin runs.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'

const root = path.resolve(import.meta.dirname, '../..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string; exports: { [subpath: string]: unknown } }
const subpaths = Object.keys(pkg.exports).map((s) => (s === '.' ? pkg.name : `${pkg.name}/${s.slice(2)}`))
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-pack-'))
const project = path.join(tmp, 'consumer')
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** Runs a command to completion; rejects with its output when it fails. */
function run(cmd: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const env = { ...process.env, NODE_TEST_CONTEXT: undefined, npm_config_loglevel: 'error' }
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { cwd, env, encoding: 'utf8', timeout: 240_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')} in ${cwd} failed (${err.message}):\n${stdout}\n${stderr}`)) : resolve({ stdout, stderr }),
    ),
  )
}

describe('the packed library in a fresh project', { timeout: 300_000, concurrency: true }, () => {
  let tarball = ''

  before(async () => {
    await run('npm', ['pack', '--pack-destination', tmp, '--silent'], root)
    tarball = path.join(tmp, `${pkg.name}-${pkg.version}.tgz`)
    fs.mkdirSync(project)
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2))
    const typesNode = (JSON.parse(fs.readFileSync(path.join(root, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string }).version
    // From the npm cache where it can (npm ci filled it); the registry otherwise.
    await run('npm', ['install', tarball, `@types/node@${typesNode}`, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], project)
  })

  it('ships dist/ with JavaScript and declarations for every export, and no TypeScript sources', async () => {
    const listing = (await run('tar', ['-tzf', tarball], tmp)).stdout.trim().split('\n')
    assert.ok(listing.every((f) => f === 'package/package.json' || f === 'package/README.md' || f === 'package/LICENSE' || f.startsWith('package/dist/')), listing.filter((f) => !f.startsWith('package/dist/')).join(', '))
    assert.ok(!listing.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no .ts sources')
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      const { types, default: js } = target as { types: string; default: string }
      assert.ok(listing.includes(`package/${js.slice(2)}`), `${subpath}: ${js} is in the tarball`)
      assert.ok(listing.includes(`package/${types.slice(2)}`), `${subpath}: ${types} is in the tarball`)
    }
  })

  it('imports every subpath export in ESM and runs a log round trip', async () => {
    fs.writeFileSync(
      path.join(project, 'check.mjs'),
      `const names = ${JSON.stringify(subpaths)}
for (const name of names) {
  const m = await import(name)
  if (Object.keys(m).length === 0) throw new Error(name + ' exports nothing')
  console.log(name, Object.keys(m).length)
}
const { openLog } = await import('tributary/log')
const { codecs } = await import('tributary/core')
const { memoryStore } = await import('tributary/state')
const { defineGroup, input, persist, Tester } = await import('tributary/processor')
const log = await openLog('memory:')
await log.admin.createTopic({ name: 'clicks', partitions: 2 })
const producer = log.producer()
await producer.send([{ topic: 'clicks', key: 'alice', value: '/home' }])
const consumer = log.consumer({ groupId: 'readers', topics: ['clicks'] })
const records = await consumer.poll({ timeoutMs: 5000 })
await consumer.close(); await producer.close(); await log.close()
const store = memoryStore()
const tester = new Tester().register(defineGroup('counter', input('clicks', codecs.string(), (ctx) => ctx.setValue((ctx.value() ?? 0) + 1)), persist(codecs.json())))
await tester.consume('clicks', 'alice', '/home')
console.log('round trip', records.length, records[0].value.toString(), typeof store, tester.tableValue('counter-table', 'alice'))
`,
    )
    const out = (await run(process.execPath, ['check.mjs'], project)).stdout
    for (const name of subpaths) assert.match(out, new RegExp(`^${name} \\d+$`, 'm'))
    assert.match(out, /^round trip 1 \/home function 1$/m)
  })

  it('type-checks a TypeScript file against the shipped declarations', async () => {
    // skipLibCheck as most projects have it: @platformatic/kafka's own declarations need @types/debug
    // and undici's RequestInit. Ours pass without it (checked by hand); the @ts-expect-error lines
    // below fail if our declarations did not resolve.
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2024', strict: true, noEmit: true, types: ['node'], skipLibCheck: true } }, null, 2),
    )
    const imports = subpaths.map((name, i) => `import * as m${i} from '${name}'`).join('\n')
    fs.writeFileSync(
      path.join(project, 'use.ts'),
      `${imports}
import { codecs, TributaryError, type Codec } from 'tributary/core'
import { openLog, type Log, type OpenLogOptions } from 'tributary/log'
import { openEmbeddedLog } from 'tributary/log/embedded'
import { defineGroup, input, persist, type Context } from 'tributary/processor'
import { memoryStore, type StoreBuilder } from 'tributary/state'

export const modules = [${subpaths.map((_, i) => `m${i}`).join(', ')}]
const codec: Codec<number> = codecs.json<number>()
const log: Log = await openLog('memory:')
await log.admin.createTopic({ name: 'clicks', partitions: 4 })
// @ts-expect-error partitions is a number (fails if the declarations did not resolve: everything would be any)
await log.admin.createTopic({ name: 'clicks', partitions: 'four' })
const graph = defineGroup('counter', input('clicks', codecs.string(), (ctx: Context<number>) => ctx.setValue((ctx.value() ?? 0) + 1)), persist(codec))
// @ts-expect-error a group name is a string
defineGroup(42, input('clicks', codecs.string(), () => {}))
const stores: StoreBuilder = memoryStore()
// @ts-expect-error a Logger, declared in core/logger.d.ts: proves the declarations' relative imports resolve
const options: OpenLogOptions = { logger: 5 }
const embedded = openEmbeddedLog({ mode: 'memory' })
const err: TributaryError = new TributaryError('TRIB_INVALID_ARGUMENT', 'x')
// @ts-expect-error error codes are a closed list
new TributaryError('TRIB_NO_SUCH_CODE', 'x')
export { graph, stores, embedded, err, options }
`,
    )
    await run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], project)
  })

  it('installs the tributary command', async () => {
    const bin = path.join(project, 'node_modules/.bin/tributary')
    const [topics, help] = await Promise.all([run(bin, ['log', 'topics', '--log', 'memory:'], project), run(bin, ['--help'], project)])
    assert.equal(topics.stdout, '')
    assert.match(help.stdout, /Usage: tributary/)
  })
})
