import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after } from 'node:test'
import { embeddedLeaseStore } from '../../src/lease/index.ts'
import { leaseStoreConformance } from './conformance.ts'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-leases-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

leaseStoreConformance('embedded (LMDB)', { open: async (table) => embeddedLeaseStore({ dir: path.join(tmp, table) }) })
