/**
 * The fsync calls of the file log, in one place: a file's data, and a directory's entries (a new,
 * renamed or unlinked file survives power loss only once its directory is synced too).
 *
 * Every sync the file log makes goes through {@link fsyncs}, so a test can observe them by wrapping
 * its methods.
 *
 * @example
 * ```ts
 * writeFileDurably(path.join(dir, 'topic.json'), JSON.stringify(spec))   // tmp, fsync, rename, fsync dir
 * ```
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'

/** The two sync operations (replaceable by tests to observe them). */
export const fsyncs = {
  /** fsync of an open file. */
  file(fd: number): void {
    fs.fsyncSync(fd)
  },
  /** fsync of a directory, making creations, renames and unlinks in it durable. */
  directory(dir: string): void {
    let fd: number
    try {
      fd = fs.openSync(dir, 'r')
    } catch (err) {
      // Windows cannot open a directory as a file; it has no directory sync to make.
      if (process.platform === 'win32') return
      throw err
    }
    try {
      fs.fsyncSync(fd)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (!(process.platform === 'win32' && (code === 'EPERM' || code === 'EISDIR' || code === 'EINVAL'))) throw err
    } finally {
      fs.closeSync(fd)
    }
  },
}

/** Creates `dir` (and its parents); syncs the parent of every directory it created. */
export function mkdirDurably(dir: string): void {
  const first = fs.mkdirSync(dir, { recursive: true })
  if (first === undefined) return
  // `first` is the top-most directory created: sync its parent and each created level's parent.
  let created = path.resolve(dir)
  const top = path.resolve(first)
  const parents: string[] = []
  for (;;) {
    parents.push(path.dirname(created))
    if (created === top) break
    created = path.dirname(created)
  }
  for (const parent of parents.reverse()) fsyncs.directory(parent)
}

/** Writes `file` atomically and durably: a temporary file, fsync, rename into place, fsync of the directory. */
export function writeFileDurably(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp`
  const fd = fs.openSync(tmp, 'w')
  try {
    fs.writeFileSync(fd, data)
    fsyncs.file(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
  fsyncs.directory(path.dirname(file))
}
