/**
 * The group graph: what a processor group reads, writes and keeps, as goka's `DefineGroup` with
 * `Input`, `Inputs`, `Output`, `Persist`, `Join`, `Lookup` and `Loop` edges.
 *
 * The names of the group table (`<group>-table`) and loopback stream (`<group>-loop`) are defined
 * here once, by {@link groupTable} and {@link loopStream}, and match goka's so both can share topics.
 *
 * @example
 * ```ts
 * const graph = defineGroup('click-counter',
 *   input('clicks', codecs.json<Click>(), (ctx: Context<number>) => ctx.setValue((ctx.value() ?? 0) + 1)),
 *   output('alerts', codecs.string()),
 *   persist(codecs.json<number>()),
 * )
 * graph.groupTable // 'click-counter-table'
 * ```
 * @module
 */
import type { Codec } from '../core/codec.ts'
import { TributaryError } from '../core/errors.ts'
import type { Context } from './context.ts'

/** The name of a consumer group (and processor group). */
export type Group = string
/** The name of an event-stream topic (`cleanup.policy=delete`). */
export type Stream = string
/** The name of a table topic (`cleanup.policy=compact`). */
export type Table = string

/**
 * Called for every input message with the message context and the decoded message. May return a
 * promise; messages of a partition are processed one at a time either way.
 */
export type ProcessCallback<M = any, S = any> = (ctx: Context<S>, message: M) => void | Promise<void>

/** The kinds of edges. */
export type EdgeKind = 'input' | 'output' | 'persist' | 'join' | 'lookup' | 'loop'

/** A topic of the graph with its codec (and, for inputs and the loop, its callback). */
export interface Edge {
  readonly kind: EdgeKind
  /** The topic; empty for `persist` and `loop` until {@link defineGroup} names them. */
  readonly topic: string
    readonly codec: Codec<any>
  readonly callback?: ProcessCallback
}

/** An edge or several (what `inputs` returns); {@link defineGroup} flattens them. */
export type EdgeArg = Edge | readonly Edge[]

/** The table topic of a group: `<group>-table`. */
export function groupTable(group: Group): Table {
  return `${group}-table`
}

/** The loopback topic of a group: `<group>-loop`. */
export function loopStream(group: Group): Stream {
  return `${group}-loop`
}

/**
 * An input stream: every message of `topic` is decoded with `codec` and passed to `callback`. The
 * topic must be co-partitioned with the other inputs, the joined tables and the group table.
 */
export function input<M, S = unknown>(topic: Stream, codec: Codec<M>, callback: ProcessCallback<M, S>): Edge {
  return { kind: 'input', topic, codec, callback: callback as ProcessCallback }
}

/** Several input streams sharing a codec and a callback. */
export function inputs<M, S = unknown>(topics: readonly Stream[], codec: Codec<M>, callback: ProcessCallback<M, S>): Edge[] {
  return topics.map((topic) => input(topic, codec, callback))
}

/** An output stream `ctx.emit` may write to. It need not be co-partitioned. */
export function output<M>(topic: Stream, codec: Codec<M>): Edge {
  return { kind: 'output', topic, codec }
}

/** The group table (`<group>-table`, compacted, co-partitioned), values encoded with `codec`. */
export function persist<S>(codec: Codec<S>): Edge {
  return { kind: 'persist', topic: '', codec }
}

/** A co-partitioned table read with `ctx.join(table)` for the message's key. */
export function join<V>(table: Table, codec: Codec<V>): Edge {
  return { kind: 'join', topic: table, codec }
}

/** A table of any partitioning, replicated whole, read with `ctx.lookup(table, key)`. */
export function lookup<V>(table: Table, codec: Codec<V>): Edge {
  return { kind: 'lookup', topic: table, codec }
}

/** The loopback stream (`<group>-loop`): `ctx.loopback(key, message)` writes to it, `callback` reads it. */
export function loop<M, S = unknown>(codec: Codec<M>, callback: ProcessCallback<M, S>): Edge {
  return { kind: 'loop', topic: '', codec, callback: callback as ProcessCallback }
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/

function graphError(group: string, problem: string, fix: string): TributaryError {
  return new TributaryError('TRIB_PROCESSOR_GRAPH', `group graph ${JSON.stringify(group)}: ${problem}; ${fix}`, { details: { group } })
}

/** The specification of a processor group. Build it with {@link defineGroup}. */
export class GroupGraph {
  readonly group: Group
  readonly edges: readonly Edge[]
  /** The group table edge, if the group persists state. */
  readonly groupTableEdge: Edge | undefined
  /** The loopback edge, if any. */
  readonly loopEdge: Edge | undefined
  readonly #byTopic = new Map<string, Edge>()
  readonly #byKind = new Map<EdgeKind, Map<string, Edge>>()

  constructor(group: Group, edges: readonly Edge[]) {
    this.group = group
    this.edges = edges.map((e) => {
      if (e.kind === 'persist') return { ...e, topic: groupTable(group) }
      if (e.kind === 'loop') return { ...e, topic: loopStream(group) }
      return e
    })
    for (const e of this.edges) {
      if (!this.#byTopic.has(e.topic)) this.#byTopic.set(e.topic, e)
      let ofKind = this.#byKind.get(e.kind)
      if (ofKind === undefined) this.#byKind.set(e.kind, (ofKind = new Map()))
      if (!ofKind.has(e.topic)) ofKind.set(e.topic, e)
    }
    // Looked up per message: computed once.
    this.groupTableEdge = this.edges.find((e) => e.kind === 'persist')
    this.loopEdge = this.edges.find((e) => e.kind === 'loop')
  }

  /** The input stream edges (without the loop). */
  get inputStreams(): Edge[] {
    return this.edges.filter((e) => e.kind === 'input')
  }

  get outputStreams(): Edge[] {
    return this.edges.filter((e) => e.kind === 'output')
  }

  get joinTables(): Edge[] {
    return this.edges.filter((e) => e.kind === 'join')
  }

  get lookupTables(): Edge[] {
    return this.edges.filter((e) => e.kind === 'lookup')
  }

  /** `<group>-table`. */
  get groupTable(): Table {
    return groupTable(this.group)
  }

  /** `<group>-loop`. */
  get loopStream(): Stream {
    return loopStream(this.group)
  }

  /** Topics the processor consumes in its group: the inputs and the loop. */
  get consumedTopics(): string[] {
    return this.edges.filter((e) => e.kind === 'input' || e.kind === 'loop').map((e) => e.topic)
  }

  /** The edge of `topic` of the given kind, if declared. */
  edge(topic: string, kind?: EdgeKind): Edge | undefined {
    if (kind === undefined) return this.#byTopic.get(topic)
    return this.#byKind.get(kind)?.get(topic)
  }

  /**
   * Checks goka's rules and a few more, throwing `TRIB_PROCESSOR_GRAPH` naming the offending edge:
   * a valid group name; at least one input; at most one `persist` and one `loop`; the group table
   * and loop topics used by no other edge; no topic declared twice (except as both input and output); codecs on every edge.
   */
  validate(): void {
    const group = this.group
    if (typeof group !== 'string' || !TOPIC_NAME.test(group)) {
      throw graphError(String(group), 'the group name must be 1-249 characters of [a-zA-Z0-9._-]', 'rename the group')
    }
    if (this.inputStreams.length === 0) throw graphError(group, 'it has no input stream', 'add at least one input(topic, codec, callback) edge')
    const persists = this.edges.filter((e) => e.kind === 'persist').length
    if (persists > 1) throw graphError(group, `it declares persist ${persists} times`, 'keep one persist edge: a group has one table')
    const loops = this.edges.filter((e) => e.kind === 'loop').length
    if (loops > 1) throw graphError(group, `it declares loop ${loops} times`, 'keep one loop edge')
    const seen = new Map<string, EdgeKind>()
    for (const e of this.edges) {
      if (!e || typeof e !== 'object' || !('kind' in e)) throw graphError(group, `an edge is ${String(e)}`, 'pass edges made by input(), output(), persist(), join(), lookup() or loop()')
      if (!e.codec || typeof e.codec.encode !== 'function' || typeof e.codec.decode !== 'function') {
        throw graphError(group, `the ${e.kind} edge of ${JSON.stringify(e.topic)} has no codec`, 'pass a codec such as codecs.string()')
      }
      if ((e.kind === 'input' || e.kind === 'loop') && typeof e.callback !== 'function') {
        throw graphError(group, `the ${e.kind} edge of ${JSON.stringify(e.topic)} has no callback`, 'pass a callback (ctx, message) => ...')
      }
      if (!TOPIC_NAME.test(e.topic)) {
        throw graphError(group, `the ${e.kind} edge names topic ${JSON.stringify(e.topic)}`, 'topic names are 1-249 characters of [a-zA-Z0-9._-]')
      }
      if (e.kind !== 'persist' && e.topic === this.groupTable) {
        throw graphError(group, `the ${e.kind} edge uses the group table ${e.topic}`, 'the group table is written with ctx.setValue and read with ctx.value; other groups read it with lookup or join')
      }
      if (e.kind !== 'loop' && e.topic === this.loopStream) {
        throw graphError(group, `the ${e.kind} edge uses the loop topic ${e.topic}`, 'write to it with ctx.loopback and read it with a loop(codec, callback) edge')
      }
      const before = seen.get(e.topic)
      const inputAndOutput = (before === 'input' && e.kind === 'output') || (before === 'output' && e.kind === 'input')
      if (before !== undefined && !inputAndOutput) {
        throw graphError(group, `topic ${e.topic} is declared twice (${before} and ${e.kind})`, 'declare each topic once')
      }
      seen.set(e.topic, e.kind)
    }
  }
}

/**
 * Defines and validates a processor group (goka's `DefineGroup` + `Validate`). Throws
 * `TRIB_PROCESSOR_GRAPH` when the graph breaks a rule; see {@link GroupGraph.validate}.
 */
export function defineGroup(group: Group, ...edges: EdgeArg[]): GroupGraph {
  const graph = new GroupGraph(group, edges.flat())
  graph.validate()
  return graph
}
