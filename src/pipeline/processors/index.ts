/**
 * The builtin processor plugins, looked up by name by the pipeline runtime: Conduit's builtin
 * processors that need no outside service, with Conduit's names and settings.
 *
 * @example
 * ```ts
 * const plugin = builtinProcessors.find((p) => p.name === 'json.decode')
 * const processor = plugin.create(plugin.settings.parse({ field: '.Payload.After' }), ctx)
 * ```
 * @module
 */
import type { ProcessorPlugin } from '../processor.ts'
import { base64Decode, base64Encode, jsonDecode, jsonEncode } from './codec.ts'
import { fieldConvert, fieldExclude, fieldRename, fieldSet } from './field.ts'
import { clone, error, filter, split } from './flow.ts'
import { customJavascript } from './javascript.ts'
import { unwrapDebeziumPlugin, unwrapKafkaConnectPlugin, unwrapOpencdc } from './unwrap.ts'
import { webhookHttp } from './webhook.ts'

export { CLONE_INDEX_KEY, SPLIT_INDEX_KEY } from './flow.ts'
export { CONVERT_TYPES } from './field.ts'

/** Every builtin processor plugin. */
export const builtinProcessors: readonly ProcessorPlugin<any>[] = [
  fieldSet,
  fieldExclude,
  fieldRename,
  fieldConvert,
  jsonDecode,
  jsonEncode,
  base64Encode,
  base64Decode,
  filter,
  error,
  split,
  clone,
  unwrapOpencdc,
  unwrapDebeziumPlugin,
  unwrapKafkaConnectPlugin,
  customJavascript,
  webhookHttp,
]
