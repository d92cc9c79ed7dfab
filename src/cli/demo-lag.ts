/**
 * The demo's lag monitor: the Burrow-compatible monitor, in the demo's process, over the demo's own
 * log (an embedded log is shared in-process; Kafka is read from `__consumer_offsets`). Its dashboard
 * and API are mounted under `/lag/` (`/lag/v3/kafka/local/consumer/...`); the start page shows the
 * groups' status.
 * @module
 */
import { monitorRoutes, Monitor, parseConfig } from '../monitor/index.ts'
import type { RouteModule } from '../server/index.ts'
import type { DemoContext, DemoPart } from './demo-part.ts'

/** The monitor's cluster name in the demo (`/lag/v3/kafka/local/...`). */
export const LAG_CLUSTER = 'local'

/** Starts the monitor over the demo's log. */
export async function startLagMonitor(ctx: DemoContext): Promise<DemoPart> {
  const kafka = ctx.location.backend === 'kafka'
  const config = parseConfig({
    clusters: {
      [LAG_CLUSTER]: {
        ...(kafka ? { servers: ctx.location.brokers } : { log: ctx.url, 'poll-interval': 0.25 }),
        'offset-refresh': 1,
        'group-denylist': '^(tributary-monitor|burrow-)',
      },
    },
    storage: { intervals: 10 },
    evaluator: { 'expire-cache': 1 },
    dashboard: { refresh: 2 },
  })
  const monitor = new Monitor(config, { logger: ctx.logger, logs: kafka ? {} : { [LAG_CLUSTER]: ctx.log } })
  await monitor.start()
  ctx.print(`monitor: watching the consumer groups' lag on ${ctx.url}`)
  const routes: RouteModule = async (app) => {
    // The dashboard's page loads its script and data relative to itself: serve it at /lag/.
    app.addHook('onRequest', async (req, res) => {
      if (req.url === '/lag' || req.url.startsWith('/lag?')) return res.redirect(`/lag/${req.url.slice(4)}`)
    })
    await app.register(monitorRoutes(monitor), { prefix: '/lag' })
  }
  return {
    name: 'lag',
    routes: [routes],
    status() {
      const now = Date.now()
      return {
        dashboard: '/lag/',
        groups: (monitor.storage.groups(LAG_CLUSTER, now) ?? []).sort().map((group) => {
          const s = monitor.evaluator.evaluate(LAG_CLUSTER, group, now)
          return { group, status: s.status, totallag: s.totallag, partitions: s.partition_count }
        }),
      }
    },
    stop: () => monitor.stop(),
  }
}
