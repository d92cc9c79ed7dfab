/**
 * `tributary/monitor`: a Burrow-compatible consumer-lag monitor — offset sources (Kafka's
 * `__consumer_offsets`, the embedded log's commit history), Burrow's storage rings and evaluation
 * rules, notifiers with leader election, and the HTTP API v3 with metrics and a dashboard.
 *
 * @example
 * ```ts
 * import { loadConfig, Monitor } from 'tributary/monitor'
 * const monitor = new Monitor(loadConfig('monitor.yaml'))
 * await monitor.start()
 * await monitor.listen()   // http://127.0.0.1:8000/v3/kafka
 * ```
 * @module
 */
export { Monitor, type MonitorOptions, type ListenAddress } from './monitor.ts'
export {
  loadConfig,
  parseConfig,
  parseConfigYaml,
  DEFAULT_OPEN_BODY,
  DEFAULT_CLOSE_BODY,
  type MonitorConfig,
  type ClusterConfig,
  type NotifierConfig,
  type HttpNotifierConfig,
  type LogNotifierConfig,
} from './config.ts'
export * from './status.ts'
export * from './rules.ts'
export { ringOf, RingSlab, SlabRing, type CommitRing } from './commit-ring.ts'
export { MonitorStorage, type StorageOptions, type CommitInput, type AddCommitResult, type GroupState, type GroupPartition, type BrokerPartition, type ClusterFilters } from './storage.ts'
export { Evaluator, evaluatePartition, notFoundStatus, type EvaluatorOptions } from './evaluator.ts'
export * from './consumer-offsets.ts'
export * from './consumer-offsets-encode.ts'
export { WireReader, WireWriter } from '../log/wire.ts'
export { compileTemplate, type Template } from './template.ts'
export { OffsetIngest, type OffsetIngestOptions } from './ingest.ts'
export { KafkaOffsetSource, type KafkaSourceDeps } from './kafka-source.ts'
export { EmbeddedOffsetSource, type EmbeddedSourceDeps } from './embedded-source.ts'
export { KafkaWire, type KafkaWireOptions, type ClusterMetadata, type TopicMetadata, type BrokerAddress } from './kafka-wire.ts'
export type { OffsetSource, SourceInfo } from './source.ts'
export { MonitorMetrics, type MetricsSnapshot, type TopicOffsetsSample } from './metrics.ts'
export { createNotifier, templateData, type Notifier, type NotificationEvent, type NotifierDeps } from './notifiers.ts'
export { decideNotification, type NotifyRules, type NotifyState, type NotifyDecision } from './notify-rules.ts'
export { NotifyCoordinator, type NotifyCoordinatorOptions } from './notify-coordinator.ts'
export { LeaderElector, type LeaderElectorOptions } from './leader.ts'
export { buildApi, monitorRoutes, MAX_PARAM_LENGTH, type MonitorView, type MonitorRoutesOptions, type MonitorRouteModule } from './api.ts'
