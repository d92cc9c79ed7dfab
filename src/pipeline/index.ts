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
export { Batch, type RecordFlag, type RunKind, type NackReason } from './batch.ts'
export { SourceTask, ProcessorTask, DestinationTask, type ProcessorTaskOptions, type TaskCounters } from './tasks.ts'
export { Worker, newCounters, type TaskNode, type WorkerOptions, type WorkerObserver, type PipelineCounters } from './worker.ts'
export { DeadLetterQueue, dlqRecord, type DeadLetterQueueOptions, type DlqWriteResult } from './dlq.ts'
export { NackWindow } from './dlq-window.ts'
export { isFatal, markFatal } from './fatal.ts'
export { PositionStore } from './position-store.ts'
export { PluginRegistry, createRegistry, normalizePluginName } from './registry.ts'
export { parsePipelineYaml, loadPipelineFiles, formatPath, type PipelineSpec, type ConnectorSpec, type ProcessorSpec, type DlqSpec, type LoadedPipelines } from './config.ts'
export { PipelineRunner, type PipelineState, type PipelineStatus, type PipelineRunnerOptions, type PipelineErrorInfo } from './runner.ts'
export { PipelineService, type PipelineServiceOptions } from './service.ts'
export { pipelineRoutes } from './http-routes.ts'
export { pipelineObserver, registerPipelineMetrics, STATUS_VALUES } from './metrics.ts'
