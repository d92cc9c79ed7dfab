/**
 * `tributary/log/embedded`: the in-process log, `memory` or `file`.
 * @module
 */
export { openEmbeddedLog, type EmbeddedLog, type EmbeddedLogOptions } from './embedded-log.ts'
