/**
 * HTTP proxies in front of kinesalite and dynalite that answer some calls with an AWS error, as the
 * real services do: `ProvisionedThroughputExceededException` for reads over a shard's limits (which
 * kinesalite never sends) and `AccessDeniedException` for calls IAM does not allow.
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

/** Answers a call with an AWS JSON-protocol error (HTTP 400) of `type`, without reading its body further. */
function replyAwsError(req: http.IncomingMessage, res: http.ServerResponse, protocol: '1.0' | '1.1', type: string, errorType: string, message: string): void {
  req.resume()
  const body = JSON.stringify({ __type: type, message })
  res.writeHead(400, { 'content-type': `application/x-amz-json-${protocol}`, 'x-amzn-errortype': errorType, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/**
 * Starts a proxy to `target` on a free 127.0.0.1 port; a request for which `intercept` returns true
 * was answered by it, every other one is forwarded.
 */
async function startProxy(target: string, intercept: (req: http.IncomingMessage, res: http.ServerResponse) => boolean): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target)
  const server = http.createServer((req, res) => {
    if (intercept(req, res)) return
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

/** Starts a proxy to `target` that throttles each GetRecords call with probability `share`. */
export async function startThrottlingProxy(target: string, share = 0.5): Promise<ThrottlingProxy> {
  const counts = { throttled: 0, passed: 0 }
  const proxy = await startProxy(target, (req, res) => {
    const isGetRecords = String(req.headers['x-amz-target'] ?? '').endsWith('.GetRecords')
    if (isGetRecords && Math.random() < share) {
      counts.throttled++
      replyAwsError(req, res, '1.1', 'ProvisionedThroughputExceededException', 'ProvisionedThroughputExceededException', 'Rate exceeded for shard in stream (injected)')
      return true
    }
    if (isGetRecords) counts.passed++
    return false
  })
  return {
    url: proxy.url,
    get throttled() {
      return counts.throttled
    },
    get passed() {
      return counts.passed
    },
    close: proxy.close,
  }
}

/** A proxy to `target` that answers calls of `operation` (e.g. `DescribeTable`) with AccessDeniedException, as IAM does. */
export async function startDenyingProxy(target: string, operation: string, protocol: '1.0' | '1.1'): Promise<{ url: string; close(): Promise<void> }> {
  return startProxy(target, (req, res) => {
    if (!String(req.headers['x-amz-target'] ?? '').endsWith(`.${operation}`)) return false
    replyAwsError(req, res, protocol, 'com.amazon.coral.service#AccessDeniedException', 'AccessDeniedException', `User: arn:aws:iam::123456789012:user/app is not authorized to perform: ${operation}`)
    return true
  })
}
