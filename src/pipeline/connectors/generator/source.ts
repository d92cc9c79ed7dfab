/**
 * The `generator` source: made-up records in batches, as Conduit's generator makes them one by one.
 *
 * Record `n` (counting from 1) has position `"n"` (decimal text, as Conduit's generator), a random
 * operation of its collection's `operations`, metadata `opencdc.createdAt`, `opencdc.readAt` and,
 * for a named collection, `opencdc.collection`, a random word as raw key, and a payload by
 * operation (create/snapshot: after; update: before and after; delete: before). With several
 * collections each record picks one at random.
 *
 * Unlike Conduit's generator (which starts from 1 after every restart), it resumes: after a restart
 * from `lastPosition` `"n"` the next record is `n + 1`, so `recordCount` counts across restarts.
 *
 * @example
 * ```ts
 * const source = new GeneratorSource(generatorSettings.parse({ 'format.type': 'structured', 'format.options.id': 'int', recordCount: '3' }), ctx)
 * await source.open(signal)
 * const batch = await source.read(signal) // 3 records, positions "1", "2", "3"
 * ```
 * @module
 */
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { TributaryError } from '../../../core/errors.ts'
import type { ConnectorContext, Source } from '../../connector.ts'
import { unixNanos, type Data, type PipelineRecord, type StructuredData } from '../../record.ts'
import { goTime } from '../../go-format.ts'
import type { CollectionSpec, GeneratorSettings } from './settings.ts'
import { WORDS, WORD_BYTES } from './words.ts'

/** How much unused rate a slow reader may bank: this many milliseconds' worth (at least one record). */
const RATE_BANK_MS = 100

interface PreparedCollection {
  readonly spec: CollectionSpec
  readonly fileBytes: Buffer | null
}

/** Values that stay the same within one batch (times), computed once per read. */
interface BatchClock {
  readonly nanos: string
  readonly time: string
}

function fieldValue(type: string, clock: BatchClock): unknown {
  switch (type) {
    case 'int':
      // 31 bits: small integers cost no allocation and print fastest (Conduit's go up to 2^63).
      return (Math.random() * 0x7fffffff) | 0
    case 'string':
      return WORDS[Math.floor(Math.random() * WORDS.length)]
    case 'time':
      return clock.time
    case 'duration':
      return Math.floor(Math.random() * 1_000) * 1_000_000_000
    case 'bool':
      return Math.random() < 0.5
    default:
      return Math.random() * 1_000
  }
}

function structured(spec: CollectionSpec, clock: BatchClock): StructuredData {
  const data: StructuredData = {}
  for (const field of spec.fields) data[field.name] = fieldValue(field.type, clock)
  return data
}

function payload(collection: PreparedCollection, clock: BatchClock): Data {
  switch (collection.spec.formatType) {
    case 'structured':
      return structured(collection.spec, clock)
    case 'raw':
      return Buffer.from(JSON.stringify(structured(collection.spec, clock)))
    case 'file':
      return collection.fileBytes
  }
}

/** Parses a generator position (`"n"`), or throws `TRIB_CONNECTOR_POSITION`. */
export function parseGeneratorPosition(position: Buffer): number {
  const text = position.toString('latin1')
  if (!/^\d{1,15}$/.test(text)) {
    throw new TributaryError('TRIB_CONNECTOR_POSITION', `generator: stored position ${JSON.stringify(text)} is not a record number`, { details: { position: text } })
  }
  return Number(text)
}

/** The generator source. */
export class GeneratorSource implements Source {
  readonly #settings: GeneratorSettings
  readonly #ctx: ConnectorContext
  #collections: PreparedCollection[] = []
  /** The number of the next record. */
  #next = 1
  #tokens = 0
  #tokensAt = 0
  #burstUntil = 0

  constructor(settings: GeneratorSettings, ctx: ConnectorContext) {
    this.#settings = settings
    this.#ctx = ctx
  }

  /** The number the next generated record gets (1 on a first start). */
  get nextRecordNumber(): number {
    return this.#next
  }

  async open(_signal: AbortSignal): Promise<void> {
    if (this.#ctx.lastPosition !== null && this.#ctx.lastPosition.length > 0) this.#next = parseGeneratorPosition(this.#ctx.lastPosition) + 1
    this.#collections = []
    for (const spec of this.#settings.collections) {
      let fileBytes: Buffer | null = null
      if (spec.formatType === 'file') {
        const setting = spec.name === '' ? 'format.options.path' : `collections.${spec.name}.format.options.path`
        try {
          fileBytes = await readFile(spec.path!)
        } catch (err) {
          throw new TributaryError('TRIB_CONNECTOR_SETTINGS', `generator: "${setting}" names ${spec.path}, which cannot be read: ${(err as Error).message}`, { cause: err })
        }
      }
      this.#collections.push({ spec, fileBytes })
    }
    const now = Date.now()
    this.#tokens = 1
    this.#tokensAt = now
    this.#burstUntil = now + this.#settings.burstGenerateTime
    if (this.#settings.recordCount > 0 && this.#next > this.#settings.recordCount) {
      this.#ctx.logger.info({ connector: this.#ctx.connectorId, recordCount: this.#settings.recordCount }, 'generator: all records were generated before the restart')
    }
  }

  async read(signal: AbortSignal): Promise<PipelineRecord[]> {
    const { recordCount, batchSize } = this.#settings
    if (recordCount > 0 && this.#next > recordCount) {
      await waitForAbort(signal)
      return []
    }
    let n = recordCount > 0 ? Math.min(batchSize, recordCount - this.#next + 1) : batchSize
    if (this.#settings.burstSleepTime > 0 && !(await this.#waitForBurst(signal))) return []
    if (this.#settings.rate > 0) {
      const allowed = await this.#takeTokens(n, signal)
      if (allowed === 0) return []
      n = allowed
    } else {
      // Unlimited rate: give the event loop one turn first. The runtime asks for the next batch
      // just before it writes the current one, so this batch is made while that write and its
      // sync run (instead of before they start).
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (signal.aborted) return []
    }
    return this.#generate(n)
  }

  /** Generates `n` records now (used by `read`; exposed for benchmarks of the generation itself). */
  generate(n: number): PipelineRecord[] {
    return this.#generate(n)
  }

  #generate(n: number): PipelineRecord[] {
    const now = Date.now()
    const nanos = unixNanos(now)
    const clock: BatchClock = { nanos, time: goTime(new Date(now)) }
    const collections = this.#collections
    const sourceId = this.#ctx.connectorId
    const records: PipelineRecord[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const collection = collections.length === 1 ? collections[0] : collections[Math.floor(Math.random() * collections.length)]
      const spec = collection.spec
      const operation = spec.operations.length === 1 ? spec.operations[0] : spec.operations[Math.floor(Math.random() * spec.operations.length)]
      let before: Data = null
      let after: Data = null
      if (operation === 'create' || operation === 'snapshot') after = payload(collection, clock)
      else if (operation === 'update') {
        before = payload(collection, clock)
        after = payload(collection, clock)
      } else before = payload(collection, clock)
      // Keys in sorted order, so the OpenCDC JSON writer needs no sorting; the source connector id
      // is the runtime's (it sets it anyway), placed here where it sorts.
      const metadata: { [key: string]: string } =
        spec.name === ''
          ? { 'conduit.source.connector.id': sourceId, 'opencdc.createdAt': nanos, 'opencdc.readAt': nanos }
          : { 'conduit.source.connector.id': sourceId, 'opencdc.collection': spec.name, 'opencdc.createdAt': nanos, 'opencdc.readAt': nanos }
      records[i] = {
        position: Buffer.from(String(this.#next++), 'latin1'),
        operation,
        metadata,
        key: WORD_BYTES[Math.floor(Math.random() * WORD_BYTES.length)],
        payload: { before, after },
      }
    }
    return records
  }

  /** Waits until the rate allows at least one record; returns how many (at most `want`), 0 if aborted. */
  async #takeTokens(want: number, signal: AbortSignal): Promise<number> {
    const rate = this.#settings.rate
    const cap = Math.max(1, (rate * RATE_BANK_MS) / 1_000)
    for (;;) {
      const now = Date.now()
      this.#tokens = Math.min(cap, this.#tokens + ((now - this.#tokensAt) * rate) / 1_000)
      this.#tokensAt = now
      if (this.#tokens >= 1) {
        const n = Math.min(want, Math.floor(this.#tokens))
        this.#tokens -= n
        return n
      }
      const waitMs = Math.max(1, Math.ceil(((1 - this.#tokens) * 1_000) / rate))
      if (!(await pause(waitMs, signal))) return 0
    }
  }

  /** Sleeps through the pause between bursts (Conduit's schedule); false if aborted. */
  async #waitForBurst(signal: AbortSignal): Promise<boolean> {
    const { burstSleepTime, burstGenerateTime } = this.#settings
    const now = Date.now()
    if (now < this.#burstUntil) return true
    while (this.#burstUntil <= now) this.#burstUntil += burstSleepTime + burstGenerateTime
    const wakeAt = this.#burstUntil - burstGenerateTime
    if (wakeAt <= now) return true
    return pause(wakeAt - now, signal)
  }

  async ack(_positions: readonly Buffer[]): Promise<void> {
    // Nothing to do: the runtime stores the last acked position, which is all a restart needs.
  }

  async teardown(): Promise<void> {
    this.#collections = []
  }
}

/** Sleeps `ms`; false when `signal` aborted first. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false
  try {
    await sleep(ms, undefined, { signal })
    return true
  } catch {
    return false
  }
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}
