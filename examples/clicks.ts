/**
 * Clicks per user, served over HTTP: an emitter writes click events keyed by user, the
 * `click-counter` group counts them in its table, and a view of that table answers
 * `GET /users/:user` with `{"user":"alice","clicks":12}` (and `GET /users` with every user).
 *
 *   npm run example -- clicks                   embedded log in ./.tributary-clicks, HTTP on :8080
 *   npm run example -- clicks --kafka           Kafka on KAFKA_BROKERS or 127.0.0.1:9092
 *   npm run example -- clicks --port 9000 --rate 50
 *   curl localhost:8080/users/user-3
 *
 * Stop with Ctrl-C. `--once` emits `--clicks` events, prints one user's count fetched over HTTP and
 * exits (a self-check). Inside your project import from `tributary/processor` and friends.
 */
import path from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { codecs } from '../src/core/index.ts'
import { openLog, type Log } from '../src/log/index.ts'
import { Emitter, Processor, View, defineGroup, input, persist, type Context } from '../src/processor/index.ts'
import { lmdbStore, memoryStore, type StoreBuilder } from '../src/state/index.ts'
import { exampleArgs } from './args.ts'

/** A click event. */
export interface Click {
  user: string
  page: string
  at: number
}

/** The processor group: one counter per user in `<prefix>click-counter-table`. */
export function clicksGraph(prefix = '') {
  return defineGroup(
    `${prefix}click-counter`,
    input(`${prefix}clicks`, codecs.json<Click>(), (ctx: Context<number>) => ctx.setValue((ctx.value() ?? 0) + 1)),
    persist(codecs.json<number>()),
  )
}

/** The running app. */
export interface ClicksApp {
  /** Base URL of the HTTP server. */
  readonly url: string
  readonly emitter: Emitter<Click>
  readonly processor: Processor
  readonly view: View<number>
  /** Stops everything (not the log). */
  close(): Promise<void>
}

/** HTTP routes over the view. */
export function clicksServer(view: View<number>): FastifyInstance {
  const app = Fastify()
  app.get<{ Params: { user: string } }>('/users/:user', async (request, reply) => {
    if (view.state !== 'running' && view.partitions === 0) return reply.code(503).send({ error: 'the view is starting' })
    return { user: request.params.user, clicks: view.get(request.params.user) ?? 0 }
  })
  app.get('/users', async () => Object.fromEntries(view.iterator()))
  return app
}

/** Starts the processor, the view and the HTTP server on `log`. */
export async function startClicks(log: Log, options: { port?: number; host?: string; stateDir?: string; prefix?: string } = {}): Promise<ClicksApp> {
  const graph = clicksGraph(options.prefix)
  const topic = graph.inputStreams[0].topic
  if (!(await log.admin.listTopics()).includes(topic)) await log.admin.createTopic({ name: topic, partitions: 4 })
  const stores = (role: string): StoreBuilder =>
    log.backend === 'memory' ? memoryStore() : lmdbStore({ dir: path.join(options.stateDir ?? '.tributary-clicks-state', role) })
  const processor = new Processor(log, graph, { storage: stores('processor'), commitIntervalMs: 200 })
  const running = processor.run()
  running.catch((err: unknown) => console.error('processor stopped:', err))
  await processor.waitForReady() // it creates the group table
  const view = new View(log, graph.groupTable, codecs.json<number>(), { storage: stores('view') })
  const viewRun = view.run()
  viewRun.catch((err: unknown) => console.error('view stopped:', err))
  await view.waitRunning()
  const server = clicksServer(view)
  const address = await server.listen({ port: options.port ?? 8080, host: options.host ?? '127.0.0.1' })
  const emitter = new Emitter(log, topic, codecs.json<Click>())
  return {
    url: address,
    emitter,
    processor,
    view,
    async close() {
      await server.close()
      await emitter.close()
      await processor.stop()
      await view.stop()
      await Promise.allSettled([running, viewRun])
    },
  }
}

if (import.meta.main) {
  const { log: url, values } = exampleArgs(process.argv.slice(2), 'file:./.tributary-clicks', ['port', 'rate', 'clicks', 'prefix'], ['once'])
  const log = await openLog(url)
  const app = await startClicks(log, { port: Number(values.port ?? 8080), prefix: values.prefix as string | undefined })
  const users = Array.from({ length: 20 }, (_, i) => `user-${i}`)
  const click = (i: number): Click => ({ user: users[i % users.length], page: `/page/${i % 7}`, at: Date.now() })
  if (values.once) {
    const n = Number(values.clicks ?? 100)
    for (let i = 0; i < n; i++) {
      const c = click(i)
      app.emitter.emit(c.user, c)
    }
    await app.emitter.flush()
    const topic = clicksGraph(values.prefix as string | undefined).inputStreams[0].topic
    const end = (await log.offsets.endOffsets(topic)).reduce((a, b) => a + b, 0)
    // Counts add up across runs: wait until the view serves every click ever emitted to the topic.
    const servedClicks = async (): Promise<number> =>
      Object.values((await (await fetch(`${app.url}/users`)).json()) as { [user: string]: number }).reduce((a, b) => a + b, 0)
    let served = await servedClicks()
    while (served < end) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      served = await servedClicks()
    }
    const res = await fetch(`${app.url}/users/user-0`)
    console.log(`GET /users/user-0 → ${res.status} ${await res.text()}`)
    console.log(`total clicks served: ${served} of ${end} emitted`)
    await app.close()
    await log.close()
  } else {
    console.log(`serving ${app.url}/users/:user — emitting ${values.rate ?? 20} clicks/s; Ctrl-C to stop`)
    let i = 0
    const timer = setInterval(() => {
      const c = click(i++)
      app.emitter.emit(c.user, c)
    }, 1000 / Number(values.rate ?? 20))
    process.once('SIGINT', () => {
      clearInterval(timer)
      void app.close().then(() => log.close())
    })
  }
}
