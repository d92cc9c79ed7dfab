/**
 * `tributary/log/embedded`: the in-process log, `memory` or `file`.
 * @module
 */
export { openEmbeddedLog, type EmbeddedLog, type EmbeddedLogOptions } from './embedded-log.ts'
export type { CommitRecord } from './offset-store.ts'
