/**
 * The builtin processor plugins, looked up by name by the pipeline runtime.
 * @module
 */
import type { ProcessorPlugin } from '../processor.ts'

/** Every builtin processor plugin. */
export const builtinProcessors: readonly ProcessorPlugin<any>[] = []
