/**
 * Helpers of the processor tests: random names, event-driven waiting, a capturing logger and a Log
 * wrapper that injects faults.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { createLogger, isTributaryError, type ErrorCode, type Logger } from '../../src/core/index.ts'
import type { GroupConsumer, Log, LogProducer, LogReader, PollOptions } from '../../src/log/index.ts'

export const uid = (): string => randomUUID().slice(0, 8)

/** Resolves when `check()` holds, re-checking whenever `subscribe`'s callback fires; fails after `timeoutMs`. */
export function when(subscribe: (notify: () => void) => () => void, check: () => boolean, timeoutMs = 20_000, label = 'condition'): Promise<void> {
  return new Promise((resolve, reject) => {
    let unsubscribe = (): void => {}
    const timer = setTimeout(() => {
      unsubscribe()
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}`))
    }, timeoutMs)
    const notify = (): void => {
      let ok = false
      try {
        ok = check()
      } catch {
        ok = false
      }
      if (ok) {
        clearTimeout(timer)
        unsubscribe()
        resolve()
      }
    }
    unsubscribe = subscribe(notify)
    notify()
  })
}

/** An event hub tests pass into `onCommit`/`onUpdate` callbacks and wait on with {@link when}. */
export class Events {
  readonly #listeners = new Set<() => void>()
  emit = (): void => {
    for (const l of [...this.#listeners]) l()
  }
  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
  until(check: () => boolean, timeoutMs?: number, label?: string): Promise<void> {
    return when(this.subscribe, check, timeoutMs, label)
  }
}

/** A logger whose JSON lines land in `lines`. */
export function capturingLogger(level = 'warn'): { logger: Logger; lines: { [k: string]: unknown }[] } {
  const lines: { [k: string]: unknown }[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      cb()
    },
  })
  return { logger: createLogger({ level }, stream), lines }
}

/** Asserts that `promise` rejects with a TributaryError of `code` whose message matches each pattern. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, ...mentions: RegExp[]): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(isTributaryError(err, code), `expected ${code}, got ${String(err)} (${(err as { code?: string }).code})`)
    for (const m of mentions) assert.match(err.message, m)
    return true
  })
}

/** Wraps a log so that the next `n` producer sends, or consumer or reader polls, reject with `error`. */
export function faultyLog(log: Log): { log: Log; failSends(n: number, error: () => Error): void; failPolls(n: number, error: () => Error): void } {
  let failures = 0
  let make: () => Error = () => new Error('injected')
  let pollFailures = 0
  let makePollError: () => Error = () => new Error('injected')
  const wrapConsumer = <C extends GroupConsumer | LogReader>(consumer: C): C =>
    new Proxy(consumer, {
      get(target, prop, receiver) {
        if (prop === 'poll') {
          return (options?: PollOptions) => {
            if (pollFailures > 0) {
              pollFailures--
              return Promise.reject(makePollError())
            }
            return target.poll(options)
          }
        }
        const value = Reflect.get(target, prop, receiver)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  const wrap = (producer: LogProducer): LogProducer => ({
    send: (records) => {
      if (failures > 0) {
        failures--
        return Promise.reject(make())
      }
      return producer.send(records)
    },
    flush: () => producer.flush(),
    close: () => producer.close(),
  })
  const wrapped: Log = {
    backend: log.backend,
    admin: log.admin,
    offsets: log.offsets,
    producer: (options) => wrap(log.producer(options)),
    consumer: (options) => wrapConsumer(log.consumer(options)),
    reader: (options) => wrapConsumer(log.reader(options)),
    close: () => log.close(),
  }
  return {
    log: wrapped,
    failSends(n, error) {
      failures = n
      make = error
    },
    failPolls(n, error) {
      pollFailures = n
      makePollError = error
    },
  }
}

/** Total committed offsets of a group on a topic minus the end: 0 when everything was committed. */
export async function lagOf(log: Log, group: string, topic: string): Promise<number> {
  return (await log.offsets.lag(group, topic)).reduce((sum, p) => sum + p.lag, 0)
}

/** Tracks a processor's commits (pass `tracker.onCommit` as the option) and waits for them to reach the end of topics. */
export class CommitTracker {
  readonly events = new Events()
  readonly committed = new Map<string, number>()
  onCommit = (offsets: readonly { topic: string; partition: number; offset: number }[]): void => {
    for (const o of offsets) this.committed.set(`${o.topic}/${o.partition}`, o.offset)
    this.events.emit()
  }
  /** Resolves once, for every partition of `topic`, the committed offset reached the current end (or trackers of several processors together). */
  async caughtUp(log: Log, topic: string, timeoutMs = 30_000, others: CommitTracker[] = []): Promise<void> {
    const ends = await log.offsets.endOffsets(topic)
    const all = [this, ...others]
    const check = (): boolean =>
      ends.every((end, p) => end === 0 || all.some((t) => (t.committed.get(`${topic}/${p}`) ?? -1) >= end))
    const unsubscribers: (() => void)[] = []
    await when(
      (notify) => {
        for (const t of all) unsubscribers.push(t.events.subscribe(notify))
        return () => unsubscribers.forEach((u) => u())
      },
      check,
      timeoutMs,
      `commits of ${topic} to reach ${JSON.stringify(ends)}`,
    )
  }
}
