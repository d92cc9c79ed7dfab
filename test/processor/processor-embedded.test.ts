import { openEmbeddedLog } from '../../src/log/index.ts'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after } from 'node:test'
import { runProcessorSuite } from './processor-suite.ts'

runProcessorSuite('memory', async () => openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 }))

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-processor-file-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
runProcessorSuite('file', async () => openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 }))
