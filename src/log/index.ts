/**
 * `tributary/log`: the `Log` interface, partitioners, assignors, and `openLog` to open a backend by URL.
 * @module
 */
export * from './types.ts'
export * from './partitioner.ts'
export { assign, type Assignment, type AssignorMember } from './assignors.ts'
export { openLog, parseLogUrl, type OpenLogOptions, type LogLocation } from './open-log.ts'
export { openEmbeddedLog, type EmbeddedLog, type EmbeddedLogOptions } from './embedded/index.ts'
