import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { openEmbeddedLog, openLog, type Log } from '../../src/log/index.ts'
import { Monitor } from '../../src/monitor/index.ts'
import { captureLogger, eventually, KAFKA_BROKERS, testConfig, uid } from './helpers.ts'

interface Backend {
  readonly name: string
  open(): Promise<Log>
  cluster(log: Log): { config: unknown; logs?: { [cluster: string]: Log } }
  sessionTimeout: number
}

const backends: Backend[] = [
  {
    name: 'embedded log',
    open: async () => openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 }),
    cluster: (log) => ({ config: { log: 'memory:', 'offset-refresh': 0.05, 'poll-interval': 0.02 }, logs: { c: log } }),
    sessionTimeout: 2,
  },
  {
    name: 'kafka',
    open: () => openLog(`kafka://${KAFKA_BROKERS}`),
    cluster: () => ({ config: { servers: [KAFKA_BROKERS], 'offset-refresh': 0.1, 'topic-refresh': 1, 'self-group': false } }),
    sessionTimeout: 6,
  },
]

for (const backend of backends) {
  describe(`leader election: ${backend.name}`, { timeout: 120_000 }, () => {
    it('lets exactly one monitor notify, and another take over when the leader stops', async () => {
      const log = await backend.open()
      const coordinationTopic = `monitor-leader-${uid()}`
      const monitors: { monitor: Monitor; lines: { [k: string]: unknown }[] }[] = []
      const consumer = { close: async () => {} }
      const overlaps: string[] = []
      let leaderNow: string | undefined
      const everLed = new Set<{ monitor: Monitor; lines: { [k: string]: unknown }[] }>()
      try {
        const start = async (name: string): Promise<{ monitor: Monitor; lines: { [k: string]: unknown }[] }> => {
          const { logger, lines } = captureLogger('info')
          const { config, logs } = backend.cluster(log)
          const monitor = new Monitor(
            testConfig(
              { c: config },
              {
                notifiers: { console: { 'class-name': 'log', interval: 0.1, threshold: 'WARN' } },
                coordination: { log: logs ? 'c' : `kafka://${KAFKA_BROKERS}`, topic: coordinationTopic, group: `monitors-${coordinationTopic}`, 'session-timeout': backend.sessionTimeout },
              },
            ),
            { logger, logs, coordinationLog: logs ? undefined : log, memberName: name },
          )
          await monitor.start()
          const entry = { monitor, lines }
          monitor.elector?.onChange((leading) => {
            if (leading && leaderNow !== undefined && leaderNow !== name) overlaps.push(`${name} leads while ${leaderNow} still does`)
            if (leading) everLed.add(entry)
            if (leading) leaderNow = name
            else if (leaderNow === name) leaderNow = undefined
          })
          if (monitor.isLeader) {
            leaderNow = name
            everLed.add(entry)
          }
          monitors.push(entry)
          return entry
        }
        const notified = (lines: { [k: string]: unknown }[]): number => lines.filter((l) => l.notifier === 'console' && l.event === 'open').length

        // A group that lags and stopped committing: every monitor sees it as not OK.
        const topic = `lagging-${uid()}`
        await log.admin.createTopic({ name: topic, partitions: 1 })
        await log.producer().send(Array.from({ length: 10 }, (_, i) => ({ topic, partition: 0, value: `v${i}` })))
        const group = `laggard-${uid()}`

        const a = await start('a')
        await a.monitor.elector?.waitFor(true)
        const b = await start('b')

        const member = log.consumer({ groupId: group, topics: [topic], sessionTimeoutMs: 30_000 })
        consumer.close = () => member.close()
        while (member.assignment().length === 0) await member.poll({ timeoutMs: 100 })
        // Commit only once the monitors know the topic's high watermark (commits before that are dropped).
        await eventually(() => (a.monitor.storage.topicOffsets('c', topic)?.[0] === 10 && b.monitor.storage.topicOffsets('c', topic)?.[0] === 10 ? true : undefined), 'high watermarks')
        await member.commit([{ topic, partition: 0, offset: 2 }])

        await eventually(() => (notified(a.lines) + notified(b.lines) >= 3 ? true : undefined), 'notifications from the leader')
        const leaders = monitors.filter((m) => m.monitor.isLeader)
        assert.equal(leaders.length, 1, 'exactly one leader')
        const [leader] = leaders
        const follower = leader === a ? b : a
        for (const m of [a, b]) {
          if (!everLed.has(m)) assert.equal(notified(m.lines), 0, 'a monitor that never led sent nothing')
        }
        assert.notEqual(follower.monitor.evaluator.evaluate('c', group).status, 'OK', 'though it evaluates the same group')

        const metrics = await leader.monitor.metricsText()
        assert.match(metrics, /tributary_monitor_leader 1/)

        await leader.monitor.stop()
        await follower.monitor.elector?.waitFor(true)
        const before = notified(follower.lines)
        await eventually(() => (notified(follower.lines) > before ? true : undefined), 'notifications from the new leader')
        assert.match(await follower.monitor.metricsText(), /tributary_monitor_leader 1/)
        assert.deepEqual(overlaps, [], 'never two leaders at once')
      } finally {
        await consumer.close()
        for (const m of monitors) await m.monitor.stop()
        await log.close()
      }
    })
  })
}
