/**
 * Helpers of the connector tests: a connector context with a capturing logger, temporary
 * directories, and settings parsing that returns the zod issues.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { createLogger, type Logger } from '../../../src/core/index.ts'
import type { ConnectorContext, ConnectorPlugin } from '../../../src/pipeline/connector.ts'

export const uid = (): string => randomUUID().slice(0, 8)

/** A logger that keeps every line it writes, parsed. */
export function capturingLogger(level = 'trace'): { logger: Logger; lines: Array<{ [k: string]: unknown }> } {
  const lines: Array<{ [k: string]: unknown }> = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line))
      done()
    },
  })
  return { logger: createLogger({ level }, stream), lines }
}

/** A connector context; `lastPosition` as text or bytes. */
export function context(overrides: Partial<Omit<ConnectorContext, 'lastPosition'>> & { lastPosition?: Buffer | string | null } = {}): ConnectorContext {
  const { lastPosition, ...rest } = overrides
  return {
    pipelineId: 'p1',
    connectorId: 'p1:c1',
    stateDir: os.tmpdir(),
    logger: capturingLogger('warn').logger,
    ...rest,
    lastPosition: lastPosition === undefined || lastPosition === null ? null : Buffer.isBuffer(lastPosition) ? lastPosition : Buffer.from(lastPosition),
  }
}

/** A fresh temporary directory, removed when the process exits. */
const tempDirs: string[] = []
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})
export function tempDir(prefix = 'trib-conn-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  tempDirs.push(dir)
  return dir
}

/** Parses settings that must be valid. */
export function settingsOf<S>(plugin: ConnectorPlugin<S>, settings: { [k: string]: unknown }): S {
  const result = plugin.settings.safeParse(settings)
  if (!result.success) assert.fail(`settings should be valid: ${result.error.issues.map((i) => i.message).join('; ')}`)
  return result.data
}

/** Parses settings that must be invalid; returns the issues as `setting: message`. */
export function settingErrors<S>(plugin: ConnectorPlugin<S>, settings: { [k: string]: unknown }): string[] {
  const result = plugin.settings.safeParse(settings)
  assert.equal(result.success, false, 'settings should be invalid')
  return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

/** An abort controller aborted after the test, for `open`/`read` signals. */
export function signal(): AbortSignal {
  return new AbortController().signal
}

/** Polls `check` every few ms until it holds (for effects without events, like a file's content). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, label = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${label}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
