/**
 * Conduit's `custom.javascript` processor: a user script defines `function process(record)` and
 * returns the record (changed or not), a new record, or `null` to filter it out.
 *
 * The record the script sees has Conduit's shape: `Position` (bytes), `Operation` (`"create"`,
 * `"update"`, `"delete"`, `"snapshot"`), `Metadata` (an object of strings), `Key` and
 * `Payload.Before`/`Payload.After` (raw data as a byte array, structured data as an object, or
 * `null`). The helpers Conduit provides are there: `RawData("text")` (bytes; with or without
 * `new`), `StructuredData()`, `new Record()`, and `logger` with zerolog's chain
 * (`logger.Info().Str("k", "v").Msg("hello")`).
 *
 * The script runs in a `node:vm` context with a time limit per call (`timeout`, default 1s, a
 * Tributary setting): an endless loop becomes that record's nack naming the processor, and the
 * next call runs normally. The script gets a deep copy of the record, so it may change it freely.
 * A `vm` context is not a security boundary: run only scripts you trust, as with any pipeline code.
 *
 * @example
 * ```yaml
 * processors:
 *   - id: greet
 *     plugin: custom.javascript
 *     settings:
 *       script: |
 *         function process(rec) {
 *           rec.Metadata["processed"] = "true";
 *           rec.Payload.After = RawData("hello, " + String.fromCharCode.apply(String, rec.Payload.After));
 *           return rec;
 *         }
 * ```
 * @module
 */
import fs from 'node:fs'
import vm from 'node:vm'
import { z } from 'zod'
import type { Logger } from '../../core/logger.ts'
import { isGoMap } from '../go-format.ts'
import { filterRecord, type PipelineProcessor, type ProcessedRecord, type ProcessorPlugin } from '../processor.ts'
import { OPERATIONS, type Data, type Operation, type PipelineRecord } from '../record.ts'
import { recordError } from '../reference.ts'
import { durationSetting, failRecord, processorSettings, describeProcessor, settingError } from './common.ts'

const javascriptSettings = processorSettings({
  script: z.string().optional(),
  'script.path': z.string().optional(),
  timeout: durationSetting('timeout').default(1000),
})

type JavascriptSettings = z.infer<typeof javascriptSettings>

/** Runs in the script's context: Conduit's helpers, made of the context's own builtins. */
const PRELUDE = `
'use strict';
(function (global, log) {
  function utf8(s) {
    var bin = unescape(encodeURIComponent(String(s)));
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function RawData(s) {
    var bytes = s === undefined ? new Uint8Array(0) : utf8(s);
    Object.setPrototypeOf(bytes, RawData.prototype);
    return bytes;
  }
  RawData.prototype = Object.create(Uint8Array.prototype, { constructor: { value: RawData } });
  function StructuredData() { return {}; }
  function Record() {
    return { Position: null, Operation: 'create', Metadata: {}, Key: null, Payload: { Before: null, After: null } };
  }
  function Event(level) { this.level = level; this.fields = {}; }
  Event.prototype.Str = function (k, v) { this.fields[k] = String(v); return this; };
  Event.prototype.Int = function (k, v) { this.fields[k] = Number(v); return this; };
  Event.prototype.Float64 = Event.prototype.Int;
  Event.prototype.Bool = function (k, v) { this.fields[k] = Boolean(v); return this; };
  Event.prototype.Any = function (k, v) { this.fields[k] = v; return this; };
  Event.prototype.Interface = Event.prototype.Any;
  Event.prototype.Err = function (e) { this.fields.error = e && e.message !== undefined ? String(e.message) : String(e); return this; };
  Event.prototype.Msg = function (m) { log(this.level, m === undefined ? '' : String(m), JSON.stringify(this.fields)); };
  Event.prototype.Send = function () { this.Msg(''); };
  Event.prototype.Msgf = function (f) {
    var args = Array.prototype.slice.call(arguments, 1), i = 0;
    this.Msg(String(f).replace(/%[vsdfqt]/g, function () { return i < args.length ? String(args[i++]) : '%!v(MISSING)'; }));
  };
  var logger = {};
  ['Trace', 'Debug', 'Info', 'Warn', 'Error'].forEach(function (level) {
    logger[level] = function () { return new Event(level.toLowerCase()); };
  });
  function toRaw(bytes) {
    var copy = new Uint8Array(bytes.length);
    copy.set(bytes);
    Object.setPrototypeOf(copy, RawData.prototype);
    return copy;
  }
  function importValue(v) {
    if (v === null || typeof v !== 'object') return v;
    if (ArrayBuffer.isView(v)) return toRaw(v);
    var i;
    if (Array.isArray(v)) {
      var a = new Array(v.length);
      for (i = 0; i < v.length; i++) a[i] = importValue(v[i]);
      return a;
    }
    var o = {}, keys = Object.keys(v);
    for (i = 0; i < keys.length; i++) o[keys[i]] = importValue(v[keys[i]]);
    return o;
  }
  function importRecord(r) {
    return {
      Position: toRaw(r.position),
      Operation: r.operation,
      Metadata: importValue(r.metadata),
      Key: importValue(r.key),
      Payload: { Before: importValue(r.payload.before), After: importValue(r.payload.after) }
    };
  }
  global.RawData = RawData;
  global.StructuredData = StructuredData;
  global.Record = Record;
  global.logger = logger;
  Object.defineProperty(global, '__importRecord', { value: importRecord });
})(globalThis, __log);
`

/**
 * Runs `process` over `__batch.inputs[next..end)`, keeping each result or thrown value, and
 * `__batch.next` at the record being processed, so that after a time-out the host knows which
 * record was running and which are done.
 */
const RUN_BATCH = new vm.Script(
  `(function (b) {
  for (var i = b.next; i < b.end; i++) {
    b.next = i;
    try { b.outputs[i] = process(b.inputs[i]); }
    catch (e) { b.failed[i] = true; b.outputs[i] = e; }
  }
  b.next = b.end;
})(__batch)`,
  { filename: 'custom.javascript:call' },
)

interface BatchState {
  inputs: unknown[]
  outputs: unknown[]
  failed: boolean[]
  next: number
  end: number
}

/** The context-side view of a record: Conduit's JS record shape. */
interface JsRecord {
  Position: unknown
  Operation: unknown
  Metadata: unknown
  Key: unknown
  Payload: { Before: unknown; After: unknown } | null | undefined
}

type Sandbox = { __batch?: BatchState; __importRecord: (r: PipelineRecord) => JsRecord } & { [k: string]: unknown }

function isBytes(v: unknown): v is Uint8Array {
  return ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === '[object Uint8Array]'
}

class JavascriptProcessor implements PipelineProcessor {
  readonly #label: string
  readonly #timeout: number
  readonly #sandbox: Sandbox
  readonly #context: vm.Context

  constructor(label: string, source: string, timeout: number, logger: Logger, setting: string, filename: string) {
    this.#label = label
    this.#timeout = timeout
    const log = (level: string, msg: string, fields: string): void => {
      const data = JSON.parse(fields) as object
      const l = logger as unknown as { [level: string]: (o: object, m: string) => void }
      ;(l[level] ?? l.info)?.call(logger, { processor: label, ...data }, msg)
    }
    this.#sandbox = vm.createContext({ __log: log }, { name: label, codeGeneration: { strings: true, wasm: false } }) as Sandbox
    this.#context = this.#sandbox
    new vm.Script(PRELUDE, { filename: 'custom.javascript:prelude' }).runInContext(this.#context)
    delete this.#sandbox.__log
    let script: vm.Script
    try {
      script = new vm.Script(source, { filename })
    } catch (err) {
      throw settingError(label, setting, `the script does not compile: ${(err as Error).message}`)
    }
    try {
      script.runInContext(this.#context, { timeout })
    } catch (err) {
      throw settingError(label, setting, `running the script failed: ${(err as Error).message}`)
    }
    if (typeof this.#sandbox.process !== 'function') throw settingError(label, setting, 'the script must define a function process(record)')
  }

  /**
   * Runs the batch in as few calls as possible: one call shares the time limit across records; when
   * it runs out, the record that was running gets a call of its own with the full limit (so no
   * record gets less than `timeout`), and a time-out there is that record's nack.
   */
  process(records: readonly PipelineRecord[]): ProcessedRecord[] {
    const n = records.length
    const out = new Array<ProcessedRecord>(n)
    const state: BatchState = { inputs: new Array(n), outputs: new Array(n), failed: new Array(n).fill(false), next: 0, end: n }
    const timedOut = new Array<boolean>(n).fill(false)
    for (let i = 0; i < n; i++) {
      try {
        state.inputs[i] = this.#toJs(records[i] as PipelineRecord)
      } catch (err) {
        state.inputs[i] = undefined
        state.failed[i] = true
        state.outputs[i] = err
      }
    }
    this.#sandbox.__batch = state
    try {
      let start = 0
      while (start < n) {
        state.next = start
        state.end = n
        if (this.#run()) break
        const running = state.next
        // The shared budget ran out while `running` was being processed: give it a call of its own.
        state.next = running
        state.end = running + 1
        if (!this.#run()) {
          timedOut[running] = true
          state.failed[running] = true
        }
        start = running + 1
      }
    } finally {
      this.#sandbox.__batch = undefined
    }
    for (let i = 0; i < n; i++) {
      const record = records[i] as PipelineRecord
      try {
        if (timedOut[i]) throw recordError(`process() did not return within ${this.#timeout} ms (the timeout setting); it was stopped`)
        if (state.failed[i]) {
          const e = state.outputs[i] as { stack?: unknown; message?: unknown } | undefined
          const first = typeof e?.stack === 'string' ? e.stack.split('\n')[0] : typeof e?.message === 'string' ? e.message : String(e)
          throw recordError(`process() threw: ${first}`, e)
        }
        out[i] = this.#fromJs(state.outputs[i], record)
      } catch (err) {
        out[i] = failRecord(this.#label, record, err)
      }
    }
    return out
  }

  /** One call with the time limit; false when it timed out. */
  #run(): boolean {
    try {
      RUN_BATCH.runInContext(this.#context, { timeout: this.#timeout })
      return true
    } catch (err) {
      if ((err as { code?: string })?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return false
      throw err
    }
  }

  /** The record as the script sees it, built inside the context (its own objects, arrays and byte arrays). */
  #toJs(r: PipelineRecord): JsRecord {
    return this.#sandbox.__importRecord(r)
  }

  #fromJs(value: unknown, input: PipelineRecord): ProcessedRecord {
    if (value === null || value === undefined) return filterRecord()
    if (typeof value !== 'object') throw recordError(`process() must return a record or null, not a ${typeof value}`)
    if (typeof (value as { then?: unknown }).then === 'function') throw recordError('process() returned a Promise; it must return the record (or null) itself')
    if (Array.isArray(value) || !RECORD_FIELDS.some((f) => f in value)) {
      throw recordError(`process() must return a record (the one it got, or new Record()) or null, not ${Array.isArray(value) ? 'an array' : 'an object without Position, Operation, Metadata, Key or Payload'}`)
    }
    const js = value as JsRecord
    const op = js.Operation ?? 'create'
    if (typeof op !== 'string' || !(OPERATIONS as readonly string[]).includes(op)) {
      throw recordError(`the returned record's Operation ${JSON.stringify(op)} is not one of ${OPERATIONS.join(', ')}`)
    }
    const metadata: { [k: string]: string } = {}
    if (js.Metadata !== null && js.Metadata !== undefined) {
      if (typeof js.Metadata !== 'object') throw recordError("the returned record's Metadata is not an object")
      for (const [k, v] of Object.entries(js.Metadata as object)) if (v !== undefined && v !== null) metadata[k] = String(v)
    }
    let position = toBytes(js.Position, 'Position')
    if (position === null || position.length === 0) position = input.position
    const payload = js.Payload ?? { Before: null, After: null }
    return {
      position,
      operation: op as Operation,
      metadata,
      key: toData(js.Key, 'Key'),
      payload: { before: toData(payload.Before, 'Payload.Before'), after: toData(payload.After, 'Payload.After') },
    }
  }
}

const RECORD_FIELDS = ['Position', 'Operation', 'Metadata', 'Key', 'Payload']

function toBytes(v: unknown, name: string): Buffer | null {
  if (v === null || v === undefined) return null
  if (isBytes(v)) return Buffer.from(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength))
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  if (Array.isArray(v) && v.every((b) => typeof b === 'number')) return Buffer.from(v as number[])
  throw recordError(`the returned record's ${name} is not bytes, a string or null`)
}

function toData(v: unknown, name: string): Data {
  if (v === null || v === undefined) return null
  if (isBytes(v) || typeof v === 'string') return toBytes(v, name)
  if (isGoMap(v) || (typeof v === 'object' && !Array.isArray(v))) {
    try {
      return structuredClone(v) as Data
    } catch (err) {
      throw recordError(`the returned record's ${name} cannot be copied: ${(err as Error).message}`, err)
    }
  }
  throw recordError(`the returned record's ${name} is ${Array.isArray(v) ? 'an array' : `a ${typeof v}`}; use RawData(...), an object (StructuredData()) or null`)
}

/** `custom.javascript`: runs the user's `process(record)` function on every record. */
export const customJavascript: ProcessorPlugin<JavascriptSettings> = {
  name: 'custom.javascript',
  summary: 'Run custom JavaScript code on every record.',
  settings: javascriptSettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'custom.javascript')
    const script = settings.script ?? ''
    const path = settings['script.path'] ?? ''
    if (script !== '' && path !== '') throw settingError(label, 'script', 'only one of script and script.path may be given')
    if (script === '' && path === '') throw settingError(label, 'script', 'one of script and script.path is required')
    if (!(settings.timeout > 0)) throw settingError(label, 'timeout', 'must be greater than 0')
    let source = script
    if (path !== '') {
      try {
        source = fs.readFileSync(path, 'utf8')
      } catch (err) {
        throw settingError(label, 'script.path', `cannot read ${path}: ${(err as Error).message}`)
      }
    }
    return new JavascriptProcessor(label, source, settings.timeout, ctx.logger, path !== '' ? 'script.path' : 'script', path !== '' ? path : 'script')
  },
}
