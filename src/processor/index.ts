/**
 * `tributary/processor`: goka-style stateful processors on any `Log` — group graphs, processors,
 * views, emitters and a deterministic test harness.
 *
 * @example
 * ```ts
 * import { codecs } from 'tributary/core'
 * import { openLog } from 'tributary/log'
 * import { Processor, View, defineGroup, input, persist, type Context } from 'tributary/processor'
 *
 * const graph = defineGroup('click-counter',
 *   input('clicks', codecs.string(), (ctx: Context<number>) => ctx.setValue((ctx.value() ?? 0) + 1)),
 *   persist(codecs.json<number>()),
 * )
 * const log = await openLog('file:./.tributary')
 * const processor = new Processor(log, graph)
 * processor.run()
 * const view = new View(log, graph.groupTable, codecs.json<number>())
 * view.run()
 * await view.waitRunning()
 * ```
 * @module
 */
export {
  defineGroup,
  groupTable,
  loopStream,
  input,
  inputs,
  output,
  persist,
  join,
  lookup,
  loop,
  GroupGraph,
  type Edge,
  type EdgeArg,
  type EdgeKind,
  type Group,
  type Stream,
  type Table,
  type ProcessCallback,
} from './graph.ts'
export type { Context, EmitOptions } from './context.ts'
export {
  resolveProcessorOptions,
  defaultStateDir,
  type ProcessorOptions,
  type NilHandling,
  type BadInputPolicy,
  type RebalanceEvent,
} from './options.ts'
export { Processor, type ProcessorState, type ProcessorStats } from './processor.ts'
export type { PartitionState, PartitionStats, InputStats, OutputStats, RecoveryStats } from './partition-processor.ts'
export { View, type ViewOptions, type ViewState, type ViewStats, type ViewPartitionStats } from './view.ts'
export { Emitter, type EmitterOptions, type EmitMessageOptions } from './emitter.ts'
export { Tester, type TesterOptions, type TesterGraphOptions, type EmittedMessage, type ConsumeOptions } from './tester.ts'
export { StateSignal, type StateListener } from './signal.ts'
export { isTransient } from './errors.ts'
export { recoverStores, type RecoveryTarget, type RecoverOptions } from './table-reader.ts'
