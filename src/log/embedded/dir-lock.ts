/**
 * One process (and one open log per process) owns an embedded log directory at a time.
 *
 * The lock is a `LOCK` file holding the owner's PID, created exclusively: the PID is written to a
 * file of this process's own and hard-linked to `LOCK`, which the OS refuses when `LOCK` exists
 * (where hard links are not supported, an `O_EXCL` create is used). Of any number of processes
 * opening the directory at the same instant, exactly one gets it.
 *
 * A lock whose process is gone is stale. Breaking it takes a second exclusive file, `LOCK.break`,
 * under which the stale `LOCK` is checked again and removed; then the exclusive create is retried.
 * So two processes finding the same stale lock cannot both remove it and both own the directory.
 *
 * The directory also records whether the last owner closed cleanly (`.clean-shutdown`, written and
 * synced after every segment was synced); after an unclean stop the active segments are verified in
 * full on open.
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import { TributaryError } from '../../core/errors.ts'
import { fsyncs, mkdirDurably } from './durable-fs.ts'

const openInThisProcess = new Set<string>()

/** A `LOCK.break` older than this was left by a process that died while breaking a lock. */
const STALE_BREAK_MS = 10_000

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A held directory lock. */
export interface DirLock {
  /** True when the previous owner did not close cleanly. */
  readonly unclean: boolean
  /** Marks a clean shutdown (durably) and releases the lock. Call it only after every segment was synced. */
  release(): void
}

/** Creates `file` holding `content` only if it does not exist; false when it does. */
function createExclusive(file: string, content: string): boolean {
  const mine = `${file}.${process.pid}.tmp`
  fs.writeFileSync(mine, content)
  try {
    fs.linkSync(mine, file)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err
  } finally {
    fs.rmSync(mine, { force: true })
  }
  // No hard links here: an O_EXCL create (a reader may briefly see the file empty; it waits).
  let fd: number
  try {
    fd = fs.openSync(file, 'wx')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  try {
    fs.writeSync(fd, content)
  } finally {
    fs.closeSync(fd)
  }
  return true
}

/** The PID in a lock file; undefined when it is missing; NaN when it is empty or unreadable. */
function readOwner(file: string): number | undefined {
  try {
    return Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

function lockedError(dir: string, owner: number): TributaryError {
  return new TributaryError('TRIB_LOG_LOCKED', `embedded log ${dir} is in use by process ${owner}; stop it or use another directory`, {
    details: { dir, pid: owner },
  })
}

/** Removes `lockFile` if it still names the dead process `stalePid` (NaN: still empty), holding `LOCK.break` meanwhile. */
function breakStaleLock(lockFile: string, stalePid: number): void {
  const breakFile = `${lockFile}.break`
  if (!createExclusive(breakFile, String(process.pid))) {
    // Someone else is breaking it; a break file left by a dead breaker is removed after a while.
    try {
      const age = Date.now() - fs.statSync(breakFile).mtimeMs
      const breaker = readOwner(breakFile)
      if (age > STALE_BREAK_MS && (breaker === undefined || Number.isNaN(breaker) || !alive(breaker))) fs.rmSync(breakFile, { force: true })
    } catch {
      // gone already
    }
    return
  }
  try {
    const current = readOwner(lockFile)
    if (current === stalePid || (current !== undefined && Number.isNaN(current) && Number.isNaN(stalePid))) fs.rmSync(lockFile, { force: true })
  } finally {
    fs.rmSync(breakFile, { force: true })
  }
}

/** Takes the lock of `dir` (creating the directory) or throws `TRIB_LOG_LOCKED`. */
export function lockDir(dir: string): DirLock {
  const absolute = path.resolve(dir)
  mkdirDurably(absolute)
  const lockFile = path.join(absolute, 'LOCK')
  const cleanFile = path.join(absolute, '.clean-shutdown')
  if (openInThisProcess.has(absolute)) {
    throw new TributaryError('TRIB_LOG_LOCKED', `embedded log ${absolute} is already open in this process; share the open Log instead`, {
      details: { dir: absolute },
    })
  }
  const deadline = Date.now() + 5_000
  for (let attempt = 0; ; attempt++) {
    if (createExclusive(lockFile, String(process.pid))) break
    const owner = readOwner(lockFile)
    if (owner === undefined) continue // released meanwhile: try again
    if (Number.isNaN(owner)) {
      // Being written by an O_EXCL creator (no hard links), or left empty by a crash.
      const age = (() => {
        try {
          return Date.now() - fs.statSync(lockFile).mtimeMs
        } catch {
          return 0
        }
      })()
      if (age > STALE_BREAK_MS) breakStaleLock(lockFile, owner)
      else if (Date.now() > deadline) throw lockedError(absolute, 0)
      continue
    }
    // A LOCK with this process's PID is not from an open in this process (checked above): a
    // previous incarnation with the same PID (a restarted container) left it.
    if (owner !== process.pid && alive(owner)) throw lockedError(absolute, owner)
    breakStaleLock(lockFile, owner)
    if (attempt > 1_000) throw lockedError(absolute, owner)
  }
  const hasData = fs.readdirSync(absolute).some((name) => name === 'topics')
  const unclean = hasData && !fs.existsSync(cleanFile)
  if (fs.existsSync(cleanFile)) {
    fs.rmSync(cleanFile, { force: true })
    // A marker that came back after power loss would skip the verification of a torn tail.
    fsyncs.directory(absolute)
  }
  openInThisProcess.add(absolute)
  let released = false
  return {
    unclean,
    release() {
      if (released) return
      released = true
      const fd = fs.openSync(cleanFile, 'w')
      try {
        fsyncs.file(fd)
      } finally {
        fs.closeSync(fd)
      }
      fsyncs.directory(absolute)
      fs.rmSync(lockFile, { force: true })
      openInThisProcess.delete(absolute)
    },
  }
}
