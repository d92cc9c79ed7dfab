/**
 * The ceiling of `bench log --backend kafka`: the Java client (`kafka-clients`, one of the broker's
 * own jars, resolved from Maven Central by `scripts/kafka.sh resolve`) doing our bench's work,
 * phase by phase — `src/bench/java/KafkaClientCeiling.java`, compiled here with `javac` and cached
 * under `node_modules/.cache` by a hash of its source.
 *
 * One JVM per bench, as ours is one process: a warm-up of every phase with as many records as ours
 * is warmed with, then one measured round per request (alternating with ours), each phase on a fresh
 * topic with our partition count: `produce-pipelined` (all sends, then flush), `produce` (sends of
 * `batch` records each followed by `flush()`, as a caller awaiting each batch) and `consume` (a
 * fresh group from the earliest offset, timed from before the join to the last record). JVM start
 * is outside every clock.
 * @module
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'

const ROOT = path.resolve(import.meta.dirname, '../..')
const SOURCE = path.join(import.meta.dirname, 'java', 'KafkaClientCeiling.java')
const CLASS = 'KafkaClientCeiling'

/** The phases the ceiling measures, in the order it runs them. */
export const JAVA_PHASES = ['produce-pipelined', 'produce', 'consume'] as const
/** One of {@link JAVA_PHASES}. */
export type JavaPhase = (typeof JAVA_PHASES)[number]

/** The directory of the broker's jars, kafka-clients among them (resolving them with Maven on first use). */
export function kafkaLibsDir(): string {
  const resolved = spawnSync('bash', [path.join(ROOT, 'scripts/kafka.sh'), 'resolve'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const dir = resolved.stdout.trim().split('\n').pop() ?? ''
  if (resolved.status !== 0 || !fs.existsSync(path.join(dir))) {
    throw new Error(`bench: could not resolve the Kafka jars (scripts/kafka.sh resolve exited ${resolved.status}); is Maven Central reachable?\n${resolved.stderr.slice(-1000)}`)
  }
  return dir
}

function jdkTool(name: 'java' | 'javac'): string {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', name) : name
}

/** Options of {@link compileJavaCeiling}. */
export interface CompileOptions {
  /** Directory of the jars to compile against (kafka-clients and its dependencies). */
  libsDir: string
  /** The compiler. Default `$JAVA_HOME/bin/javac`, else `javac` from `PATH`. */
  javac?: string
  /** Where compiled classes are cached, one directory per source hash. Default `node_modules/.cache/tributary-kafka-ceiling`. */
  cacheDir?: string
}

/** Compiles the ceiling program unless this source is already compiled; returns its class directory. */
export function compileJavaCeiling(options: CompileOptions): string {
  const source = fs.readFileSync(SOURCE)
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16)
  const cacheDir = options.cacheDir ?? path.join(ROOT, 'node_modules', '.cache', 'tributary-kafka-ceiling')
  const classDir = path.join(cacheDir, hash)
  if (fs.existsSync(path.join(classDir, `${CLASS}.class`))) return classDir
  const javac = options.javac ?? jdkTool('javac')
  const partial = `${classDir}.partial-${process.pid}`
  fs.rmSync(partial, { recursive: true, force: true })
  fs.mkdirSync(partial, { recursive: true })
  try {
    const run = spawnSync(javac, ['-cp', path.join(options.libsDir, '*'), '-d', partial, SOURCE], { encoding: 'utf8' })
    if (run.error) {
      const missing = (run.error as NodeJS.ErrnoException).code === 'ENOENT'
      throw new Error(
        missing
          ? `bench: javac not found (${javac}): the Kafka ceiling compiles ${path.relative(ROOT, SOURCE)}; install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless) or set JAVA_HOME`
          : `bench: could not run javac (${javac}): ${run.error.message}`,
      )
    }
    if (run.status !== 0) throw new Error(`bench: javac failed on ${path.relative(ROOT, SOURCE)} against ${options.libsDir} (exit ${run.status}):\n${run.stderr.slice(-2000)}`)
    // Another run may have finished the same hash first: keep its copy.
    if (!fs.existsSync(classDir)) fs.renameSync(partial, classDir)
    return classDir
  } finally {
    fs.rmSync(partial, { recursive: true, force: true })
  }
}

/** Options of the ceiling program. */
export interface JavaCeilingOptions {
  libsDir: string
  classDir: string
  brokers: string
  /** Prefix of the topics the program creates (and deletes after each round). */
  topicPrefix: string
  /** Records of each measured phase. */
  records: number
  /** Records of the warm-up of every phase, run once when the program starts. */
  warm: number
  /** Records per awaited send (the `produce` phase). */
  batch: number
  partitions: number
  /**
   * `producer.KEY=VALUE` / `consumer.KEY=VALUE` settings over the program's own (`acks=all`,
   * idempotence, no compression, `batch.size` 65536, `linger.ms` 5, `max.poll.records` 10,000).
   * The bench passes none: no other setting tried was reliably faster (docs/benchmarks.md).
   */
  settings?: readonly string[]
}

/** A measured phase: the records the program counted (acknowledged or received) and its time. */
export interface JavaPhaseResult {
  records: number
  seconds: number
  perSec: number
}

/**
 * The ceiling program running in one JVM for a whole bench, as our process does: started (and
 * warmed up) once, then one measured round per {@link JavaCeiling.round} call, so rounds can
 * alternate with ours.
 */
export class JavaCeiling {
  readonly #child: ChildProcessWithoutNullStreams
  readonly #records: number
  readonly #lines: string[] = []
  #wake: (() => void) | undefined
  #stderr = ''
  #closed: { code: number | null; error?: Error } | undefined

  private constructor(child: ChildProcessWithoutNullStreams, records: number) {
    this.#child = child
    this.#records = records
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return
      this.#lines.push(line)
      this.#wake?.()
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-64 * 1024)
    })
    child.on('error', (error) => {
      this.#closed = { code: null, error }
      this.#wake?.()
    })
    child.on('close', (code) => {
      this.#closed ??= { code }
      this.#wake?.()
    })
  }

  /** Starts the program; resolves once it has reached the broker and warmed up. */
  static async start(o: JavaCeilingOptions): Promise<JavaCeiling> {
    const args = ['-Xms256m', '-Xmx512m', '-XX:+UseG1GC', '-Dlog4j2.level=WARN', '-cp', `${path.join(o.libsDir, '*')}${path.delimiter}${o.classDir}`, CLASS]
    args.push('--brokers', o.brokers, '--topic-prefix', o.topicPrefix, '--records', String(o.records), '--warm', String(o.warm), '--batch', String(o.batch), '--partitions', String(o.partitions))
    args.push(...(o.settings ?? []))
    const ceiling = new JavaCeiling(spawn(jdkTool('java'), args, { stdio: ['pipe', 'pipe', 'pipe'] }), o.records)
    try {
      await ceiling.#expect('ready')
    } catch (err) {
      ceiling.#child.kill()
      throw err
    }
    return ceiling
  }

  /** Runs one measured round of every phase; returns each phase's figures. */
  async round(): Promise<Record<JavaPhase, JavaPhaseResult>> {
    this.#child.stdin.write('round\n')
    const result = {} as Record<JavaPhase, JavaPhaseResult>
    for (const phase of JAVA_PHASES) {
      const r = JSON.parse(await this.#expect('phase')) as JavaPhaseResult & { phase: string }
      if (r.phase !== phase || r.records !== this.#records || !(r.seconds > 0)) throw new Error(`bench: the Kafka client ceiling printed an unexpected ${phase} line: ${JSON.stringify(r)}`)
      result[phase] = { records: r.records, seconds: r.seconds, perSec: r.perSec }
    }
    await this.#expect('done')
    return result
  }

  /** Ends the program (it deletes nothing more: each round deletes its topics). */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#child.stdin.end()
      await new Promise<void>((resolve) => {
        this.#wake = resolve
        if (this.#closed) resolve()
      })
    }
    if (this.#closed?.code !== 0) throw this.#failure()
  }

  /** The next JSON line, which must hold `field`; a clear error if the program ended instead. */
  async #expect(field: string): Promise<string> {
    for (;;) {
      const line = this.#lines.shift()
      if (line !== undefined) {
        if (!(field in (JSON.parse(line) as object))) throw new Error(`bench: the Kafka client ceiling printed ${line} where "${field}" was expected`)
        return line
      }
      if (this.#closed) throw this.#failure()
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
      this.#wake = undefined
    }
  }

  #failure(): Error {
    const closed = this.#closed
    if (closed?.error) return new Error(`bench: could not run ${jdkTool('java')} for the Kafka ceiling: ${closed.error.message}`)
    const why = this.#stderr.split('\n').filter((line) => line.startsWith('KafkaClientCeiling:') || line.startsWith('Exception') || line.includes('Exception:'))
    return new Error(`bench: the Kafka client ceiling failed (exit ${closed?.code}): ${why.slice(0, 3).join('\n') || this.#stderr.slice(-2000)}`)
  }
}
