/**
 * The Kafka backend and the monitor over TLS and SASL, against a second broker started for this
 * file (`scripts/kafka.sh start --secure`): SASL_SSL with SCRAM (and PLAIN, OAUTHBEARER), SSL with a
 * client certificate, and the failures a production user meets first.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { isTributaryError, type ErrorCode } from '../../src/core/index.ts'
import { openLog, type KafkaSecurityOptions, type Log } from '../../src/log/index.ts'
import { Monitor } from '../../src/monitor/index.ts'
import { api, captureLogger, eventually, testConfig } from '../monitor/helpers.ts'
import { pollUntil } from './conformance.ts'
import { startSecureBroker, type SecureBroker } from './secure-broker.ts'

const uid = (): string => randomUUID().slice(0, 8)

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise
  } catch (err) {
    return err as Error & { code?: string }
  }
  assert.fail('expected a failure')
}

/** Everything printable about an error: message, details and the messages of its causes. */
function printable(err: unknown): string {
  const parts: string[] = []
  let e: unknown = err
  for (let depth = 0; e instanceof Error && depth < 10; depth++) {
    parts.push(e.message, JSON.stringify((e as { details?: unknown }).details ?? {}), String(e.stack))
    for (const child of (e as { errors?: unknown[] }).errors ?? []) parts.push(printable(child))
    e = e.cause
  }
  return parts.join('\n')
}

describe('Kafka over TLS and SASL (a secured broker of its own)', { timeout: 240_000 }, () => {
  let broker: SecureBroker
  const logs: Log[] = []
  const open = async (url: string, kafka?: KafkaSecurityOptions): Promise<Log> => {
    const log = await openLog(url, { kafka, connectTimeoutMs: 8_000 })
    logs.push(log)
    return log
  }

  before(async () => {
    broker = await startSecureBroker()
  })

  after(async () => {
    for (const log of logs) await log.close().catch(() => {})
    await broker?.stop()
  })

  /** Admin, produce, group consume with commits and lag, and a reader, through one log. */
  async function roundTrip(log: Log): Promise<void> {
    const topic = `secure-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 2 })
    assert.equal((await log.admin.describeTopic(topic)).partitions, 2)
    assert.ok((await log.admin.listTopics()).includes(topic))
    const sent = await log.producer().send(Array.from({ length: 20 }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}` })))
    assert.equal(sent.length, 20)
    const group = `g-${uid()}`
    const consumer = log.consumer({ groupId: group, topics: [topic], sessionTimeoutMs: 6_000 })
    const records = await pollUntil(consumer, (r) => r.length >= 20, 30_000)
    assert.deepEqual(records.map((r) => r.value?.toString()).sort(), sent.map((_, i) => `v${i}`).sort())
    await consumer.commit()
    const committed = await log.offsets.committed(group, topic)
    assert.equal(committed.reduce((sum, c) => sum + c.offset, 0), 20)
    const lag = await log.offsets.lag(group, topic)
    assert.equal(lag.reduce((sum, p) => sum + p.lag, 0), 0)
    await consumer.close()
    const reader = log.reader({ topic })
    const read = await pollUntil(reader, (r) => r.length >= 20, 30_000)
    assert.equal(read.length, 20)
    await reader.close()
    await log.admin.deleteTopic(topic)
  }

  it('produces, consumes with commits, reads and administers over SASL_SSL with SCRAM-SHA-512', async () => {
    await roundTrip(await open(`kafka+ssl://${broker.saslSsl}`, broker.scram('SCRAM-SHA-512')))
  })

  it('does the same over mTLS (SSL listener requiring a client certificate)', async () => {
    await roundTrip(await open(`kafka+ssl://${broker.ssl}`, broker.mtls()))
  })

  it('authenticates with SCRAM-SHA-256, PLAIN and OAUTHBEARER (a token callback) too', async () => {
    for (const mechanism of ['SCRAM-SHA-256', 'PLAIN'] as const) {
      const log = await open(`kafka+ssl://${broker.saslSsl}`, broker.scram(mechanism))
      assert.ok(Array.isArray(await log.admin.listTopics()), mechanism)
    }
    let calls = 0
    const unsignedJwt = (): string => {
      calls++
      const now = Math.floor(Date.now() / 1000)
      const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
      return `${part({ alg: 'none' })}.${part({ sub: broker.user, iat: now, exp: now + 600 })}.`
    }
    const log = await open(`kafka+ssl://${broker.saslSsl}`, { tls: { ca: { file: path.join(broker.tlsDir, 'ca.pem') } }, sasl: { mechanism: 'OAUTHBEARER', token: unsignedJwt } })
    assert.ok(Array.isArray(await log.admin.listTopics()))
    assert.ok(calls >= 1, 'the token callback was called')
  })

  it('takes everything from the URL: CA file, SASL mechanism, user, and the password from the environment or a file', async () => {
    const ca = path.join(broker.tlsDir, 'ca.pem')
    process.env.TRIB_TEST_KAFKA_PASSWORD = broker.password
    try {
      const log = await open(`kafka+ssl://${broker.saslSsl}?ca=${ca}&sasl=SCRAM-SHA-256&username=${broker.user}&password-env=TRIB_TEST_KAFKA_PASSWORD`)
      assert.ok(Array.isArray(await log.admin.listTopics()))
    } finally {
      delete process.env.TRIB_TEST_KAFKA_PASSWORD
    }
    const passwordFile = path.join(broker.tlsDir, 'password.txt')
    fs.writeFileSync(passwordFile, `${broker.password}\n`, { mode: 0o600 })
    const log = await open(`kafka+ssl://${broker.saslSsl}?ca=${ca}&sasl=SCRAM-SHA-512&username=${broker.user}&password-file=${passwordFile}`)
    assert.ok(Array.isArray(await log.admin.listTopics()))
    const mtls = await open(`kafka+ssl://${broker.ssl}?ca=${ca}&cert=${path.join(broker.tlsDir, 'client.pem')}&key=${path.join(broker.tlsDir, 'client-key.pem')}`)
    assert.ok(Array.isArray(await mtls.admin.listTopics()))
  })

  it('checks the server name: the certificate name works, another name fails with TRIB_LOG_TLS', async () => {
    const ca = { file: path.join(broker.tlsDir, 'ca.pem') }
    const good = await open(`kafka+ssl://${broker.ssl}`, { ...broker.mtls(), tls: { ...(broker.mtls().tls as object), servername: broker.tlsName } })
    assert.ok(Array.isArray(await good.admin.listTopics()))
    const started = Date.now()
    const err = await failure(open(`kafka+ssl://${broker.saslSsl}`, { tls: { ca, servername: 'wrong.tributary.test' }, sasl: broker.scram().sasl }))
    expectError(err, 'TRIB_LOG_TLS', [broker.saslSsl, 'host name does not match', 'wrong.tributary.test'])
    assert.ok(Date.now() - started < 5_000, `failed within ${Date.now() - started} ms`)
  })

  function expectError(err: Error & { code?: string }, code: ErrorCode, mentions: string[]): void {
    assert.ok(isTributaryError(err, code), `expected ${code}, got ${err.code}: ${err.message}`)
    for (const text of mentions) assert.ok(err.message.includes(text), `"${err.message}" mentions ${text}`)
    assert.equal((err as { retriable?: boolean }).retriable, false)
  }

  it('fails fast and clearly: wrong password, untrusted certificate, missing client certificate, TLS vs plaintext mix-ups', async () => {
    const ca = { file: path.join(broker.tlsDir, 'ca.pem') }
    const cases: { name: string; url: string; kafka?: KafkaSecurityOptions; code: ErrorCode; mentions: string[] }[] = [
      {
        name: 'wrong password',
        url: `kafka+ssl://${broker.saslSsl}`,
        kafka: { tls: { ca }, sasl: { mechanism: 'SCRAM-SHA-512', username: broker.user, password: 'not-the-password' } },
        code: 'TRIB_LOG_AUTH_FAILED',
        mentions: [broker.saslSsl, 'SCRAM-SHA-512', `user ${broker.user}`],
      },
      {
        name: 'untrusted certificate (no CA given: the system CAs do not know the test CA)',
        url: `kafka+ssl://${broker.saslSsl}`,
        kafka: { tls: true, sasl: broker.scram().sasl },
        code: 'TRIB_LOG_TLS',
        mentions: [broker.saslSsl, 'not trusted', 'tls.ca'],
      },
      { name: 'no client certificate on the mTLS listener', url: `kafka+ssl://${broker.ssl}`, kafka: { tls: { ca } }, code: 'TRIB_LOG_TLS', mentions: [broker.ssl, 'client certificate'] },
      { name: 'plaintext client on a TLS listener', url: `kafka://${broker.ssl}`, code: 'TRIB_LOG_TLS', mentions: [broker.ssl, 'kafka+ssl://'] },
      { name: 'TLS client on the plaintext listener', url: `kafka+ssl://${broker.plaintext}`, kafka: { tls: { ca } }, code: 'TRIB_LOG_TLS', mentions: [broker.plaintext, 'does not speak TLS'] },
    ]
    for (const c of cases) {
      const started = Date.now()
      const err = await failure(open(c.url, c.kafka))
      const took = Date.now() - started
      expectError(err, c.code, c.mentions)
      assert.ok(took < 5_000, `${c.name}: failed within ${took} ms`)
      assert.ok(!printable(err).includes(broker.password), `${c.name}: the password appears nowhere in the error`)
    }
  })

  it('never logs the password, not even at debug level while failing', async () => {
    const { logger, lines } = captureLogger('debug')
    const wrong = 'a-wrong-password-1234'
    const err = await failure(
      openLog(`kafka+ssl://${broker.saslSsl}`, { logger, connectTimeoutMs: 5_000, kafka: { tls: { ca: { file: path.join(broker.tlsDir, 'ca.pem') } }, sasl: { mechanism: 'PLAIN', username: broker.user, password: wrong } } }),
    )
    assert.ok(isTributaryError(err, 'TRIB_LOG_AUTH_FAILED'), err.message)
    const log = await openLog(`kafka+ssl://${broker.saslSsl}`, { logger, kafka: broker.scram() })
    logs.push(log)
    const topic = `logged-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 1 })
    const consumer = log.consumer({ groupId: `g-${uid()}`, topics: [topic] })
    await consumer.poll({ timeoutMs: 500 })
    await consumer.close()
    const text = JSON.stringify(lines) + printable(err)
    assert.ok(lines.length > 0, 'something was logged at debug level')
    assert.ok(!text.includes(wrong) && !text.includes(broker.password), 'no password in any log line or error')
  })

  it('refuses a password written into the URL, and names the missing environment variable', async () => {
    const bad = await failure(openLog(`kafka+ssl://${broker.saslSsl}?sasl=PLAIN&username=u&password=secret`))
    assert.ok(isTributaryError(bad, 'TRIB_LOG_BAD_URL'), bad.message)
    assert.match(bad.message, /password-env=NAME or password-file=PATH/)
    assert.ok(!printable(bad).includes('secret'), 'the refused password is not repeated in the error')
    const missing = await failure(openLog(`kafka+ssl://${broker.saslSsl}?sasl=PLAIN&username=u&password-env=TRIB_TEST_NOT_SET_${uid()}`))
    assert.ok(isTributaryError(missing, 'TRIB_INVALID_ARGUMENT'), missing.message)
    assert.match(missing.message, /sasl\.password: environment variable TRIB_TEST_NOT_SET_\w+ is not set/)
  })

  it('the CLI takes the same settings in --log, with the password from the environment, and prints a clear error without it', async () => {
    const log = await open(`kafka+ssl://${broker.saslSsl}`, broker.scram())
    const topic = `cli-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 3 })
    const main = path.resolve(import.meta.dirname, '../../src/cli/main.ts')
    const cli = (url: string, password: string): Promise<{ code: number | null; out: string; err: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [main, 'log', 'topics', '--log', url], { env: { ...process.env, TRIBUTARY_LOG: '', TRIB_TEST_CLI_PASSWORD: password } })
        let out = ''
        let err = ''
        child.stdout.on('data', (c: Buffer) => (out += c.toString()))
        child.stderr.on('data', (c: Buffer) => (err += c.toString()))
        child.on('exit', (code) => resolve({ code, out, err }))
      })
    const url = `kafka+ssl://${broker.saslSsl}?ca=${path.join(broker.tlsDir, 'ca.pem')}&sasl=SCRAM-SHA-512&username=${broker.user}&password-env=TRIB_TEST_CLI_PASSWORD`
    const good = await cli(url, broker.password)
    assert.equal(good.code, 0, good.err)
    assert.match(good.out, new RegExp(topic))
    const wrong = 'cli-wrong-password'
    const bad = await cli(url, wrong)
    assert.notEqual(bad.code, 0)
    assert.match(bad.err, /TRIB_LOG_AUTH_FAILED|SASL authentication with Kafka broker/)
    assert.match(bad.err, new RegExp(broker.saslSsl.replace(/\./g, '\\.')))
    assert.ok(!bad.err.includes(wrong) && !bad.out.includes(wrong), 'the CLI does not print the password')
  })

  /** A committed group, then a monitor configured from YAML-shaped settings that must see the commit. */
  async function monitorSeesCommit(cluster: { [k: string]: unknown }, client: Log): Promise<{ [k: string]: unknown }[]> {
    const topic = `mon-${uid()}`
    const group = `mon-g-${uid()}`
    await client.admin.createTopic({ name: topic, partitions: 1 })
    await client.producer().send(Array.from({ length: 5 }, (_, i) => ({ topic, value: `v${i}` })))
    const consumer = client.consumer({ groupId: group, topics: [topic] })
    await pollUntil(consumer, (r) => r.length >= 5, 30_000)
    await consumer.commit()
    const { logger, lines } = captureLogger('debug')
    const monitor = new Monitor(testConfig({ secure: { 'offset-refresh': 0.2, 'topic-refresh': 1, ...cluster } }), { logger })
    try {
      await monitor.start()
      await eventually(async () => {
        const { code, body } = await api(monitor, `/v3/kafka/secure/consumer/${group}`)
        const offsets = code === 200 ? (body.topics?.[topic]?.[0]?.offsets ?? []).filter((o: unknown) => o !== null) : []
        return offsets.length > 0 && offsets[offsets.length - 1].offset === 5 ? true : undefined
      }, `the monitor sees the commit of ${group}`)
    } finally {
      await monitor.stop()
      await consumer.close()
    }
    return lines
  }

  it('the monitor reads __consumer_offsets over SASL_SSL, configured from YAML-shaped settings with the password from the environment', async () => {
    process.env.TRIB_TEST_MONITOR_PASSWORD = broker.password
    try {
      const lines = await monitorSeesCommit(
        {
          log: `kafka+ssl://${broker.saslSsl}`,
          kafka: {
            tls: { ca: { file: path.join(broker.tlsDir, 'ca.pem') } },
            sasl: { mechanism: 'SCRAM-SHA-256', username: broker.user, password: { env: 'TRIB_TEST_MONITOR_PASSWORD' } },
          },
        },
        await open(`kafka+ssl://${broker.saslSsl}`, broker.scram()),
      )
      assert.ok(!JSON.stringify(lines).includes(broker.password), 'the monitor logged no password')
    } finally {
      delete process.env.TRIB_TEST_MONITOR_PASSWORD
    }
  })

  it('the monitor reads __consumer_offsets over mTLS, with the certificate files in its settings', async () => {
    const file = (name: string): { file: string } => ({ file: path.join(broker.tlsDir, name) })
    await monitorSeesCommit(
      { log: `kafka+ssl://${broker.ssl}`, kafka: { tls: { ca: file('ca.pem'), cert: file('client.pem'), key: file('client-key.pem') } } },
      await open(`kafka+ssl://${broker.ssl}`, broker.mtls()),
    )
  })

  it('the monitor logs a wrong password as an authentication failure naming the broker', async () => {
    const { logger, lines } = captureLogger('warn')
    const wrong = 'monitor-wrong-password'
    const monitor = new Monitor(
      testConfig({
        secure: {
          log: `kafka+ssl://${broker.saslSsl}`,
          'offset-refresh': 0.2,
          kafka: { tls: { ca: { file: path.join(broker.tlsDir, 'ca.pem') } }, sasl: { mechanism: 'SCRAM-SHA-512', username: broker.user, password: wrong } },
        },
      }),
      { logger },
    )
    try {
      await monitor.start()
      await eventually(() => lines.find((l) => /SASL authentication with Kafka broker/.test(String(l.err))), 'the authentication failure in the log', 10_000)
    } finally {
      await monitor.stop()
    }
    const line = lines.find((l) => /SASL authentication with Kafka broker/.test(String(l.err)))
    assert.match(String(line?.err), new RegExp(`${broker.saslSsl.replace(/\./g, '\\.')} failed \\(mechanism SCRAM-SHA-512, user ${broker.user}\\)`))
    assert.ok(!JSON.stringify(lines).includes(wrong), 'the wrong password is not logged either')
  })
})
