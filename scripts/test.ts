/**
 * The test command (`npm test`), set-up included:
 *
 * 1. checks the system prerequisites (scripts/prereqs.ts: Java 17+, Maven, Chromium, PostgreSQL) and
 *    installs the missing ones where the machine allows it, or stops at once with the command to run;
 * 2. type-checks the project;
 * 3. starts the real Kafka broker (scripts/kafka.sh) unless `KAFKA_BROKERS` names one, and
 *    PostgreSQL (scripts/postgres.sh, when present) unless `PG_URL` names one;
 * 4. runs every `test/**\/*.test.ts` (or the files given) with Node's test runner;
 * 5. stops what it started — also on Ctrl-C — and prints one summary line in which a cancelled test
 *    (timed out, or its file crashed) counts as a failure. Exits 0 only when every test passed.
 *
 *   npm test                         everything
 *   npm test -- test/log/foo.test.ts only these files (the services still start)
 */
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ensurePrerequisites } from './prereqs.ts'
import { closingSummary, type TestSummary } from './test-summary.ts'

const root = path.resolve(import.meta.dirname, '..')
const files = process.argv.slice(2)
const run = (cmd: string, args: string[], env = process.env): number => spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env }).status ?? 1

console.log('# prerequisites (scripts/prereqs.ts)')
const prereqs = ensurePrerequisites({ install: true, print: (line) => console.log(line) })
if (!prereqs.ok) process.exit(1)

console.log('# type-check (tsc)')
if (run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.check.json']) !== 0) {
  console.error('type-check failed')
  process.exit(1)
}

/** Services this run started, stopped in reverse order at the end. */
const started: { name: string; stop: () => void }[] = []
const stopServices = (): void => {
  for (const s of started.splice(0).reverse()) {
    console.log(`# stopping ${s.name}`)
    s.stop()
  }
}
const env = { ...process.env }
env.TRIBUTARY_LOG_LEVEL ??= 'warn'

if (!env.KAFKA_BROKERS) {
  console.log('# starting Kafka broker (scripts/kafka.sh start)')
  const start = spawnSync('bash', [path.join(root, 'scripts/kafka.sh'), 'start'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  if (start.status !== 0) {
    console.error('could not start the Kafka broker; set KAFKA_BROKERS=host:port to use a running one')
    process.exit(1)
  }
  started.push({ name: 'Kafka broker', stop: () => run('bash', [path.join(root, 'scripts/kafka.sh'), 'stop']) })
  env.KAFKA_BROKERS = '127.0.0.1:9092'
}

const postgresScript = path.join(root, 'scripts/postgres.sh')
if (!env.PG_URL && fs.existsSync(postgresScript)) {
  console.log('# starting PostgreSQL (scripts/postgres.sh start)')
  const start = spawnSync('bash', [postgresScript, 'start'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
  const url = start.stdout?.trim() ?? ''
  if (start.status !== 0 || !/^postgres(ql)?:\/\/\S+$/.test(url)) {
    console.error(`could not start PostgreSQL (scripts/postgres.sh start exited ${start.status}, printed ${JSON.stringify(url.slice(0, 200))}); set PG_URL=postgres://... to use a running one`)
    stopServices()
    process.exit(1)
  }
  started.push({ name: 'PostgreSQL', stop: () => run('bash', [postgresScript, 'stop']) })
  env.PG_URL = url
}

const summaryFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-test-')), 'summary.json')
let interrupted: NodeJS.Signals | undefined
let status = 1
try {
  const targets = files.length > 0 ? files : ['test/**/*.test.ts']
  const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${path.join(root, 'scripts/test-summary.ts')}`, `--test-reporter-destination=${summaryFile}`]
  // No --test-force-exit: it can end a file's process before its last results are written (a CI run
  // reported 806 of 807 tests). A file that leaks a timer must be fixed instead.
  const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...reporters, ...targets], { cwd: root, stdio: 'inherit', env })
  // Ctrl-C reaches the test runner too (same process group); wait for it, then stop the services.
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal
    child.kill(signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  status = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)))
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
} finally {
  stopServices()
}

let summary: TestSummary | undefined
try {
  summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as TestSummary
} catch {
  summary = undefined
}
fs.rmSync(path.dirname(summaryFile), { recursive: true, force: true })
const closing = closingSummary(summary, { status, interrupted, root })
console.log(closing.lines.join('\n'))
process.exit(closing.exitCode)
