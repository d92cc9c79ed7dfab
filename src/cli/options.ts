/**
 * Option parsing helpers shared by CLI commands: integers, `host:port` addresses and `k=v` lists with
 * errors that name the option, and the `--log` option every command takes.
 * @module
 */
import { InvalidArgumentError, Option } from 'commander'

/** The default log: the embedded file log in ./.tributary. */
export const DEFAULT_LOG = 'file:./.tributary'

/** `--log <url>`, defaulting to `TRIBUTARY_LOG` or the embedded file log. */
export function logOption(): Option {
  return new Option('--log <url>', 'the log: memory:, file:<dir>, kafka://host:port[,host:port] or kafka+ssl://host:port[?ca=…&sasl=…&username=…&password-env=NAME] (see docs/log.md)')
    .env('TRIBUTARY_LOG')
    .default(DEFAULT_LOG)
}

/** Parses a positive integer option value. */
export function positiveInt(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`)
  return n
}

/** Parses a TCP port (0 picks a free one). */
export function port(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError(`expected a port number 0-65535, got ${JSON.stringify(value)}`)
  return n
}

/** Parses a non-negative integer option value. */
export function nonNegativeInt(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got ${JSON.stringify(value)}`)
  return n
}

/** Parses a `host:port` option value (`--address`). */
export function hostPort(value: string): string {
  if (!/^[^\s:]+:\d{1,5}$/.test(value)) throw new InvalidArgumentError(`expected host:port, got ${JSON.stringify(value)}`)
  return value
}

/**
 * Splits a `host:port` parsed by {@link hostPort}; without one, 127.0.0.1:8000.
 *
 * @example
 * splitAddress('0.0.0.0:9000') // { host: '0.0.0.0', port: 9000 }
 */
export function splitAddress(value: string | undefined): { host: string; port: number } {
  if (!value) return { host: '127.0.0.1', port: 8000 }
  const at = value.lastIndexOf(':')
  return { host: value.slice(0, at), port: Number(value.slice(at + 1)) }
}

/** Collects repeated `key=value` options into an object. */
export function keyValue(value: string, previous: { [k: string]: string } = {}): { [k: string]: string } {
  const at = value.indexOf('=')
  if (at <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(value)}`)
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) }
}

/** Where `npm start` (the demo) serves by default. */
export const DEMO_PORT = 8000
