/**
 * Local Kinesis (kinesalite) and DynamoDB (dynalite) servers for tests and benchmarks, each a child process on a
 * free 127.0.0.1 port, driven through the AWS SDK v3 clients exactly as against AWS: an endpoint
 * override, dummy credentials and a region.
 *
 * @example
 * ```ts
 * const aws = await startAwsEmulators()
 * after(() => aws.stop())
 * const kinesis = new KinesisClient(aws.kinesisConfig)
 * ```
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'

const root = path.join(import.meta.dirname, '..', '..')

/** SDK client settings for a local emulator. */
export interface EmulatorClientConfig {
  endpoint: string
  region: string
  credentials: { accessKeyId: string; secretAccessKey: string }
  maxAttempts?: number
}

/** A running emulator child process. */
export interface Emulator {
  readonly url: string
  readonly child: ChildProcess
  readonly config: EmulatorClientConfig
  stop(): Promise<void>
}

/** Options of kinesalite. */
export interface KinesaliteOptions {
  /** ms a stream stays CREATING (default 5, so streams are ACTIVE fast). */
  createStreamMs?: number
  /** ms a stream stays UPDATING after a split or merge (default 5). */
  updateStreamMs?: number
  deleteStreamMs?: number
  /** Shards allowed per account (default 100). */
  shardLimit?: number
}

// The CLIs of both packages listen on every interface; this loader binds 127.0.0.1 on a free port and
// prints it, so parallel tests never collide and nothing listens beyond the machine.
const LOADER = `
const [pkg, json] = process.argv.slice(1)
const server = require(pkg)(JSON.parse(json))
server.listen(0, '127.0.0.1', () => console.log('PORT ' + server.address().port))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
// the parent holds our stdin: when it dies (even by SIGKILL or a test timeout) the pipe closes and we go too
process.stdin.on('end', () => process.exit(0)).resume()
`

async function startEmulator(pkg: 'kinesalite' | 'dynalite', options: Record<string, unknown>): Promise<Emulator> {
  const child = spawn(process.execPath, ['-e', LOADER, path.join(root, 'node_modules', pkg), JSON.stringify(options)], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`${pkg} did not start in 15 s: ${stderr}`)), 15_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const m = /PORT (\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${pkg} exited with ${code}: ${stderr}`))
    })
  })
  const url = `http://127.0.0.1:${port}`
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  return {
    url,
    child,
    config: { endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Starts kinesalite (in memory). */
export function startKinesalite(options: KinesaliteOptions = {}): Promise<Emulator> {
  return startEmulator('kinesalite', { createStreamMs: 5, updateStreamMs: 5, deleteStreamMs: 5, shardLimit: 100, ...options })
}

/** Starts dynalite (in memory). */
export function startDynalite(): Promise<Emulator> {
  return startEmulator('dynalite', { createTableMs: 5, updateTableMs: 5, deleteTableMs: 5 })
}

/** Both emulators. */
export interface AwsEmulators {
  kinesis: Emulator
  dynamo: Emulator
  stop(): Promise<void>
}

/** Starts kinesalite and dynalite side by side. */
export async function startAwsEmulators(kinesis: KinesaliteOptions = {}): Promise<AwsEmulators> {
  const [k, d] = await Promise.all([startKinesalite(kinesis), startDynalite()])
  return { kinesis: k, dynamo: d, stop: async () => void (await Promise.all([k.stop(), d.stop()])) }
}
