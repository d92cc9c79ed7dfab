/**
 * Verifies an LMDB store in a child process: opens it and walks every entry of every database.
 * LMDB aborts or crashes the process on a corrupt file instead of throwing, so the check must not run
 * in the process that will use the store. Exits 0 and prints the entry count when the store is
 * sound; anything else (an exception, an abort, a segfault) means corrupt.
 *
 * Usage: `node lmdb-verify.ts <store-dir>`
 * @module
 */
import { open } from 'lmdb'

const dir = process.argv[2]
if (!dir) {
  console.error('usage: lmdb-verify <store-dir>')
  process.exit(2)
}
const env = open({ path: dir, maxDbs: 4, readOnly: true })
let entries = 0
for (const name of ['data', 'meta']) {
  const db = env.openDB({ name, encoding: 'binary' })
  for (const { value } of db.getRange({})) {
    if (!(value instanceof Uint8Array)) throw new Error(`entry of ${name} is not binary`)
    entries++
  }
}
await env.close()
process.stdout.write(`${entries}\n`)
