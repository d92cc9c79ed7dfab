/**
 * Word count, the "hello world" of stream processing, as a Tributary processor.
 *
 * Sentences arrive on `sentences` keyed by anything. The `word-count` group splits each sentence and
 * loops every word back keyed by the word itself (`ctx.loopback`): the loop topic is co-partitioned
 * with the group table, so each word's counter lives in exactly one partition. A view prints the
 * counts once everything is processed.
 *
 *   npm run example -- word-count to be or not to be          (embedded log in memory)
 *   echo "to be or not to be" | npm run example -- word-count
 *   npm run example -- word-count --kafka to be or not to be  (Kafka on KAFKA_BROKERS or 127.0.0.1:9092)
 *   npm run example -- word-count --log file:./.wc ...        (files: counts add up across runs)
 *
 * Inside your project import from `tributary/processor`, `tributary/core` and `tributary/log`.
 */
import fs from 'node:fs'
import { codecs } from '../src/core/index.ts'
import { openLog, type Log } from '../src/log/index.ts'
import { Emitter, Processor, View, defineGroup, input, loop, persist, type Context } from '../src/processor/index.ts'
import { memoryStore } from '../src/state/index.ts'
import { exampleArgs } from './args.ts'

/** The processor group: sentences in, one counter per word in `<prefix>word-count-table`. */
export function wordCountGraph(prefix = '') {
  return defineGroup(
    `${prefix}word-count`,
    input(`${prefix}sentences`, codecs.string(), (ctx, sentence: string) => {
      for (const word of sentence.toLowerCase().split(/[^\p{L}\p{N}']+/u)) if (word) ctx.loopback(word, 1)
    }),
    loop(codecs.json<number>(), (ctx: Context<number>, n: number) => ctx.setValue((ctx.value() ?? 0) + n)),
    persist(codecs.json<number>()),
  )
}

/** Counts the words of `sentences` on `log`; resolves with the table's counts of those words. */
export async function runWordCount(log: Log, sentences: string[], prefix = ''): Promise<Map<string, number>> {
  const graph = wordCountGraph(prefix)
  const topic = graph.inputStreams[0].topic
  if (!(await log.admin.listTopics()).includes(topic)) await log.admin.createTopic({ name: topic, partitions: 4 })
  const memory = log.backend === 'memory'
  const storage = memory ? memoryStore() : undefined
  const processor = new Processor(log, graph, { storage, viewStorage: storage, commitIntervalMs: 100 })
  const running = processor.run()
  try {
    const emitter = new Emitter(log, topic, codecs.string())
    for (const [i, sentence] of sentences.entries()) emitter.emit(`s${i}`, sentence)
    await emitter.close()
    // Done when the group has committed both the sentences and the words it looped back.
    for (const t of [topic, graph.loopStream]) {
      for (;;) {
        const lag = (await log.offsets.lag(graph.group, t)).reduce((n, p) => n + p.lag, 0)
        if (lag === 0 && processor.state === 'running') break
        if (processor.state === 'failed') throw processor.error
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    const view = new View(log, graph.groupTable, codecs.json<number>(), { storage: storage ?? memoryStore() })
    const viewRun = view.run()
    await view.waitRunning()
    const words = new Set(sentences.flatMap((s) => s.toLowerCase().split(/[^\p{L}\p{N}']+/u)).filter(Boolean))
    const counts = new Map([...words].sort().map((w) => [w, view.get(w) ?? 0]))
    await view.stop()
    await viewRun
    return counts
  } finally {
    await processor.stop()
    await running
  }
}

if (import.meta.main) {
  const { log: url, rest, values } = exampleArgs(process.argv.slice(2), 'memory:', ['prefix'])
  const sentences = rest.length > 0 ? [rest.join(' ')] : fs.readFileSync(0, 'utf8').split('\n').filter((l) => l.trim())
  const log = await openLog(url)
  try {
    const counts = await runWordCount(log, sentences, (values.prefix as string | undefined) ?? '')
    for (const [word, n] of counts) console.log(`${word}\t${n}`)
  } finally {
    await log.close()
  }
}
