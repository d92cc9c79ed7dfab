import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'

const root = path.join(import.meta.dirname, '..')

it('package.json exports one subpath per public module folder (each folder with an index.ts), and nothing else', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports: Record<string, { default: string }> }
  const folders = fs
    .readdirSync(path.join(root, 'src'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name === 'index.ts')
    .map((e) => path.relative(path.join(root, 'src'), e.parentPath).split(path.sep).join('/'))
    .filter((dir) => !/^(cli|bench)(\/|$)/.test(dir))
  const expected = folders.map((dir) => (dir === '' ? '.' : `./${dir}`)).sort()
  assert.deepEqual(Object.keys(pkg.exports).sort(), expected)
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const source = target.default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')
    assert.ok(fs.existsSync(path.join(root, source)), `${subpath} → ${source} exists`)
  }
})

it('no module imports from a higher layer (core < log < state < processor|pipeline|lease < monitor|ingest|kinesis < server < bench < cli)', () => {
  // Folders in one group are peers: neither imports the other.
  const layers = [['core'], ['log'], ['state'], ['processor', 'pipeline', 'lease'], ['monitor', 'ingest', 'kinesis'], ['server'], ['bench'], ['cli']]
  const rank = (file: string): number => {
    const top = path.relative(path.join(root, 'src'), file).split(path.sep)[0]
    return layers.findIndex((group) => group.includes(top))
  }
  for (const entry of fs.readdirSync(path.join(root, 'src'), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
    const file = path.join(entry.parentPath, entry.name)
    const own = rank(file)
    if (own < 0) continue
    for (const match of fs.readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'|import\('(\.[^']+)'\)/g)) {
      const spec = match[1] ?? match[2]
      const target = path.resolve(path.dirname(file), spec)
      assert.ok(rank(target) <= own, `${path.relative(root, file)} imports ${spec}, a higher layer`)
      const top = (f: string): string => path.relative(path.join(root, 'src'), f).split(path.sep)[0]
      if (rank(target) === own) assert.equal(top(target), top(file), `${path.relative(root, file)} imports ${spec}, a peer layer`)
    }
  }
})
