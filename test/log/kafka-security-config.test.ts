/**
 * TLS and SASL settings without a broker: log URLs, secrets from the environment and files, checks
 * of bad input, the monitor's YAML, and the error mapping of platformatic's TLS and SASL failures.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { isTributaryError, TributaryError } from '../../src/core/index.ts'
import { kafkaSecurityError, mergeSecurity, parseLogUrl, resolveSecurity } from '../../src/log/index.ts'
import { parseConfig } from '../../src/monitor/index.ts'

function throwsCode(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TributaryError && err.code === code, `expected ${code}, got ${(err as Error).message}`)
    assert.match(err.message, pattern)
    return true
  })
}

describe('Kafka security settings', () => {
  it('parses kafka+ssl:// URLs with CA, client certificate, server name and SASL from the query', () => {
    assert.deepEqual(parseLogUrl('kafka+ssl://b1:9094,b2:9094'), { backend: 'kafka', brokers: ['b1:9094', 'b2:9094'], security: { tls: true } })
    assert.deepEqual(parseLogUrl('kafka://b1:9092'), { backend: 'kafka', brokers: ['b1:9092'] })
    const location = parseLogUrl('kafka+ssl://b1:9094?ca=/etc/ca.pem&cert=/etc/c.pem&key=/etc/k.pem&servername=kafka.example.com&sasl=scram-sha-512&username=app&password-env=PW')
    assert.deepEqual(location, {
      backend: 'kafka',
      brokers: ['b1:9094'],
      security: {
        tls: { ca: { file: '/etc/ca.pem' }, cert: { file: '/etc/c.pem' }, key: { file: '/etc/k.pem' }, servername: 'kafka.example.com' },
        sasl: { mechanism: 'SCRAM-SHA-512', username: 'app', password: { env: 'PW' }, token: undefined },
      },
    })
    const plainSasl = parseLogUrl('kafka://b1:9092?sasl=PLAIN&username-env=U&password-file=/run/secrets/pw')
    assert.deepEqual(plainSasl.backend === 'kafka' && plainSasl.security, { sasl: { mechanism: 'PLAIN', username: { env: 'U' }, password: { file: '/run/secrets/pw' }, token: undefined } })
    const insecure = parseLogUrl('kafka+ssl://b1:9094?verify=false')
    assert.deepEqual(insecure.backend === 'kafka' && insecure.security, { tls: { rejectUnauthorized: false } })
  })

  it('rejects passwords in URLs, TLS settings without TLS, credentials without a mechanism, and unknown parameters', () => {
    throwsCode(() => parseLogUrl('kafka+ssl://b1:9094?sasl=PLAIN&username=u&password=hunter2'), 'TRIB_LOG_BAD_URL', /password-env=NAME or password-file=PATH/)
    assert.throws(
      () => parseLogUrl('kafka+ssl://b1:9094?sasl=PLAIN&username=u&password=hunter2'),
      (err: Error & { details?: unknown }) => !err.message.includes('hunter2') && !JSON.stringify(err.details).includes('hunter2') && err.message.includes('password=***'),
      'the refused password is not repeated in the error',
    )
    throwsCode(() => parseLogUrl('kafka+ssl://b1:9094?sasl=OAUTHBEARER&token=abc'), 'TRIB_LOG_BAD_URL', /token-env=NAME or token-file=PATH/)
    throwsCode(() => parseLogUrl('kafka://b1:9092?ca=/etc/ca.pem'), 'TRIB_LOG_BAD_URL', /ca need TLS: use kafka\+ssl:\/\//)
    throwsCode(() => parseLogUrl('kafka+ssl://b1:9094?username=u&password-env=P'), 'TRIB_LOG_BAD_URL', /add sasl=SCRAM-SHA-512/)
    throwsCode(() => parseLogUrl('kafka+ssl://b1:9094?sasl=GSSAPI'), 'TRIB_LOG_BAD_URL', /sasl must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER/)
    throwsCode(() => parseLogUrl('kafka+ssl://b1:9094?tls=1'), 'TRIB_LOG_BAD_URL', /unknown parameter "tls"/)
    throwsCode(() => parseLogUrl('kafka+ssl://b1:9094?verify=maybe'), 'TRIB_LOG_BAD_URL', /verify must be true or false/)
    throwsCode(() => parseLogUrl('kafka+ssl://?ca=x'), 'TRIB_LOG_BAD_URL', /no broker address/)
  })

  it('reads secrets from the environment and files (trimming passwords, keeping PEM text), and names what is missing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-sec-'))
    try {
      fs.writeFileSync(path.join(dir, 'pw'), 's3cret\n')
      fs.writeFileSync(path.join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
      process.env.TRIB_TEST_USER = 'alice'
      const resolved = resolveSecurity({
        tls: { ca: { file: path.join(dir, 'ca.pem') }, servername: 'kafka.example.com' },
        sasl: { mechanism: 'SCRAM-SHA-256', username: { env: 'TRIB_TEST_USER' }, password: { file: path.join(dir, 'pw') } },
      })
      assert.equal(resolved.tls, true)
      assert.equal(resolved.connection.tls?.ca, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
      assert.equal(resolved.connection.tls?.servername, 'kafka.example.com')
      assert.equal(resolved.connection.tls?.rejectUnauthorized, true, 'certificates are checked by default')
      assert.equal(resolved.connection.sasl?.username?.(), 'alice')
      assert.equal(resolved.connection.sasl?.password?.(), 's3cret')
      assert.deepEqual(resolved.sasl, { mechanism: 'SCRAM-SHA-256', username: 'alice' })
      assert.ok(!JSON.stringify(resolved).includes('s3cret'), 'the password is not in any printable field')
      const withKey = resolveSecurity({ tls: { cert: 'CERT-PEM', key: 'PRIVATE-KEY-PEM', passphrase: 'key-pass' } })
      assert.equal(withKey.connection.tls?.key, 'PRIVATE-KEY-PEM')
      assert.ok(!JSON.stringify(withKey).includes('PRIVATE-KEY-PEM') && !JSON.stringify(withKey).includes('key-pass'), 'no private key or passphrase when printed')
      throwsCode(() => resolveSecurity({ sasl: { mechanism: 'PLAIN', username: 'u', password: { env: 'TRIB_TEST_UNSET_VAR' } } }), 'TRIB_INVALID_ARGUMENT', /sasl\.password: environment variable TRIB_TEST_UNSET_VAR is not set/)
      throwsCode(() => resolveSecurity({ tls: { ca: { file: path.join(dir, 'missing.pem') } } }), 'TRIB_INVALID_ARGUMENT', /tls\.ca: cannot read .*missing\.pem: ENOENT/)
      throwsCode(() => resolveSecurity({ tls: { cert: 'x' } }), 'TRIB_INVALID_ARGUMENT', /cert and key go together/)
      throwsCode(() => resolveSecurity({ sasl: { mechanism: 'SCRAM-SHA-512', username: 'u' } }), 'TRIB_INVALID_ARGUMENT', /SCRAM-SHA-512 needs username and password/)
      throwsCode(() => resolveSecurity({ sasl: { mechanism: 'OAUTHBEARER' } }), 'TRIB_INVALID_ARGUMENT', /OAUTHBEARER needs a token/)
      throwsCode(() => resolveSecurity({ sasl: { mechanism: 'KERBEROS' as never } }), 'TRIB_INVALID_ARGUMENT', /sasl\.mechanism: expected one of/)
    } finally {
      delete process.env.TRIB_TEST_USER
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('merges options in code over the URL, TLS field by field', () => {
    assert.deepEqual(mergeSecurity({ tls: { ca: { file: 'a' } } }, { tls: { servername: 'n' }, sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' } }), {
      tls: { ca: { file: 'a' }, servername: 'n' },
      sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' },
    })
    assert.deepEqual(mergeSecurity({ tls: true }, { tls: { ca: 'pem' } }), { tls: { ca: 'pem' }, sasl: undefined })
    assert.deepEqual(mergeSecurity(undefined, { tls: true }), { tls: true })
  })

  it('accepts the same settings in the monitor YAML and names a bad field', () => {
    const config = parseConfig({
      clusters: {
        prod: {
          log: 'kafka+ssl://b1:9094?ca=/etc/ca.pem',
          kafka: { tls: { servername: 'kafka.example.com' }, sasl: { mechanism: 'SCRAM-SHA-512', username: 'burrow', password: { env: 'KAFKA_PASSWORD' } } },
        },
      },
    })
    assert.deepEqual(config.clusters[0].kafka, {
      tls: { ca: { file: '/etc/ca.pem' }, servername: 'kafka.example.com' },
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'burrow', password: { env: 'KAFKA_PASSWORD' } },
    })
    assert.deepEqual(config.clusters[0].servers, ['b1:9094'])
    throwsCode(() => parseConfig({ clusters: { prod: { log: 'kafka://b1:9092', kafka: { sasl: { mechanism: 'MD5', username: 'u' } } } } }), 'TRIB_MONITOR_CONFIG', /clusters\.prod\.kafka\.sasl\.mechanism/)
    throwsCode(() => parseConfig({ clusters: { prod: { log: 'kafka://b1:9092', kafka: { sasl: { mechanism: 'PLAIN', password: { vault: 'x' } } } } } }), 'TRIB_MONITOR_CONFIG', /clusters\.prod\.kafka\.sasl\.password/)
  })

  it('maps platformatic TLS and SASL failures to TRIB_LOG_TLS / TRIB_LOG_AUTH_FAILED naming the broker, and leaves other errors alone', () => {
    const connectionFailed = (cause: Error): Error => Object.assign(new Error('Connection to 10.0.0.7:9094 failed.'), { code: 'PLT_KFK_NETWORK', cause })
    const tlsCause = (code: string, message: string): Error => Object.assign(new Error(message), { code })
    const untrusted = kafkaSecurityError(connectionFailed(tlsCause('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate')), { op: 'connect' })
    assert.ok(isTributaryError(untrusted, 'TRIB_LOG_TLS'))
    assert.match(untrusted.message, /10\.0\.0\.7:9094 .*not trusted.*tls\.ca/)
    assert.equal(untrusted.retriable, false)
    const expired = kafkaSecurityError(connectionFailed(tlsCause('CERT_HAS_EXPIRED', 'certificate has expired')), { op: 'connect' })
    assert.match(expired?.message ?? '', /10\.0\.0\.7:9094 failed: certificate has expired/)
    const auth = kafkaSecurityError(connectionFailed(Object.assign(new Error('SASL authentication failed.'), { code: 'PLT_KFK_AUTHENTICATION' })), {
      op: 'connect',
      security: resolveSecurity({ sasl: { mechanism: 'PLAIN', username: 'bob', password: 'pw-value' } }),
    })
    assert.ok(isTributaryError(auth, 'TRIB_LOG_AUTH_FAILED'))
    assert.match(auth.message, /SASL authentication with Kafka broker 10\.0\.0\.7:9094 failed \(mechanism PLAIN, user bob\)/)
    assert.ok(!auth.message.includes('pw-value'))
    assert.equal(kafkaSecurityError(connectionFailed(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), { op: 'connect' }), undefined)
  })
})
