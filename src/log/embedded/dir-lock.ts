/**
 * One process (and one open log per process) owns an embedded log directory at a time.
 *
 * The lock is a `LOCK` file holding the owner's PID. A lock whose process is gone is stale and taken
 * over. The directory also records whether the last owner closed cleanly (`.clean-shutdown`); after
 * an unclean stop the active segments are verified in full on open.
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import { TributaryError } from '../../core/errors.ts'

const openInThisProcess = new Set<string>()

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
  /** Marks a clean shutdown and releases the lock. */
  release(): void
}

/** Takes the lock of `dir` (creating the directory) or throws `TRIB_LOG_LOCKED`. */
export function lockDir(dir: string): DirLock {
  const absolute = path.resolve(dir)
  fs.mkdirSync(absolute, { recursive: true })
  const lockFile = path.join(absolute, 'LOCK')
  const cleanFile = path.join(absolute, '.clean-shutdown')
  if (openInThisProcess.has(absolute)) {
    throw new TributaryError('TRIB_LOG_LOCKED', `embedded log ${absolute} is already open in this process; share the open Log instead`, {
      details: { dir: absolute },
    })
  }
  try {
    const owner = Number(fs.readFileSync(lockFile, 'utf8').trim())
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new TributaryError('TRIB_LOG_LOCKED', `embedded log ${absolute} is in use by process ${owner}; stop it or use another directory`, {
        details: { dir: absolute, pid: owner },
      })
    }
  } catch (err) {
    if (err instanceof TributaryError) throw err
  }
  const tmp = `${lockFile}.${process.pid}`
  fs.writeFileSync(tmp, String(process.pid))
  fs.renameSync(tmp, lockFile)
  const hasData = fs.readdirSync(absolute).some((name) => name === 'topics')
  const unclean = hasData && !fs.existsSync(cleanFile)
  fs.rmSync(cleanFile, { force: true })
  openInThisProcess.add(absolute)
  let released = false
  return {
    unclean,
    release() {
      if (released) return
      released = true
      fs.writeFileSync(cleanFile, '')
      fs.rmSync(lockFile, { force: true })
      openInThisProcess.delete(absolute)
    },
  }
}
