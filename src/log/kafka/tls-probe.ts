/**
 * Finds out why a TLS connection to a broker is dropped right after the handshake. With TLS 1.3 a
 * broker that refuses the client certificate (mTLS) sends its alert after the handshake completed,
 * and platformatic then reports only "Connection closed"; this probe opens one TLS connection with
 * the same options and returns the error the alert raises, so the user learns the real cause.
 *
 * @example
 * ```ts
 * const cause = await probeTls('127.0.0.1:9094', { ca }, 1_000)
 * if (cause) console.log((cause as NodeJS.ErrnoException).code) // ERR_SSL_SSL/TLS_ALERT_CERTIFICATE_REQUIRED
 * ```
 * @module
 */
import tls, { type ConnectionOptions } from 'node:tls'

/** Connects to `broker` with `options`, waits up to `waitMs` for an error; resolves with it, or `undefined`. */
export function probeTls(broker: string, options: ConnectionOptions, waitMs: number): Promise<Error | undefined> {
  const at = broker.lastIndexOf(':')
  const host = broker.slice(0, at)
  const port = Number(broker.slice(at + 1))
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined
    const socket = tls.connect({ ...options, host, port })
    const done = (err: Error | undefined): void => {
      clearTimeout(timer)
      socket.removeAllListeners()
      socket.on('error', () => {})
      socket.destroy()
      resolve(err)
    }
    socket.once('error', (err) => done(err))
    socket.once('close', () => done(undefined))
    timer = setTimeout(() => done(undefined), waitMs)
  })
}
