/**
 * The LMDB {@link Store} (the default): one LMDB environment per table partition with two databases,
 * `data` (the rows) and `meta` (the changelog offset), so a batch and its offset commit in one write
 * transaction. Reads are synchronous memory-mapped lookups.
 *
 * Layout: `<dir>/<role>/<topic>/<partition>/{data.mdb,lock.mdb,store.json}`.
 *
 * A store that fails verification (LMDB crashes the process on a corrupt file, so an existing store
 * is first walked in a child process) or whose `store.json` names another table is deleted with a
 * warning and opened empty; the processor or view then rebuilds it from the changelog.
 *
 * @example
 * ```ts
 * const processor = new Processor(log, graph, { storage: lmdbStore({ dir: './state' }) })
 * ```
 * @module
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { open, type Database, type RootDatabase } from 'lmdb'
import { TributaryError } from '../core/errors.ts'
import { rootLogger, type Logger } from '../core/logger.ts'
import type { Store, StoreBuilder, StoreChange, StoreEntry, StoreSpec } from './store.ts'

/** Options of {@link lmdbStore}. */
export interface LmdbStoreOptions {
  /** Root directory of the stores. Default `./.tributary/state`. */
  dir?: string
  /**
   * `true` (default): every write transaction is flushed to disk before it returns. `false`: leave
   * flushing to the OS (faster; a machine crash may lose or corrupt the store, which is then
   * rebuilt from the changelog).
   */
  sync?: boolean
  /**
   * `always` (default): walk an existing store in a child process before opening it, and rebuild it
   * if it is corrupt. `never`: trust the files (a corrupt file can crash the process).
   */
  verify?: 'always' | 'never'
  /** How long verification may take (ms). Default 120,000. */
  verifyTimeoutMs?: number
  logger?: Logger
}

const FORMAT = 1
const MARKER = 'store.json'
const OFFSET_KEY = 'offset'

/** Store directories open in this process: two owners of one directory would corrupt each other's offsets. */
const openPaths = new Set<string>()

interface Marker {
  format: number
  topic: string
  partition: number
}

/** A table partition in an LMDB environment. */
class LmdbStore implements Store {
  readonly name: string
  readonly #path: string
  readonly #env: RootDatabase
  readonly #data: Database<Buffer, string>
  readonly #meta: Database<number, string>
  #closed = false

  constructor(name: string, dir: string, sync: boolean) {
    this.name = name
    this.#path = dir
    this.#env = open({ path: dir, maxDbs: 4, noSync: !sync, noMemInit: true })
    this.#data = this.#env.openDB<Buffer, string>({ name: 'data', encoding: 'binary' })
    this.#meta = this.#env.openDB<number, string>({ name: 'meta', encoding: 'json' })
  }

  get(key: string): Buffer | undefined {
    return this.#data.getBinary(key)
  }

  has(key: string): boolean {
    return this.#data.doesExist(key)
  }

  set(key: string, value: Buffer): void {
    this.#data.putSync(key, value)
  }

  delete(key: string): void {
    this.#data.removeSync(key)
  }

  write(changes: Iterable<StoreChange>, offset?: number): void {
    this.#env.transactionSync(() => {
      for (const [key, value] of changes) {
        if (value === null) this.#data.removeSync(key)
        else this.#data.putSync(key, value)
      }
      if (offset !== undefined) this.#meta.putSync(OFFSET_KEY, offset)
    })
  }

  offset(): number | undefined {
    return this.#meta.get(OFFSET_KEY)
  }

  setOffset(offset: number): void {
    this.#meta.putSync(OFFSET_KEY, offset)
  }

  iterate(): IterableIterator<StoreEntry> {
    return this.range()
  }

  *range(start?: string, end?: string): IterableIterator<StoreEntry> {
    const options: { start?: string; end?: string } = {}
    if (start !== undefined) options.start = start
    if (end !== undefined) options.end = end
    for (const { key, value } of this.#data.getRange(options)) yield { key, value }
  }

  size(): number {
    return this.#data.getCount()
  }

  clear(): void {
    this.#env.transactionSync(() => {
      this.#data.clearSync()
      this.#meta.removeSync(OFFSET_KEY)
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      await this.#env.close()
    } finally {
      openPaths.delete(this.#path)
    }
  }
}

/** Runs lmdb-verify in a child process; resolves with why the store is unusable, or undefined when sound. */
function verifyInChild(dir: string, timeoutMs: number): Promise<string | undefined> {
  const here = fileURLToPath(import.meta.url)
  const script = path.join(path.dirname(here), `lmdb-verify${path.extname(here)}`)
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 2_000) stderr += chunk.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      resolve(`cannot run the verifier: ${err.message}`)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(undefined)
      else resolve(`verifier ${signal ? `died of ${signal}` : `exited ${code}`}: ${stderr.trim().split('\n').slice(-2).join(' ') || 'no output'}`)
    })
  })
}

function readMarker(dir: string): Marker | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MARKER), 'utf8')) as Marker
  } catch {
    return undefined
  }
}

/** Why an existing store directory cannot be used, or undefined when it can. */
async function checkExisting(dir: string, spec: StoreSpec, options: LmdbStoreOptions): Promise<string | undefined> {
  const marker = readMarker(dir)
  if (!marker) return `${MARKER} is missing or unreadable`
  if (marker.format !== FORMAT) return `it has format ${marker.format}, expected ${FORMAT}`
  if (marker.topic !== spec.topic || marker.partition !== spec.partition) {
    return `it holds ${marker.topic}/${marker.partition}, not ${spec.topic}/${spec.partition}`
  }
  if (!fs.existsSync(path.join(dir, 'data.mdb'))) return undefined
  if ((options.verify ?? 'always') === 'never') return undefined
  return verifyInChild(dir, options.verifyTimeoutMs ?? 120_000)
}

/**
 * A {@link StoreBuilder} of LMDB stores under `dir` (the default storage of processors and views).
 * One directory per table partition and role; opening a directory another store of this process
 * holds rejects with `TRIB_STATE_LOCKED`.
 */
export function lmdbStore(options: LmdbStoreOptions = {}): StoreBuilder {
  const root = path.resolve(options.dir ?? path.join('.tributary', 'state'))
  const logger = options.logger ?? rootLogger().child({ component: 'lmdb-store' })
  return async (spec: StoreSpec): Promise<Store> => {
    const name = `${spec.topic}/${spec.partition}`
    const dir = path.join(root, spec.role, encodeURIComponent(spec.topic), String(spec.partition))
    if (openPaths.has(dir)) {
      throw new TributaryError('TRIB_STATE_LOCKED', `store ${dir} is already open in this process: give each processor instance or view its own storage dir`, {
        details: { dir, topic: spec.topic, partition: spec.partition },
      })
    }
    openPaths.add(dir)
    try {
      if (fs.existsSync(dir)) {
        const problem = await checkExisting(dir, spec, options)
        if (problem !== undefined) {
          logger.warn({ store: name, dir, problem }, 'local store is corrupt or foreign; discarding it and rebuilding it from the changelog')
          fs.rmSync(dir, { recursive: true, force: true })
        }
      }
      fs.mkdirSync(dir, { recursive: true })
      const marker: Marker = { format: FORMAT, topic: spec.topic, partition: spec.partition }
      if (!readMarker(dir)) fs.writeFileSync(path.join(dir, MARKER), JSON.stringify(marker))
      try {
        return new LmdbStore(name, dir, options.sync ?? true)
      } catch (err) {
        logger.warn({ store: name, dir, err }, 'local store cannot be opened; discarding it and rebuilding it from the changelog')
        fs.rmSync(dir, { recursive: true, force: true })
        fs.mkdirSync(dir, { recursive: true })
        fs.writeFileSync(path.join(dir, MARKER), JSON.stringify(marker))
        return new LmdbStore(name, dir, options.sync ?? true)
      }
    } catch (err) {
      openPaths.delete(dir)
      if (err instanceof TributaryError) throw err
      throw new TributaryError('TRIB_STATE_CORRUPT', `cannot open store ${name} in ${dir}: ${(err as Error).message}`, {
        cause: err,
        details: { dir, topic: spec.topic, partition: spec.partition },
      })
    }
  }
}
