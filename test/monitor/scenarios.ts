/**
 * The monitor's group scenarios, run unchanged against every offset source (like the Log
 * conformance suite): a group that keeps up (OK), falls behind (WARN), stops committing while lag
 * remains (STOP → ERR), commits the same offset while lag grows (STALL), rewinds (REWIND), and is
 * deleted or expires (404).
 *
 * ```ts
 * runScenarios('embedded', async () => embeddedDriver())
 * ```
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Monitor } from '../../src/monitor/index.ts'
import { api, eventually, groupStatus, uid, waitForCommit, waitForHwm } from './helpers.ts'

/** How the scenarios drive one backend. */
export interface ScenarioDriver {
  /** The cluster name in the monitor. */
  readonly cluster: string
  /** A started monitor over the backend (storage intervals: 4). */
  readonly monitor: Monitor
  /** Starts another monitor over the same backend with a config override (e.g. a short expire-group). */
  startMonitor(overrides: { [section: string]: unknown }): Promise<Monitor>
  createTopic(topic: string): Promise<void>
  /** Appends `count` records to partition 0. */
  produce(topic: string, count: number): Promise<void>
  /** Commits `offset` for partition 0 as `group` (joining the group first if needed). */
  commit(group: string, topic: string, offset: number): Promise<void>
  /** Deletes the group the backend's way (Kafka: DeleteGroups; embedded: its topic goes, with the offsets). */
  deleteGroup(group: string, topic: string): Promise<void>
  close(): Promise<void>
}

/** Time between commits, so the ring spans long enough that "stopped" is not mistaken. */
const PACE_MS = 300

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export function runScenarios(name: string, open: () => Promise<ScenarioDriver>): void {
  describe(`monitor scenarios: ${name}`, { timeout: 180_000 }, () => {
    let d: ScenarioDriver

    before(async () => {
      d = await open()
    })
    after(async () => {
      await d?.close()
    })

    /** A topic with one partition and a cursor of its high watermark. */
    async function setup(): Promise<{ topic: string; group: string; hwm: { value: number } }> {
      const topic = `lag-${uid()}`
      await d.createTopic(topic)
      return { topic, group: `group-${uid()}`, hwm: { value: 0 } }
    }

    /** Produces, waits until the monitor sees the new high watermark, commits, waits until it sees the commit. */
    async function step(s: { topic: string; group: string; hwm: { value: number } }, produce: number, offset: number, n: number): Promise<void> {
      if (n > 1) await pause(PACE_MS)
      if (produce > 0) {
        await d.produce(s.topic, produce)
        s.hwm.value += produce
      }
      await waitForHwm(d.monitor, d.cluster, s.topic, [s.hwm.value])
      await d.commit(s.group, s.topic, offset)
      await waitForCommit(d.monitor, d.cluster, s.group, s.topic, 0, offset, n)
    }

    it('reports a group that keeps up as OK, with complete 1 once the ring is full', async () => {
      const s = await setup()
      for (let i = 1; i <= 4; i++) await step(s, 10, 10 * i, i)
      const { code, body } = await groupStatus(d.monitor, d.cluster, s.group)
      assert.equal(code, 200)
      assert.equal(body.error, false)
      assert.equal(body.status.status, 'OK')
      assert.equal(body.status.totallag, 0)
      assert.equal(body.status.complete, 1)
      assert.equal(body.status.partition_count, 1)
      assert.deepEqual([body.status.partitions[0].status, body.status.partitions[0].end.offset, body.status.partitions[0].current_lag], ['OK', 40, 0])
      const consumers = await api(d.monitor, `/v3/kafka/${d.cluster}/topic/${s.topic}/consumers`)
      assert.deepEqual(consumers.body.consumers, [s.group])
    })

    it('reports a group that falls behind as WARN', async () => {
      const s = await setup()
      for (let i = 1; i <= 4; i++) await step(s, 10, 5 * i, i)
      const { body } = await groupStatus(d.monitor, d.cluster, s.group)
      assert.equal(body.status.status, 'WARN', JSON.stringify(body.status.partitions))
      assert.equal(body.status.partitions[0].status, 'WARN')
      assert.equal(body.status.totallag, 20)
      assert.deepEqual([body.status.maxlag.topic, body.status.maxlag.partition, body.status.maxlag.current_lag], [s.topic, 0, 20])
      const onlyBad = await api(d.monitor, `/v3/kafka/${d.cluster}/consumer/${s.group}/status`)
      assert.equal(onlyBad.body.status.partitions.length, 1, '/status lists the non-OK partitions')
    })

    it('reports a group that stops committing while lag remains as STOP, and ERR at group level', async () => {
      const s = await setup()
      for (let i = 1; i <= 3; i++) await step(s, 10, 5 * i, i)
      const stopped = await eventually(async () => {
        const { body } = await groupStatus(d.monitor, d.cluster, s.group)
        return body.status.partitions[0].status === 'STOP' ? body.status : undefined
      }, 'STOP')
      assert.equal(stopped.status, 'ERR')
      assert.equal(stopped.totallag, 15)
    })

    it('reports a group that commits the same offset while lag grows as STALL (ERR at group level)', async () => {
      const s = await setup()
      for (let i = 1; i <= 4; i++) await step(s, 10, 5, i)
      const { body } = await groupStatus(d.monitor, d.cluster, s.group)
      assert.equal(body.status.partitions[0].status, 'STALL', JSON.stringify(body.status.partitions))
      assert.equal(body.status.status, 'ERR')
    })

    it('reports a group that rewinds as REWIND (ERR at group level)', async () => {
      const s = await setup()
      await step(s, 40, 20, 1)
      await step(s, 0, 30, 2)
      await step(s, 0, 10, 3)
      const { body } = await groupStatus(d.monitor, d.cluster, s.group)
      assert.equal(body.status.partitions[0].status, 'REWIND', JSON.stringify(body.status.partitions))
      assert.equal(body.status.status, 'ERR')
    })

    it('answers 404 with Burrow’s NOTFOUND status once a group is deleted', async () => {
      const s = await setup()
      await step(s, 10, 10, 1)
      assert.equal((await groupStatus(d.monitor, d.cluster, s.group)).code, 200)
      await d.deleteGroup(s.group, s.topic)
      const gone = await eventually(async () => {
        const res = await groupStatus(d.monitor, d.cluster, s.group)
        return res.code === 404 ? res.body : undefined
      }, 'the group to be gone')
      assert.deepEqual({ error: gone.error, message: gone.message, status: gone.status.status, url: gone.request.url }, {
        error: false,
        message: 'consumer status returned',
        status: 'NOTFOUND',
        url: `/v3/kafka/${d.cluster}/consumer/${s.group}/lag`,
      })
      assert.equal((await api(d.monitor, `/v3/kafka/${d.cluster}/consumer/${s.group}`)).code, 404)
      assert.ok(!(await api(d.monitor, `/v3/kafka/${d.cluster}/consumer`)).body.consumers.includes(s.group))
    })

    it('answers 404 once a group’s last commit is older than expire-group', async () => {
      const monitor = await d.startMonitor({ storage: { intervals: 4, 'expire-group': 2 } })
      try {
        const s = await setup()
        await d.produce(s.topic, 5)
        await waitForHwm(monitor, d.cluster, s.topic, [5])
        await d.commit(s.group, s.topic, 5)
        await waitForCommit(monitor, d.cluster, s.group, s.topic, 0, 5, 1)
        await eventually(async () => ((await groupStatus(monitor, d.cluster, s.group)).code === 404 ? true : undefined), 'the group to expire')
        assert.ok(!(await api(monitor, `/v3/kafka/${d.cluster}/consumer`)).body.consumers.includes(s.group))
      } finally {
        await monitor.stop()
      }
    })
  })
}
