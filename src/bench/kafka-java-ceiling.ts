/**
 * The ceiling of `bench log --backend kafka`: Kafka's own Java performance tools,
 * `org.apache.kafka.tools.ProducerPerformance` and `ConsumerPerformance` from the
 * `org.apache.kafka:kafka-tools` artifact (resolved by `scripts/kafka.sh tools`, the same Maven
 * step as the broker), run against the same broker with the same work as ours:
 *
 * - the same records: 116 bytes each (ours: a 16-byte key and a 100-byte value; the tool has no
 *   keys, so its value is 116 bytes), spread over the same partitions (`RoundRobinPartitioner`, as
 *   our distinct keys hash evenly), `acks=all`, idempotence on, no compression; the producer gets
 *   the fastest batching found on the bench machine (`batch.size` 1 MiB, `linger.ms` 50: ours
 *   coalesces sends and splits requests at about 900 KB per partition);
 * - the same warm-up: each tool first runs on a warm-up topic with as many records as ours is
 *   warmed with, in the same JVM (a tiny launcher calls the tool's `main` twice), so JIT,
 *   connections and metadata are warm when the measured run starts;
 * - the same clock: produce until every record is acknowledged; consume from before the group
 *   join until the last record (`nMsg.sec`, not `fetch.nMsg.sec`), with polls as large as ours
 *   (`max.poll.records=10000`).
 * @module
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const ROOT = path.resolve(import.meta.dirname, '../..')

/** Bytes of one bench record (key + value), the tool's `--record-size`. */
export const RECORD_BYTES = 116

const LAUNCHER = `
import java.util.Arrays;

/** Runs a Kafka tool twice in one JVM: a warm-up, then the measured run (arguments split by "--next"). */
public class TributaryPerfLauncher {
  public static void main(String[] args) throws Exception {
    String tool = args[0];
    int split = Arrays.asList(args).indexOf("--next");
    String[] warm = Arrays.copyOfRange(args, 1, split);
    String[] measured = Arrays.copyOfRange(args, split + 1, args.length);
    Class<?> cls = Class.forName(tool);
    java.lang.reflect.Method main = cls.getMethod("main", String[].class);
    System.out.println("#warm-up");
    main.invoke(null, (Object) warm);
    System.out.println("#measured");
    main.invoke(null, (Object) measured);
  }
}
`

/** The directory of kafka-tools and its dependencies (resolving them with Maven on first use). */
export function kafkaToolsDir(): string {
  const resolved = spawnSync('bash', [path.join(ROOT, 'scripts/kafka.sh'), 'tools'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const dir = resolved.stdout.trim().split('\n').pop() ?? ''
  if (resolved.status !== 0 || !fs.existsSync(dir)) throw new Error('bench: could not resolve org.apache.kafka:kafka-tools (scripts/kafka.sh tools); is Maven Central reachable?')
  return dir
}

function launcherFile(): string {
  const dir = path.join(ROOT, 'node_modules', '.cache', 'tributary-perf')
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, 'TributaryPerfLauncher.java')
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== LAUNCHER) fs.writeFileSync(file, LAUNCHER)
  return file
}

function runTool(toolsDir: string, tool: string, warm: string[], measured: string[]): string {
  // Java's source launcher compiles the launcher in memory (a JDK, Java 11+, is already needed by the broker's tools).
  const run = spawnSync('java', ['-Xms256m', '-Xmx512m', '-XX:+UseG1GC', '-cp', path.join(toolsDir, '*'), launcherFile(), tool, ...warm, '--next', ...measured], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  if (run.status !== 0) throw new Error(`bench: ${tool} failed (exit ${run.status}):\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`)
  return run.stdout.slice(run.stdout.indexOf('#measured'))
}

/** Options of one ceiling round. */
export interface JavaCeilingRound {
  toolsDir: string
  brokers: string
  warmTopic: string
  warmRecords: number
  topic: string
  records: number
  /** Records per send call of ours, and partitions (for the record). */
  batch: number
  partitions: number
}

function producerProps(o: JavaCeilingRound): string[] {
  return [
    `bootstrap.servers=${o.brokers}`,
    'acks=all',
    'enable.idempotence=true',
    'compression.type=none',
    'partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner',
    // The fastest settings found for the Java producer on the bench machine: batches of up to
    // 1 MiB per partition (ours splits requests at about 900 KB per partition) and time to fill them.
    'batch.size=1048576',
    'linger.ms=50',
    'buffer.memory=134217728',
    'client.id=bench-java-producer',
  ]
}

/** ProducerPerformance: records/s of the measured run (after a warm-up run in the same JVM). */
export function javaProduce(o: JavaCeilingRound): number {
  const args = (topic: string, n: number) => ['--topic', topic, '--num-records', String(n), '--record-size', String(RECORD_BYTES), '--throughput', '-1', '--producer-props', ...producerProps(o)]
  const out = runTool(o.toolsDir, 'org.apache.kafka.tools.ProducerPerformance', args(o.warmTopic, o.warmRecords), args(o.topic, o.records))
  // Progress lines every 5 s, then the summary: "1000000 records sent, 412345.6 records/sec (45.6 MB/sec), ... 99.9th."
  const match = [...out.matchAll(/(\d+) records sent, ([\d.]+) records\/sec.*50th/g)].pop()
  if (!match || Number(match[1]) !== o.records) throw new Error(`bench: unexpected ProducerPerformance output:\n${out.slice(-1000)}`)
  return Math.round(Number(match[2]))
}

/** ConsumerPerformance: records/s from before the group join to the last record (after a warm-up run). */
export function javaConsume(o: JavaCeilingRound): number {
  // Polls as large as ours (maxPollRecords 10,000).
  const config = path.join(path.dirname(launcherFile()), 'consumer.properties')
  fs.writeFileSync(config, 'max.poll.records=10000\nclient.id=bench-java-consumer\n')
  const args = (topic: string, n: number) => ['--bootstrap-server', o.brokers, '--topic', topic, '--messages', String(n), '--timeout', '60000', '--hide-header', '--consumer.config', config]
  const out = runTool(o.toolsDir, 'org.apache.kafka.tools.ConsumerPerformance', args(o.warmTopic, o.warmRecords), args(o.topic, o.records))
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const line = out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.split(',').length >= 10)
    .pop()
  const fields = line?.split(',').map((f) => f.trim()) ?? []
  const consumed = Number(fields[4])
  const perSec = Number(fields[5])
  if (!line || !(consumed >= o.records) || !Number.isFinite(perSec)) throw new Error(`bench: unexpected ConsumerPerformance output:\n${out.slice(-1000)}`)
  return Math.round(perSec)
}
