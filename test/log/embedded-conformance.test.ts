import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after } from 'node:test'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { runConformance } from './conformance.ts'

runConformance('memory', async () => openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 100 }))

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-conformance-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
runConformance('file', async () => openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 100 }), { durable: true })
