/**
 * The `file` destination: appends one record per line, by default as OpenCDC JSON exactly as
 * Conduit's file destination writes it, and makes every batch durable before acknowledging it.
 *
 * A batch is one `write` of all its lines and one `fdatasync`; only then are its records acked. A
 * failed write is cut back to the file's previous length, so no partial line stays behind. On
 * open, a file that does not end in `\n` has a torn tail from a crash in the middle of a write:
 * everything after the last `\n` is cut off (a warning names the file, the offset and the number of
 * bytes). Those bytes belong to a batch that was never acknowledged, so its records come again.
 * Conduit's destination neither syncs nor repairs: after a crash its file may end in half a line,
 * and records it acknowledged may be lost with the page cache.
 *
 * @example
 * ```ts
 * const dest = new FileDestination(fileSettings.parse({ path: './out.jsonl' }), ctx)
 * await dest.open(signal)
 * const acks = await dest.write(records, signal) // durable on disk now
 * ```
 * @module
 */
import { open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { TributaryError } from '../../../core/errors.ts'
import type { ConnectorContext, Destination, DestinationAck } from '../../connector.ts'
import { JsonLinesEncoder, type PipelineRecord } from '../../record.ts'
import type { FileSettings } from './settings.ts'

const NEWLINE = 0x0a
const TAIL_SCAN = 64 * 1024

/** The file destination. */
export class FileDestination implements Destination {
  readonly #settings: FileSettings
  readonly #ctx: ConnectorContext
  #file: FileHandle | null = null
  /** Length of the file up to the last acknowledged line. */
  #size = 0
  /** Encodes OpenCDC JSON batches into a reused buffer (writes never overlap, so one is enough). */
  readonly #lines = new JsonLinesEncoder()
  /** The write in progress, if any. */
  #writing: Promise<void> = Promise.resolve()

  constructor(settings: FileSettings, ctx: ConnectorContext) {
    this.#settings = settings
    this.#ctx = ctx
  }

  async open(_signal: AbortSignal): Promise<void> {
    const file = this.#settings.path
    let created = false
    try {
      this.#file = await open(file, 'r+')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw this.#openError(err)
      try {
        this.#file = await open(file, 'wx+')
        created = true
      } catch (err2) {
        throw this.#openError(err2)
      }
    }
    this.#size = (await this.#file.stat()).size
    if (created) await syncDir(path.dirname(path.resolve(file)))
    else await this.#repairTornTail()
  }

  #openError(err: unknown): TributaryError {
    return new TributaryError('TRIB_CONNECTOR_SETTINGS', `file destination: "path" ${this.#settings.path} cannot be opened for writing: ${(err as Error).message}`, { cause: err })
  }

  /** Cuts off bytes after the last newline (a torn write from a crash). */
  async #repairTornTail(): Promise<void> {
    const file = this.#file!
    const size = this.#size
    if (size === 0) return
    const last = Buffer.alloc(1)
    await file.read(last, 0, 1, size - 1)
    if (last[0] === NEWLINE) return
    let keep = 0
    const buf = Buffer.allocUnsafe(TAIL_SCAN)
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - TAIL_SCAN)
      const { bytesRead } = await file.read(buf, 0, end - start, start)
      const nl = buf.subarray(0, bytesRead).lastIndexOf(NEWLINE)
      if (nl !== -1) {
        keep = start + nl + 1
        break
      }
      end = start
    }
    await file.truncate(keep)
    await file.datasync()
    this.#size = keep
    this.#ctx.logger.warn({ file: this.#settings.path, offset: keep, droppedBytes: size - keep }, `file destination: cut a torn last line (${size - keep} bytes after byte offset ${keep}) left by an interrupted write`)
  }

  write(records: readonly PipelineRecord[], _signal: AbortSignal): Promise<DestinationAck[]> {
    // Batches are written one after the other, even if a caller does not wait for the previous one.
    const result = this.#writing.then(() => this.#write(records))
    this.#writing = result.then(
      () => undefined,
      () => undefined,
    )
    return result
  }

  async #write(records: readonly PipelineRecord[]): Promise<DestinationAck[]> {
    const file = this.#file
    if (file === null) throw new TributaryError('TRIB_CLOSED', `file destination ${this.#settings.path} is not open`)
    if (records.length === 0) return []
    const bytes = this.#encode(records)
    const before = this.#size
    try {
      let written = 0
      while (written < bytes.length) {
        const { bytesWritten } = await file.write(bytes, written, bytes.length - written, before + written)
        written += bytesWritten
      }
      await file.datasync()
    } catch (err) {
      await file.truncate(before).catch(() => undefined)
      throw new TributaryError('TRIB_CONNECTOR_IO', `file destination ${this.#settings.path}: writing ${records.length} records at byte offset ${before} failed: ${(err as Error).message}`, {
        cause: err,
        retriable: true,
        details: { file: this.#settings.path, offset: before },
      })
    }
    this.#size = before + bytes.length
    const acks: DestinationAck[] = new Array(records.length)
    for (let i = 0; i < records.length; i++) acks[i] = { position: records[i].position }
    return acks
  }

  #encode(records: readonly PipelineRecord[]): Buffer {
    const format = this.#settings.format
    if (format.name === 'opencdc/json') return this.#lines.encode(records)
    const parts: Buffer[] = []
    const newline = Buffer.from('\n')
    for (const record of records) {
      const bytes = format.encode(record)
      if (bytes !== null) parts.push(bytes)
      parts.push(newline)
    }
    return Buffer.concat(parts)
  }

  async teardown(): Promise<void> {
    await this.#writing
    const file = this.#file
    this.#file = null
    await file?.close()
  }
}

/** Makes a new file's directory entry durable. */
async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch {
    // Some platforms cannot sync a directory; the data itself is still synced per batch.
  } finally {
    await handle?.close()
  }
}
