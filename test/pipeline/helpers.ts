/**
 * In-test connectors and processors for the pipeline runtime tests: a source over an array (records
 * its acks), a destination that keeps what it writes (and can fail or nack on demand), and helpers.
 */
import { z } from 'zod'
import type { Destination, DestinationAck, Source, ConnectorPlugin } from '../../src/pipeline/connector.ts'
import { createRecord, type PipelineRecord } from '../../src/pipeline/record.ts'
import type { PipelineProcessor, ProcessedRecord, ProcessorPlugin } from '../../src/pipeline/processor.ts'
import { errorRecord } from '../../src/pipeline/processor.ts'

/** Record `i` with position `p<i>` and `after = { n: i }`. */
export function rec(i: number): PipelineRecord {
  return createRecord({ position: Buffer.from(`p${i}`), key: `k${i}`, after: { n: i } })
}

/** The `n` field of a record's structured payload. */
export function n(r: PipelineRecord): number {
  return (r.payload.after as { n: number }).n
}

/** The positions as strings. */
export const pos = (ps: readonly Buffer[]): string[] => ps.map((p) => p.toString())

/** A source that hands out `records` in batches of `batchSize`, then waits for the abort. */
export class ArraySource implements Source {
  readonly acks: Buffer[][] = []
  opened = 0
  tornDown = 0
  #records: PipelineRecord[]
  #next = 0
  readonly #batchSize: number
  readonly #waiters = new Set<() => void>()

  constructor(records: PipelineRecord[], batchSize = 100, startAfter?: Buffer | null) {
    this.#records = records
    this.#batchSize = batchSize
    if (startAfter) this.#next = records.findIndex((r) => r.position.equals(startAfter)) + 1
  }

  get ackedPositions(): string[] {
    return this.acks.flat().map((p) => p.toString())
  }

  push(...records: PipelineRecord[]): void {
    this.#records.push(...records)
    for (const w of this.#waiters) w()
  }

  async open(): Promise<void> {
    this.opened++
  }

  read(signal: AbortSignal): Promise<PipelineRecord[]> {
    return new Promise((resolve) => {
      const attempt = (): boolean => {
        if (signal.aborted) {
          resolve([])
          return true
        }
        if (this.#next < this.#records.length) {
          const out = this.#records.slice(this.#next, this.#next + this.#batchSize).map((r) => ({ ...r, payload: { ...r.payload } }))
          this.#next += out.length
          resolve(out)
          return true
        }
        return false
      }
      if (attempt()) return
      const waiter = (): void => {
        if (attempt()) {
          this.#waiters.delete(waiter)
          signal.removeEventListener('abort', waiter)
        }
      }
      this.#waiters.add(waiter)
      signal.addEventListener('abort', waiter, { once: true })
    })
  }

  async ack(positions: readonly Buffer[]): Promise<void> {
    this.acks.push([...positions])
  }

  async teardown(): Promise<void> {
    this.tornDown++
  }
}

/** Options of {@link MemoryDestination}. */
export interface MemoryDestinationOptions {
  /** Nack (ack with an error) records for which this returns an error message. */
  nack?: (r: PipelineRecord) => string | undefined
  /** Throw from write while this returns true. */
  down?: () => boolean
  /** Answer only this many acks per write (the rest should be retried). */
  maxAcks?: number
  /** Answer acks with these positions instead. */
  badAcks?: boolean
}

/** A destination that keeps what it writes. */
export class MemoryDestination implements Destination {
  readonly written: PipelineRecord[] = []
  readonly writes: number[] = []
  failures = 0
  tornDown = 0
  readonly #options: MemoryDestinationOptions

  constructor(options: MemoryDestinationOptions = {}) {
    this.#options = options
  }

  async open(): Promise<void> {}

  async write(records: readonly PipelineRecord[]): Promise<DestinationAck[]> {
    if (this.#options.down?.()) {
      this.failures++
      throw new Error('destination is down')
    }
    this.writes.push(records.length)
    const acks: DestinationAck[] = []
    for (const r of records.slice(0, this.#options.maxAcks ?? records.length)) {
      const error = this.#options.nack?.(r)
      if (error) acks.push({ position: r.position, error: new Error(error) })
      else {
        this.written.push(r)
        acks.push({ position: this.#options.badAcks ? Buffer.from('nope') : r.position })
      }
    }
    return acks
  }

  async teardown(): Promise<void> {
    this.tornDown++
  }
}

/** A processor from a per-batch function. */
export function processorOf(fn: (records: readonly PipelineRecord[]) => ProcessedRecord[] | Promise<ProcessedRecord[]>): PipelineProcessor {
  return { process: fn }
}

/** A processor that nacks records whose `n` is in `bad`. */
export function nackSome(bad: ReadonlySet<number>): PipelineProcessor {
  return processorOf((rs) => rs.map((r) => (bad.has(n(r)) ? errorRecord(new Error(`bad record ${n(r)}`)) : r)))
}

/** Resolves when `check()` is true, polling every 5 ms; rejects after `ms`. */
export async function waitFor(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Shared registry of in-test sources/destinations for plugin-level tests, by name. */
export const testStores = new Map<string, { source?: ArraySource; destination?: MemoryDestination; records?: PipelineRecord[] }>()

/** A connector plugin `test-array` (source over `testStores.get(settings.store).records`) and `test-memory` (destination). */
export const testArrayPlugin: ConnectorPlugin<{ store: string; count?: number; batch?: number }> = {
  name: 'test-array',
  summary: 'in-test source',
  settings: z.object({ store: z.string(), count: z.coerce.number().int().optional(), batch: z.coerce.number().int().optional() }),
  source: (s, ctx) => {
    const entry = testStores.get(s.store) ?? {}
    const records = entry.records ?? Array.from({ length: s.count ?? 10 }, (_, i) => rec(i))
    entry.records = records
    const source = new ArraySource(records, s.batch ?? 100, ctx.lastPosition)
    entry.source = source
    testStores.set(s.store, entry)
    return source
  },
}

export const testMemoryPlugin: ConnectorPlugin<{ store: string; nack?: string; down?: string }> = {
  name: 'test-memory',
  summary: 'in-test destination',
  settings: z.object({ store: z.string(), nack: z.string().optional(), down: z.string().optional() }),
  destination: (s) => {
    const bad = new Set((s.nack ?? '').split(',').filter(Boolean).map(Number))
    const destination = new MemoryDestination({ nack: (r) => (bad.has(n(r)) ? `refused ${n(r)}` : undefined), down: () => testStores.get(`${s.store}:down`) !== undefined })
    const entry = testStores.get(s.store) ?? {}
    entry.destination = destination
    testStores.set(s.store, entry)
    return destination
  },
}

export const testNackPlugin: ProcessorPlugin<{ bad: string }> = {
  name: 'test.nack',
  summary: 'nacks listed records',
  settings: z.object({ bad: z.string() }),
  create: (s) => nackSome(new Set(s.bad.split(',').map(Number))),
}
