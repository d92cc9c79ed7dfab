/**
 * Helpers for the monitor tests: random names, a config with small windows, a log capture, and
 * waiting for what the monitor reports.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { createLogger, type Logger } from '../../src/core/index.ts'
import { parseConfig, type Monitor, type MonitorConfig } from '../../src/monitor/index.ts'

export const uid = (): string => randomUUID().slice(0, 8)

/** The Kafka broker the tests use. */
export const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'

/** A config with windows small enough for tests (seconds, as in the YAML). */
export function testConfig(clusters: { [name: string]: unknown }, overrides: { [section: string]: unknown } = {}): MonitorConfig {
  return parseConfig({
    clusters,
    storage: { intervals: 4, 'expire-group': 3600 },
    evaluator: { 'expire-cache': 0 },
    httpserver: { address: '127.0.0.1:0' },
    ...overrides,
  })
}

/** A logger whose JSON lines are kept in `lines`. */
export function captureLogger(level = 'warn'): { logger: Logger; lines: { [k: string]: unknown }[] } {
  const lines: { [k: string]: unknown }[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as { [k: string]: unknown })
      done()
    },
  })
  return { logger: createLogger({ level }, stream), lines }
}

/** Polls `probe` until it returns a value that is not undefined; fails after `timeoutMs` with `label`. */
export async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, label: string, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${label}${last ? ` (last error: ${(last as Error).message})` : ''}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** GETs an API path through fastify's inject and returns status code and JSON. */
export async function api(monitor: Monitor, url: string, method: 'GET' | 'DELETE' = 'GET'): Promise<{ code: number; body: any }> {
  const res = await monitor.api().inject({ method, url })
  return { code: res.statusCode, body: res.headers['content-type']?.toString().startsWith('application/json') ? res.json() : res.body }
}

/** Waits until the monitor reports `offsets` as the topic's high watermarks. */
export async function waitForHwm(monitor: Monitor, cluster: string, topic: string, offsets: number[]): Promise<void> {
  await eventually(async () => {
    const { code, body } = await api(monitor, `/v3/kafka/${cluster}/topic/${topic}`)
    return code === 200 && JSON.stringify(body.offsets) === JSON.stringify(offsets) ? true : undefined
  }, `high watermarks ${offsets} of ${topic}`)
}

/** Waits until the monitor stored `count` commits (at least) for the group's partition, the last one at `offset`. */
export async function waitForCommit(monitor: Monitor, cluster: string, group: string, topic: string, partition: number, offset: number, count: number): Promise<void> {
  await eventually(async () => {
    const { code, body } = await api(monitor, `/v3/kafka/${cluster}/consumer/${group}`)
    if (code !== 200) return undefined
    const stored = (body.topics[topic]?.[partition]?.offsets ?? []).filter((o: unknown) => o !== null)
    return stored.length >= Math.min(count, monitor.config.storage.intervals) && stored[stored.length - 1].offset === offset ? true : undefined
  }, `commit ${offset} (#${count}) of ${group} on ${topic}/${partition}`)
}

/** The group's status through the API (`/lag`: all partitions). */
export async function groupStatus(monitor: Monitor, cluster: string, group: string): Promise<{ code: number; body: any }> {
  return api(monitor, `/v3/kafka/${cluster}/consumer/${group}/lag`)
}
