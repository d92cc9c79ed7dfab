import { openEmbeddedLog, type GroupConsumer } from '../../src/log/index.ts'
import { Monitor } from '../../src/monitor/index.ts'
import { captureLogger, testConfig } from './helpers.ts'
import { runScenarios, type ScenarioDriver } from './scenarios.ts'

runScenarios('embedded log', async (): Promise<ScenarioDriver> => {
  const log = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
  const { logger } = captureLogger()
  const cluster = 'local'
  const clusterConfig = { log: 'memory:', 'offset-refresh': 0.05, 'poll-interval': 0.02 }
  const monitors: Monitor[] = []
  const startMonitor = async (overrides: { [section: string]: unknown } = {}): Promise<Monitor> => {
    const monitor = new Monitor(testConfig({ [cluster]: clusterConfig }, overrides), { logger, logs: { [cluster]: log } })
    await monitor.start()
    monitors.push(monitor)
    return monitor
  }
  const consumers = new Map<string, GroupConsumer>()
  const member = async (group: string, topic: string): Promise<GroupConsumer> => {
    let consumer = consumers.get(group)
    if (!consumer) {
      consumer = log.consumer({ groupId: group, topics: [topic], sessionTimeoutMs: 60_000 })
      consumers.set(group, consumer)
    }
    while (consumer.assignment().length === 0) await consumer.poll({ timeoutMs: 50 })
    return consumer
  }
  const monitor = await startMonitor()
  return {
    cluster,
    monitor,
    startMonitor,
    createTopic: (topic) => log.admin.createTopic({ name: topic, partitions: 1 }),
    produce: async (topic, count) => {
      await log.producer().send(Array.from({ length: count }, (_, i) => ({ topic, partition: 0, value: `v${i}` })))
    },
    commit: async (group, topic, offset) => {
      const consumer = await member(group, topic)
      await consumer.poll({ timeoutMs: 0 })
      await consumer.commit([{ topic, partition: 0, offset }])
    },
    deleteGroup: async (group, topic) => {
      await consumers.get(group)?.close()
      consumers.delete(group)
      await log.admin.deleteTopic(topic)
    },
    close: async () => {
      for (const m of monitors) await m.stop()
      for (const c of consumers.values()) await c.close()
      await log.close()
    },
  }
})
