/**
 * `tributary bench monitor` (process part): the resident memory of a running `tributary monitor`
 * process watching a cluster of 10 groups on 50 partitions — the figure to hold beside Burrow's.
 *
 * Cases, each a separate monitor process sampled for a few seconds after it shows every group:
 * - **embedded, owned**: an application process owns a `file:` log and keeps committing; the
 *   monitor follows it through a read-only view (the usual way to watch a running app);
 * - **kafka** (when `KAFKA_BROKERS` is set): the same groups on a real broker, read from
 *   `__consumer_offsets` (the monitor reads every group of the broker; only the bench's are kept).
 *
 * Each runs as installed — the compiled JavaScript (`tsc` into `node_modules/.cache`, as
 * `npm run build` makes `dist/`) — and, for context, straight from the TypeScript sources (Node's
 * type stripping, which `npm run tributary` uses, costs about 25 MB).
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openLog } from '../log/open-log.ts'

/** Options of {@link measureMonitorRss}. */
export interface MonitorRssOptions {
  /** Consumer groups (default 10). */
  groups?: number
  /** Partitions in all (default 50: 5 topics of 10). */
  partitions?: number
  /** Also measure a Kafka cluster at these brokers. */
  kafkaBrokers?: string
  /** How long to sample each process once it shows every group (ms). Default 3,000. */
  sampleMs?: number
  print?: (line: string) => void
}

/** One measured monitor process. */
export interface MonitorRssResult {
  case: 'embedded-owned' | 'kafka'
  runtime: 'js' | 'ts'
  groups: number
  partitions: number
  /** Highest VmRSS seen while sampling (MB). */
  rssMb: number
}

const ROOT = path.resolve(import.meta.dirname, '../..')
const TOPICS = 5

/** Compiles the sources to JavaScript once (again only when a source is newer). Returns the output dir. */
export function compiledTree(): string {
  const out = path.join(ROOT, 'node_modules', '.cache', 'tributary-dist')
  const stamp = path.join(out, '.built')
  const newest = Math.max(...fs.readdirSync(path.join(ROOT, 'src'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => fs.statSync(path.join(e.parentPath, e.name)).mtimeMs))
  if (fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs >= newest) return out
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json'), '--outDir', out, '--declaration', 'false', '--sourceMap', 'false'], { encoding: 'utf8' })
  if (tsc.status !== 0) throw new Error(`compiling for the RSS bench failed:\n${tsc.stdout}${tsc.stderr}`)
  fs.writeFileSync(stamp, '')
  return out
}

function vmRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return Math.round(kb / 1024)
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = ''
    let stderr = ''
    const timer = setTimeout(() => reject(new Error(`${what}: no ${pattern} within ${timeoutMs} ms; stderr: ${stderr.slice(-1000)}`)), timeoutMs)
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      const m = pattern.exec(seen)
      if (m) {
        clearTimeout(timer)
        resolve(m[0])
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${what} exited with ${code}; stderr: ${stderr.slice(-1000)}`))
    })
  })
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}

/** Runs one monitor process until it lists `groups` groups, then samples its RSS. */
async function sampleMonitor(entry: string, config: string, groups: number, sampleMs: number, env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(process.execPath, [entry, 'monitor', '--config', config, '--address', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'], env })
  try {
    const line = await waitForLine(child, /listening on (http:\/\/[^\s]+)/, 60_000, 'tributary monitor')
    const url = /http:\/\/[^\s]+/.exec(line)?.[0] as string
    const deadline = Date.now() + 60_000
    for (;;) {
      const res = await fetch(`${url}/v3/kafka/local/consumer`).catch(() => undefined)
      const consumers = res?.ok ? ((await res.json()) as { consumers: string[] }).consumers.filter((c) => c.startsWith('rss-bench-')) : []
      if (consumers.length >= groups) break
      if (Date.now() > deadline) throw new Error(`the monitor showed ${consumers.length} of ${groups} groups after 60 s`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    let max = vmRssMb(child.pid as number)
    const until = Date.now() + sampleMs
    for (let i = 0; Date.now() < until; i++) {
      // A client polling the groups meanwhile, as a dashboard or exporter would.
      await fetch(`${url}/v3/kafka/local/consumer/rss-bench-${i % groups}/lag`).then((r) => r.arrayBuffer())
      max = Math.max(max, vmRssMb(child.pid as number))
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return max
  } finally {
    await stopChild(child)
  }
}

const OWNER_SCRIPT = `
import { openLog } from '%LOG%'
const [dir, groups, topics, partitions] = process.argv.slice(2)
const log = await openLog('file:' + dir, { cleanerIntervalMs: 0 })
const names = Array.from({ length: Number(topics) }, (_, t) => 'rss-bench-topic-' + t)
const consumers = Array.from({ length: Number(groups) }, (_, g) => log.consumer({ groupId: 'rss-bench-' + g, topics: names }))
const producer = log.producer()
let round = 0
const tick = async () => {
  round++
  const records = []
  for (const topic of names) for (let p = 0; p < Number(partitions); p++) records.push({ topic, partition: p, value: 'r' + round })
  await producer.send(records)
  for (const c of consumers) { await c.poll({ timeoutMs: 1 }); await c.commit() }
}
await tick()
process.stdout.write('ready\\n')
const timer = setInterval(() => void tick(), 250)
process.once('SIGTERM', async () => { clearInterval(timer); for (const c of consumers) await c.close(); await log.close(); process.exit(0) })
`

/** Measures the monitor processes and prints one line per case and runtime. */
export async function measureMonitorRss(options: MonitorRssOptions = {}): Promise<MonitorRssResult[]> {
  const print = options.print ?? ((line: string) => console.log(line))
  const groups = options.groups ?? 10
  const partitions = options.partitions ?? 50
  const perTopic = Math.ceil(partitions / TOPICS)
  const sampleMs = options.sampleMs ?? 3_000
  const dist = compiledTree()
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-rss-'))
  const env = { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn' }
  const entries: [MonitorRssResult['runtime'], string][] = [
    ['js', path.join(dist, 'cli/main.js')],
    ['ts', path.join(ROOT, 'src/cli/main.ts')],
  ]
  const results: MonitorRssResult[] = []
  const record = (r: MonitorRssResult, what: string): void => {
    results.push(r)
    print(`monitor process rss   ${what.padEnd(44)} ${r.runtime === 'js' ? 'compiled JS' : 'TS sources '}  ${r.rssMb} MB  (target <= 80 MB)`)
  }
  try {
    // Embedded: an app owns the directory and keeps committing.
    const dir = path.join(tmp, 'log')
    const seed = await openLog(`file:${dir}`, { cleanerIntervalMs: 0 })
    for (let t = 0; t < TOPICS; t++) await seed.admin.createTopic({ name: `rss-bench-topic-${t}`, partitions: perTopic })
    await seed.close()
    const ownerFile = path.join(tmp, 'owner.mjs')
    fs.writeFileSync(ownerFile, OWNER_SCRIPT.replace('%LOG%', path.join(dist, 'log/index.js')))
    const owner = spawn(process.execPath, [ownerFile, dir, String(groups), String(TOPICS), String(perTopic)], { stdio: ['ignore', 'pipe', 'pipe'], env })
    try {
      await waitForLine(owner, /ready/, 60_000, 'the owning app')
      const config = path.join(tmp, 'embedded.yaml')
      fs.writeFileSync(config, `clusters:\n  local:\n    log: file:${dir}\n    poll-interval: 0.25\n    offset-refresh: 1\n`)
      for (const [runtime, entry] of entries) {
        record({ case: 'embedded-owned', runtime, groups, partitions: TOPICS * perTopic, rssMb: await sampleMonitor(entry, config, groups, sampleMs, env) }, `embedded log owned by an app, ${groups} groups x ${TOPICS * perTopic} partitions`)
      }
    } finally {
      await stopChild(owner)
    }

    if (options.kafkaBrokers) {
      const brokers = options.kafkaBrokers
      const log = await openLog(`kafka://${brokers}`)
      const suffix = Date.now().toString(36)
      const names = Array.from({ length: TOPICS }, (_, t) => `rss-bench-topic-${t}-${suffix}`)
      try {
        for (const name of names) await log.admin.createTopic({ name, partitions: perTopic })
        const producer = log.producer()
        await producer.send(names.flatMap((topic) => Array.from({ length: perTopic }, (_, p) => ({ topic, partition: p, value: 'x' }))))
        await producer.close()
        await Promise.all(
          Array.from({ length: groups }, async (_, g) => {
            const consumer = log.consumer({ groupId: `rss-bench-${g}`, topics: names })
            const deadline = Date.now() + 60_000
            while (consumer.assignment().length < names.length * perTopic && Date.now() < deadline) await consumer.poll({ timeoutMs: 200 })
            await consumer.commit()
            await consumer.close()
          }),
        )
        const config = path.join(tmp, 'kafka.yaml')
        fs.writeFileSync(config, `clusters:\n  local:\n    servers: [${brokers.split(',').join(', ')}]\n    group-allowlist: '^rss-bench-'\n`)
        for (const [runtime, entry] of entries) {
          record({ case: 'kafka', runtime, groups, partitions: TOPICS * perTopic, rssMb: await sampleMonitor(entry, config, groups, sampleMs, env) }, `Kafka at ${brokers}, ${groups} groups x ${TOPICS * perTopic} partitions`)
        }
      } finally {
        for (const name of names) await log.admin.deleteTopic(name).catch(() => {})
        await log.close()
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  return results
}
