/**
 * Where the runtime keeps each source's last acknowledged position, so that a restarted pipeline
 * hands it to the source as `ConnectorContext.lastPosition`.
 *
 * One file per source connector in the state directory, replaced atomically: written to a temporary
 * file, fsynced, renamed over the old one, and the directory fsynced. Saves are coalesced: while one
 * write is on disk, later positions only replace the pending one, so a fast pipeline costs one
 * write at a time, never one per batch queued up. `flush()` waits until the latest is on disk.
 *
 * @example
 * ```ts
 * const store = new PositionStore('.tributary/pipelines')
 * const last = store.load('orders:src')   // Buffer | null
 * store.save('orders:src', position)
 * await store.flush()
 * ```
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import { TributaryError } from '../core/errors.ts'

/** Durable last positions of sources. */
export class PositionStore {
  readonly dir: string
  readonly #pending = new Map<string, Buffer>()
  #writing: Promise<void> | undefined
  #error: unknown

  constructor(dir: string) {
    this.dir = dir
  }

  #file(connectorId: string): string {
    return path.join(this.dir, `${encodeURIComponent(connectorId)}.position`)
  }

  /** The stored position of `connectorId`, or null when there is none. */
  load(connectorId: string): Buffer | null {
    try {
      return fs.readFileSync(this.#file(connectorId))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `cannot read the stored position of ${connectorId} in ${this.dir}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** Stores `position` for `connectorId` (in the background; see {@link flush}). */
  save(connectorId: string, position: Buffer): void {
    this.#pending.set(connectorId, position)
    this.#writing ??= this.#drain()
  }

  /** Resolves once every saved position is on disk; rejects with the first write error. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing
    if (this.#error) {
      const err = this.#error
      this.#error = undefined
      throw err
    }
  }

  /** Forgets the stored position of `connectorId`. */
  clear(connectorId: string): void {
    fs.rmSync(this.#file(connectorId), { force: true })
  }

  async #drain(): Promise<void> {
    await Promise.resolve()
    try {
      while (this.#pending.size > 0) {
        const [id, position] = this.#pending.entries().next().value as [string, Buffer]
        this.#pending.delete(id)
        await this.#write(id, position)
      }
    } catch (err) {
      this.#error = err
    } finally {
      this.#writing = undefined
    }
  }

  async #write(connectorId: string, position: Buffer): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true })
    const file = this.#file(connectorId)
    const tmp = `${file}.tmp`
    const handle = await fs.promises.open(tmp, 'w')
    try {
      await handle.writeFile(position)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.promises.rename(tmp, file)
    const dir = await fs.promises.open(this.dir, 'r')
    try {
      await dir.sync()
    } finally {
      await dir.close()
    }
  }
}
