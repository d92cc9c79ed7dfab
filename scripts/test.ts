/**
 * The test command (`npm test`): type-checks, starts the real Kafka broker (unless `KAFKA_BROKERS`
 * names one), runs every `test/**\/*.test.ts` with Node's test runner, and stops the broker.
 *
 *   npm test                         everything
 *   npm test -- test/log/foo.test.ts only these files (the broker still starts if needed)
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const files = process.argv.slice(2)
const run = (cmd: string, args: string[], env = process.env): number =>
  spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env }).status ?? 1

console.log('# type-check (tsc)')
if (run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.check.json']) !== 0) {
  console.error('type-check failed')
  process.exit(1)
}

let startedBroker = false
const env = { ...process.env }
if (!env.KAFKA_BROKERS) {
  console.log('# starting Kafka broker (scripts/kafka.sh start)')
  const start = spawnSync('bash', [path.join(root, 'scripts/kafka.sh'), 'start'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  if (start.status !== 0) {
    console.error('could not start the Kafka broker; set KAFKA_BROKERS=host:port to use a running one')
    process.exit(1)
  }
  startedBroker = true
  env.KAFKA_BROKERS = '127.0.0.1:9092'
}
env.TRIBUTARY_LOG_LEVEL ??= 'warn'

let status = 1
try {
  const targets = files.length > 0 ? files : ['test/**/*.test.ts']
  status = run(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...targets], env)
} finally {
  if (startedBroker) run('bash', [path.join(root, 'scripts/kafka.sh'), 'stop'])
}
process.exit(status)
