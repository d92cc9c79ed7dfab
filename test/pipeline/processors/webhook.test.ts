import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, beforeEach, describe, it } from 'node:test'
import { isTributaryError } from '../../../src/core/errors.ts'
import { isSingleRecord } from '../../../src/pipeline/processor.ts'
import { make, plugin, processError, processOne, rec } from './helpers.ts'

interface Seen {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: string
}

/** A real HTTP server on 127.0.0.1: answers by path, and records every request it gets. */
const seen: Seen[] = []
let failuresLeft = 0
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8')
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/greet') return res.end(`hello, ${body}`)
    if (url.pathname.startsWith('/name/')) return res.end(`hello, ${decodeURIComponent(url.pathname.slice('/name/'.length))}!`)
    if (url.pathname === '/flaky') {
      if (failuresLeft > 0) {
        failuresLeft--
        res.statusCode = 503
        return res.end('try again')
      }
      return res.end('finally')
    }
    if (url.pathname === '/broken') {
      res.statusCode = 500
      return res.end('internal trouble')
    }
    if (url.pathname === '/missing') {
      res.statusCode = 404
      return res.end('not here')
    }
    if (url.pathname === '/echo') return res.end(JSON.stringify({ method: req.method, query: url.search, contentType: req.headers['content-type'], auth: req.headers.authorization ?? null }))
    res.statusCode = 400
    res.end('unknown path')
  })
})
let base = ''

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

after(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

beforeEach(() => {
  seen.length = 0
  failuresLeft = 0
})

const webhook = (settings: Record<string, unknown>) => make('webhook.http', settings, 'hook')

describe('webhook.http against a real HTTP server', () => {
  it('Conduit’s example: the payload as body, the response as payload, the status into metadata', async () => {
    const p = webhook({
      'request.url': `${base}/greet`,
      'request.method': 'GET',
      'request.body': '{{ printf "%s" .Payload.After }}',
      'headers.content-type': 'application/json',
      'response.body': '.Payload.After',
      'response.status': '.Metadata["http_status"]',
      'backoffRetry.count': '0',
      'backoffRetry.factor': '2',
      'backoffRetry.min': '100ms',
      'backoffRetry.max': '5s',
    })
    const out = await processOne(p, rec({ position: 'pos-1', operation: 'update', after: 'world' }))
    assert.deepEqual(out, { position: Buffer.from('pos-1'), operation: 'update', metadata: { http_status: '200' }, key: null, payload: { before: null, after: Buffer.from('hello, world') } })
    assert.equal(seen.length, 1)
    assert.equal(seen[0]?.method, 'GET')
    assert.equal(seen[0]?.body, 'world')
  })

  it('Conduit’s example: a URL template, the response kept in a nested field (as base64, as Conduit’s JSON shows it)', async () => {
    const out = await processOne(webhook({ 'request.url': `${base}/name/{{.Payload.After.name}}`, 'response.body': '.Payload.After.response' }), rec({ after: { name: 'foo' } }))
    assert.deepEqual(out.payload.after, { name: 'foo', response: 'aGVsbG8sIGZvbyE=' })
    assert.equal(Buffer.from('aGVsbG8sIGZvbyE=', 'base64').toString(), 'hello, foo!')
  })

  it('a 500 is retried with backoff until it succeeds', async () => {
    failuresLeft = 2
    const p = webhook({ 'request.url': `${base}/flaky`, 'backoffRetry.count': '3', 'backoffRetry.min': '10ms', 'backoffRetry.max': '50ms' })
    const out = await processOne(p, rec({ after: 'x' }))
    assert.deepEqual(out.payload.after, Buffer.from('finally'))
    assert.equal(seen.length, 3)
  })

  it('a 500 that persists is a nack after count+1 attempts, naming the status, the body and the processor', async () => {
    const p = webhook({ 'request.url': `${base}/broken`, 'backoffRetry.count': '2', 'backoffRetry.min': '5ms' })
    const err = await processError(p, rec({ position: 'p-500', after: 'x' }))
    assert.ok(isTributaryError(err, 'TRIB_PIPELINE_RECORD'))
    assert.match(err.message, /processor "hook" \(webhook.http\): record at position "p-500": error status code 500 from GET http:\/\/127\.0\.0\.1:\d+\/broken \(body: "internal trouble"\) \(after 3 attempts\)/)
    assert.equal(seen.length, 3)
  })

  it('without retries (the default) one failed request is the nack', async () => {
    const err = await processError(webhook({ 'request.url': `${base}/broken` }), rec({}))
    assert.match(err.message, /error status code 500/)
    assert.doesNotMatch(err.message, /attempts/)
    assert.equal(seen.length, 1)
  })

  it('a status below 500 is not an error: body and status are stored', async () => {
    const out = await processOne(webhook({ 'request.url': `${base}/missing`, 'response.body': '.Payload.After.body', 'response.status': '.Payload.After.status' }), rec({ after: { 'a key': 'random data' } }))
    assert.deepEqual(out.payload.after, { 'a key': 'random data', body: Buffer.from('not here').toString('base64'), status: '404' })
  })

  it('sends the method, headers (Content-Type defaults to application/json), a toJson body and a re-encoded query', async () => {
    const p = webhook({ 'request.url': `${base}/echo?z=1&a={{ .Metadata.q }}`, 'request.method': 'POST', 'request.body': '{{ toJson . }}', 'headers.Authorization': 'Bearer key' })
    const out = await processOne(p, rec({ position: 'p', metadata: { q: 'x y' }, after: { bar: 123, baz: null } }))
    assert.deepEqual(JSON.parse(String(out.payload.after)), { method: 'POST', query: '?a=x+y&z=1', contentType: 'application/json', auth: 'Bearer key' })
    assert.equal(seen[0]?.body, '{"position":"cA==","operation":"create","metadata":{"q":"x y"},"key":null,"payload":{"before":null,"after":{"bar":123,"baz":null}}}')
  })

  it('request.contentType still works, but not together with headers.Content-Type', async () => {
    const out = await processOne(webhook({ 'request.url': `${base}/echo`, 'request.contentType': 'text/plain' }), rec({}))
    assert.equal((JSON.parse(String(out.payload.after)) as { contentType: string }).contentType, 'text/plain')
    assert.throws(() => webhook({ 'request.url': `${base}/echo`, 'request.contentType': 'text/plain', 'headers.Content-Type': 'a/b' }), (err) => isTributaryError(err, 'TRIB_PIPELINE_CONFIG') && /cannot give both/.test(err.message))
  })

  it('a server that is not there is a nack naming the request', async () => {
    const closed = http.createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const err = await processError(webhook({ 'request.url': `http://127.0.0.1:${port}/x` }), rec({}))
    assert.match(err.message, /error executing HTTP request GET http:\/\/127\.0\.0\.1:\d+\/x: .*ECONNREFUSED/)
  })

  it('a templated URL that is not a URL is a nack', async () => {
    const err = await processError(webhook({ 'request.url': '{{ .Metadata.u }}' }), rec({ metadata: { u: 'not a url' } }))
    assert.match(err.message, /error parsing URL "not a url"/)
  })

  it('stopping while waiting to retry returns fewer outcomes (the rest are retried by the runtime)', async () => {
    const p = webhook({ 'request.url': `${base}/broken`, 'backoffRetry.count': '5', 'backoffRetry.min': '10s' })
    const ac = new AbortController()
    const pending = p.process([rec({ position: 'a' }), rec({ position: 'b' })], ac.signal)
    while (seen.length === 0) await new Promise((r) => setImmediate(r))
    ac.abort()
    const out = await pending
    assert.equal(out.length, 0)
  })

  it('settings are validated with Conduit’s defaults, naming the setting', () => {
    const s = plugin('webhook.http').settings
    const parsed = s.parse({ 'request.url': 'http://127.0.0.1:1/' }) as Record<string, unknown>
    assert.equal(parsed['request.method'], 'GET')
    assert.equal(parsed['response.body'], '.Payload.After')
    assert.equal(parsed['backoffRetry.count'], 0)
    assert.equal(parsed['backoffRetry.factor'], 2)
    assert.equal(parsed['backoffRetry.min'], 100)
    assert.equal(parsed['backoffRetry.max'], 5000)
    const bad = (settings: Record<string, unknown>, key: string) => {
      const r = s.safeParse(settings)
      assert.equal(r.success, false, JSON.stringify(settings))
      assert.deepEqual(r.error?.issues[0]?.path, [key])
    }
    bad({}, 'request.url')
    bad({ 'request.url': 'http://x/', 'backoffRetry.min': 'soon' }, 'backoffRetry.min')
    bad({ 'request.url': 'http://x/', 'backoffRetry.count': '-1' }, 'backoffRetry.count')
    bad({ 'request.url': 'http://x/', 'backoffRetry.factor': '0' }, 'backoffRetry.factor')
    bad({ 'request.url': 'http://x/', 'request.timeout': '1s' }, 'request.timeout')
    assert.throws(() => webhook({ 'request.url': 'http://x/', 'response.body': '.Payload.After', 'response.status': '.Payload.After' }), /response.body and response.status are set to the same field/)
    assert.throws(() => webhook({ 'request.url': 'ftp://x/' }), /setting "request.url": unsupported protocol scheme "ftp"/)
    assert.throws(() => webhook({ 'request.url': 'http://x/', 'request.method': 'GE T' }), /setting "request.method"/)
    assert.throws(() => webhook({ 'request.url': 'http://x/{{ nope }}' }), /setting "request.url": template/)
    assert.ok(isSingleRecord({ position: Buffer.alloc(0), operation: 'create', metadata: {}, key: null, payload: { before: null, after: null } }))
  })
})
