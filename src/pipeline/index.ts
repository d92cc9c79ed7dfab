/**
 * `tributary/pipeline`: Conduit's model of data movement — OpenCDC records, sources, processors and
 * destinations joined by a worker with per-record acknowledgements and a dead-letter queue.
 * @module
 */
export * from './record.ts'
export * from './connector.ts'
export * from './processor.ts'
export * from './reference.ts'
export * from './template.ts'
