/**
 * The `file` source: tails a text file, one record per line, as Conduit's file source does.
 *
 * A record has operation `create`, position = the byte offset just past its line's `\n` as decimal
 * text (Conduit's position: the offset the next line starts at), key = the line number from the
 * start of the file as raw text (`"1"`, `"2"`, ...), `payload.after` = the line without its `\n`
 * as raw bytes, and metadata `file.path` and `opencdc.readAt`.
 *
 * It reads whatever complete lines are there, then waits for more (a missing file is waited for,
 * as in Conduit). A last line without `\n` is not read until its `\n` arrives, so a line being
 * written is never cut in two. After a restart it continues at the stored position: every line
 * before it counted for the key, every line after it read — but the position must be inside the
 * file and just after a `\n`, else `TRIB_CONNECTOR_POSITION` names the file and offset. A file that
 * shrinks below what was read, is removed or replaced while tailed, or has a line longer than
 * `maxLineBytes` is `TRIB_CONNECTOR_IO`.
 *
 * @example
 * ```ts
 * const source = new FileSource(fileSettings.parse({ path: './in.txt' }), ctx)
 * await source.open(signal)
 * for (;;) for (const record of await source.read(signal)) console.log(record.payload.after)
 * ```
 * @module
 */
import { watch, type FSWatcher } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { TributaryError } from '../../../core/errors.ts'
import type { ConnectorContext, Source } from '../../connector.ts'
import { unixNanos, type PipelineRecord } from '../../record.ts'
import type { FileSettings } from './settings.ts'

/** Metadata key of the file a record was read from (Conduit's `file.path`). */
export const METADATA_FILE_PATH = 'file.path'

const CHUNK = 1 << 20
const NEWLINE = 0x0a

/** Parses a file position (decimal byte offset), or throws `TRIB_CONNECTOR_POSITION`. */
export function parseFilePosition(position: Buffer, path: string): number {
  const text = position.toString('latin1')
  if (!/^\d{1,15}$/.test(text)) {
    throw new TributaryError('TRIB_CONNECTOR_POSITION', `file ${path}: stored position ${JSON.stringify(text)} is not a byte offset`, { details: { file: path, position: text } })
  }
  return Number(text)
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT'
}

/** The file source. */
export class FileSource implements Source {
  readonly #settings: FileSettings
  readonly #ctx: ConnectorContext
  #file: FileHandle | null = null
  #watcher: FSWatcher | null = null
  #wake: (() => void) | null = null
  /** Offset just past the last line returned. */
  #offset = 0
  /** Lines before `#offset`. */
  #lines = 0
  /** Bytes read from `#offset` on, not yet returned (complete lines and a partial last line). */
  #pending: Buffer = Buffer.alloc(0)
  #closed = false

  constructor(settings: FileSettings, ctx: ConnectorContext) {
    this.#settings = settings
    this.#ctx = ctx
  }

  /** The byte offset the next line starts at. */
  get offset(): number {
    return this.#offset
  }

  async open(_signal: AbortSignal): Promise<void> {
    const path = this.#settings.path
    const last = this.#ctx.lastPosition
    this.#offset = last !== null && last.length > 0 ? parseFilePosition(last, path) : 0
    if (!(await this.#tryOpen())) {
      if (this.#offset > 0) {
        throw new TributaryError('TRIB_CONNECTOR_POSITION', `file ${path} does not exist, but the stored position is byte offset ${this.#offset}: the file was removed or renamed`, {
          details: { file: path, offset: this.#offset },
        })
      }
      this.#ctx.logger.info({ file: path }, 'file source: waiting for the file to appear')
      return
    }
    await this.#checkResumeOffset()
  }

  /** Opens the file if it exists; false when it does not (yet). */
  async #tryOpen(): Promise<boolean> {
    try {
      this.#file = await open(this.#settings.path, 'r')
    } catch (err) {
      if (isMissing(err)) return false
      throw new TributaryError('TRIB_CONNECTOR_SETTINGS', `file source: "path" ${this.#settings.path} cannot be opened: ${(err as Error).message}`, { cause: err })
    }
    try {
      this.#watcher = watch(this.#settings.path, { persistent: false }, () => this.#wake?.())
      this.#watcher.on('error', () => undefined)
    } catch {
      this.#watcher = null // polling alone still works
    }
    return true
  }

  /** Checks that the stored offset is a line start inside the file, and counts the lines before it. */
  async #checkResumeOffset(): Promise<void> {
    const path = this.#settings.path
    const file = this.#file!
    const offset = this.#offset
    if (offset === 0) return
    const { size } = await file.stat()
    if (offset > size) {
      throw new TributaryError('TRIB_CONNECTOR_POSITION', `file ${path} has ${size} bytes, fewer than the stored position (byte offset ${offset}): it was truncated or replaced`, {
        details: { file: path, offset, size },
      })
    }
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, offset))
    let lines = 0
    let lastByte = -1
    for (let at = 0; at < offset; ) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, offset - at), at)
      if (bytesRead === 0) break
      for (let i = buf.indexOf(NEWLINE, 0); i !== -1 && i < bytesRead; i = buf.indexOf(NEWLINE, i + 1)) lines++
      lastByte = buf[bytesRead - 1]
      at += bytesRead
    }
    if (lastByte !== NEWLINE) {
      throw new TributaryError('TRIB_CONNECTOR_POSITION', `file ${path}: the stored position (byte offset ${offset}) is not at the start of a line: the file was changed or replaced`, {
        details: { file: path, offset },
      })
    }
    this.#lines = lines
  }

  async read(signal: AbortSignal): Promise<PipelineRecord[]> {
    for (;;) {
      if (signal.aborted || this.#closed) return []
      if (this.#file === null && !(await this.#tryOpen())) {
        await this.#waitForChange(signal)
        continue
      }
      const records = this.#takeLines()
      if (records.length > 0) return records
      const grew = await this.#readMore()
      if (grew) continue
      await this.#waitForChange(signal)
    }
  }

  /** Turns complete lines of `#pending` into records (up to the batch size). */
  #takeLines(): PipelineRecord[] {
    const pending = this.#pending
    const max = this.#settings.batchSize
    const records: PipelineRecord[] = []
    if (pending.length === 0) return records
    const path = this.#settings.path
    const readAt = unixNanos()
    let start = 0
    let offset = this.#offset
    let lines = this.#lines
    for (let nl = pending.indexOf(NEWLINE, 0); nl !== -1 && records.length < max; nl = pending.indexOf(NEWLINE, start)) {
      offset += nl - start + 1
      lines++
      records.push({
        position: Buffer.from(String(offset), 'latin1'),
        operation: 'create',
        metadata: { [METADATA_FILE_PATH]: path, 'opencdc.readAt': readAt },
        key: Buffer.from(String(lines), 'latin1'),
        payload: { before: null, after: pending.subarray(start, nl) },
      })
      start = nl + 1
    }
    if (start > 0) {
      this.#pending = pending.subarray(start)
      this.#offset = offset
      this.#lines = lines
    }
    if (records.length === 0 && pending.length > this.#settings.maxLineBytes) {
      throw new TributaryError('TRIB_CONNECTOR_IO', `file ${path}: the line at byte offset ${this.#offset} is longer than maxLineBytes (${this.#settings.maxLineBytes}) without a newline`, {
        details: { file: path, offset: this.#offset },
      })
    }
    return records
  }

  /** Reads the next chunk after what is pending; false at the end of the file. */
  async #readMore(): Promise<boolean> {
    const file = this.#file!
    const at = this.#offset + this.#pending.length
    const { size } = await file.stat()
    if (size < at) {
      throw new TributaryError('TRIB_CONNECTOR_IO', `file ${this.#settings.path} shrank to ${size} bytes while being read at byte offset ${at}: it was truncated or replaced`, {
        details: { file: this.#settings.path, offset: at, size },
      })
    }
    if (size === at) {
      await this.#checkSameFile(at)
      return false
    }
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK, size - at))
    const { bytesRead } = await file.read(chunk, 0, chunk.length, at)
    if (bytesRead === 0) return false
    const got = chunk.subarray(0, bytesRead)
    this.#pending = this.#pending.length === 0 ? got : Buffer.concat([this.#pending, got])
    return true
  }

  /** At the end of the file: fails when the path now names another file (rotated) or none. */
  async #checkSameFile(at: number): Promise<void> {
    const path = this.#settings.path
    let current: { ino: number; dev: number } | undefined
    try {
      current = await stat(path)
    } catch (err) {
      if (!isMissing(err)) throw err
    }
    const own = await this.#file!.stat()
    if (current === undefined || current.ino !== own.ino || current.dev !== own.dev) {
      throw new TributaryError('TRIB_CONNECTOR_IO', `file ${path} was ${current === undefined ? 'removed' : 'replaced by another file'} while being read at byte offset ${at}`, {
        details: { file: path, offset: at },
      })
    }
  }

  /** Waits for a change notification, the poll interval, or the abort. */
  async #waitForChange(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.#wake = null
        resolve()
      }
      const timer = setTimeout(done, this.#settings.pollInterval)
      signal.addEventListener('abort', done, { once: true })
      this.#wake = done
    })
  }

  async ack(_positions: readonly Buffer[]): Promise<void> {
    // Nothing to do: the position is the byte offset the runtime stores.
  }

  async teardown(): Promise<void> {
    this.#closed = true
    this.#wake?.()
    this.#watcher?.close()
    this.#watcher = null
    const file = this.#file
    this.#file = null
    await file?.close()
  }
}
