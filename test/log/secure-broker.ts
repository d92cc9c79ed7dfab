/**
 * A second, secured Kafka broker for tests (`scripts/kafka.sh start --secure`) on free ports in a
 * throw-away work dir: PLAINTEXT, SASL_SSL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER) and SSL with
 * required client certificates. Never touches the shared broker at 127.0.0.1:9092.
 *
 * ```ts
 * const broker = await startSecureBroker()
 * const log = await openLog(`kafka+ssl://${broker.saslSsl}`, { kafka: broker.scram('SCRAM-SHA-512') })
 * await broker.stop()
 * ```
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import type { KafkaSecurityOptions, SaslMechanism } from '../../src/log/index.ts'

const run = promisify(execFile)
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/kafka.sh')

/** A running secured broker. */
export interface SecureBroker {
  /** host:port of the PLAINTEXT listener. */
  readonly plaintext: string
  /** host:port of the SASL_SSL listener. */
  readonly saslSsl: string
  /** host:port of the SSL listener (client certificate required). */
  readonly ssl: string
  readonly tlsDir: string
  /** The DNS name in the broker's certificate (besides IP 127.0.0.1). */
  readonly tlsName: string
  readonly user: string
  readonly password: string
  readonly pid: number
  /** Security options for the SASL_SSL listener with `mechanism` and the right password. */
  scram(mechanism?: SaslMechanism): KafkaSecurityOptions
  /** Security options for the SSL listener with the client certificate. */
  mtls(): KafkaSecurityOptions
  /** SIGSTOP / SIGCONT of the broker process (a network partition for every client). */
  pause(): void
  resume(): void
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** `count` distinct free ports on 127.0.0.1 (default four: client, controller, SASL_SSL, SSL). */
export async function freePorts(count = 4): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) ports.add(await freePort())
  return [...ports]
}

/** Starts a secured broker (about 20 s: JVM start, format with SCRAM users, broker start). */
export async function startSecureBroker(): Promise<SecureBroker> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-secure-kafka-'))
  const [port, controller, saslSsl, ssl] = await freePorts()
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_SECURE: '1',
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(controller),
    KAFKA_SASL_SSL_PORT: String(saslSsl),
    KAFKA_SSL_PORT: String(ssl),
    KAFKA_WORK_DIR: work,
    KAFKA_STOP_TIMEOUT: '10',
  }
  delete env.KAFKA_SASL_PASSWORD
  try {
    await run('bash', [SCRIPT, 'start'], { env, timeout: 150_000 })
  } catch (err) {
    await run('bash', [SCRIPT, 'stop'], { env }).catch(() => {})
    fs.rmSync(work, { recursive: true, force: true })
    throw err
  }
  const vars = Object.fromEntries(
    fs
      .readFileSync(path.join(work, 'kafka.env'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  )
  const tlsDir = vars.KAFKA_TLS_DIR
  const password = /KAFKA_SASL_PASSWORD=(.*)/.exec(fs.readFileSync(path.join(tlsDir, 'sasl.env'), 'utf8'))?.[1] ?? ''
  const pid = Number(vars.KAFKA_PID)
  const file = (name: string): { file: string } => ({ file: path.join(tlsDir, name) })
  return {
    plaintext: vars.KAFKA_BOOTSTRAP_SERVERS,
    saslSsl: vars.KAFKA_SASL_SSL_SERVERS,
    ssl: vars.KAFKA_SSL_SERVERS,
    tlsDir,
    tlsName: vars.KAFKA_TLS_NAME,
    user: vars.KAFKA_SASL_USER,
    password,
    pid,
    scram: (mechanism = 'SCRAM-SHA-512') => ({ tls: { ca: file('ca.pem') }, sasl: { mechanism, username: vars.KAFKA_SASL_USER, password } }),
    mtls: () => ({ tls: { ca: file('ca.pem'), cert: file('client.pem'), key: file('client-key.pem') } }),
    pause: () => process.kill(pid, 'SIGSTOP'),
    resume: () => process.kill(pid, 'SIGCONT'),
    stop: async () => {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {
        // already gone
      }
      await run('bash', [SCRIPT, 'stop'], { env, timeout: 60_000 }).catch(() => {})
      fs.rmSync(work, { recursive: true, force: true })
    },
  }
}
