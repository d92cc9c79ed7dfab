/**
 * An HTTP proxy in front of kinesalite that answers some `GetRecords` calls with Kinesis's
 * `ProvisionedThroughputExceededException` (HTTP 400), as a shard over its read limits does.
 * kinesalite itself never throttles reads, so this is how tests get a server that does.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** A running proxy. */
export interface ThrottlingProxy {
  readonly url: string
  /** GetRecords calls answered with the throttling error so far. */
  readonly throttled: number
  /** GetRecords calls passed through so far. */
  readonly passed: number
  close(): Promise<void>
}

/** Starts a proxy to `target` that throttles each GetRecords call with probability `share`. */
export async function startThrottlingProxy(target: string, share = 0.5): Promise<ThrottlingProxy> {
  const upstream = new URL(target)
  const counts = { throttled: 0, passed: 0 }
  const server = http.createServer((req, res) => {
    const isGetRecords = String(req.headers['x-amz-target'] ?? '').endsWith('.GetRecords')
    if (isGetRecords && Math.random() < share) {
      counts.throttled++
      req.resume()
      const body = JSON.stringify({ __type: 'ProvisionedThroughputExceededException', message: 'Rate exceeded for shard in stream (injected)' })
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ProvisionedThroughputExceededException', 'content-length': Buffer.byteLength(body) })
      res.end(body)
      return
    }
    if (isGetRecords) counts.passed++
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get throttled() {
      return counts.throttled
    },
    get passed() {
      return counts.passed
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A proxy to `target` that answers calls of `operation` (e.g. `DescribeTable`) with AccessDeniedException, as IAM does. */
export async function startDenyingProxy(target: string, operation: string, protocol: '1.0' | '1.1'): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target)
  const server = http.createServer((req, res) => {
    if (String(req.headers['x-amz-target'] ?? '').endsWith(`.${operation}`)) {
      req.resume()
      const body = JSON.stringify({ __type: 'com.amazon.coral.service#AccessDeniedException', message: `User: arn:aws:iam::123456789012:user/app is not authorized to perform: ${operation}` })
      res.writeHead(400, { 'content-type': `application/x-amz-json-${protocol}`, 'x-amzn-errortype': 'AccessDeniedException', 'content-length': Buffer.byteLength(body) })
      res.end(body)
      return
    }
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
