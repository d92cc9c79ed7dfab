/**
 * The notifier leader steps down when its session is lost: a leading monitor in a child process is
 * stopped (SIGSTOP), another monitor takes over and notifies, and after SIGCONT the old leader sends
 * nothing more — never two leaders notifying at once.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import { openLog } from '../../src/log/index.ts'
import { Monitor } from '../../src/monitor/index.ts'
import { captureLogger, eventually, KAFKA_BROKERS, testConfig, uid } from './helpers.ts'

const CHILD = path.resolve(import.meta.dirname, 'fixtures/leader-monitor.ts')

describe('monitor leader liveness (Kafka)', { timeout: 120_000 }, () => {
  it('a leader cut off from the group stops notifying at once; the other monitor takes over', async () => {
    const log = await openLog(`kafka://${KAFKA_BROKERS}`)
    const coordinationTopic = `monitor-live-${uid()}`
    const raw = {
      clusters: { c: { servers: [KAFKA_BROKERS], 'offset-refresh': 0.1, 'topic-refresh': 1, 'self-group': false } },
      storage: { intervals: 4, 'expire-group': 3600 },
      evaluator: { 'expire-cache': 0 },
      httpserver: { address: '127.0.0.1:0' },
      notifiers: { console: { 'class-name': 'log', interval: 0.1, threshold: 'WARN' } },
      coordination: { log: 'c', topic: coordinationTopic, group: `monitors-${coordinationTopic}`, 'session-timeout': 2 },
    }
    const child = spawn(process.execPath, [CHILD, JSON.stringify(raw)], { stdio: ['ignore', 'pipe', 'ignore'] })
    const childLines: { [k: string]: unknown }[] = []
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        childLines.push(JSON.parse(line) as { [k: string]: unknown })
      } catch {
        // not JSON
      }
    })
    const notifications = (lines: { [k: string]: unknown }[], after = 0): number =>
      lines.filter((l) => l.notifier === 'console' && l.event === 'open' && Number(l.time) > after).length
    let other: Monitor | undefined
    const member = { close: async () => {} }
    try {
      await eventually(() => (childLines.some((l) => l.started) ? true : undefined), 'the child monitor to start', 40_000)
      await eventually(() => (childLines.some((l) => /this monitor leads/.test(String(l.msg))) ? true : undefined), 'the child to lead', 30_000)

      // A lagging group that stopped committing: the leader notifies about it every 0.1 s.
      const topic = `lagging-${uid()}`
      const group = `laggard-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 1 })
      await log.producer().send(Array.from({ length: 10 }, (_, i) => ({ topic, partition: 0, value: `v${i}` })))
      const consumer = log.consumer({ groupId: group, topics: [topic], sessionTimeoutMs: 30_000 })
      member.close = () => consumer.close()
      while (consumer.assignment().length === 0) await consumer.poll({ timeoutMs: 100 })

      const { logger, lines } = captureLogger('info')
      other = new Monitor(testConfig(raw.clusters, { notifiers: raw.notifiers, coordination: raw.coordination }), { logger, memberName: 'parent' })
      await other.start()
      assert.equal(other.isLeader, false, 'the child leads, the parent stands by')
      await eventually(() => (other?.storage.topicOffsets('c', topic)?.[0] === 10 ? true : undefined), 'the parent to know the high watermark', 20_000)
      // Commit until the child has seen it (it drops commits before it knows the high watermark).
      await eventually(async () => {
        await consumer.commit([{ topic, partition: 0, offset: 2 }])
        return notifications(childLines) > 0 ? true : undefined
      }, 'notifications from the child leader', 30_000)
      assert.equal(notifications(lines), 0, 'the follower sends nothing')

      // The parent's leadership, as intervals of its own clock (the child logs with the same clock).
      const parentLeading: [number, number][] = []
      other.elector?.onChange((leading) => {
        if (leading) parentLeading.push([Date.now(), Infinity])
        else if (parentLeading.length > 0) parentLeading[parentLeading.length - 1][1] = Date.now()
      })
      child.kill('SIGSTOP')
      const stoppedAt = Date.now()
      await other.elector?.waitFor(true)
      const tookOverMs = Date.now() - stoppedAt
      if (parentLeading.length === 0) parentLeading.push([Date.now(), Infinity])
      await eventually(() => (notifications(lines) > 0 ? true : undefined), 'notifications from the new leader', 20_000)
      child.kill('SIGCONT')
      // The child cannot write while stopped: whatever it logged after stoppedAt came after the resume.
      const after = (pattern: RegExp): { [k: string]: unknown } | undefined => childLines.find((l) => pattern.test(String(l.msg)) && Number(l.time) > stoppedAt)
      await eventually(() => (after(/stands by/) ? true : undefined), 'the old leader to step down', 20_000)
      // Give it time to (wrongly) notify: several notifier intervals of whoever leads now. The child
      // may lead again after the rebalance its return causes; then the parent has stepped down first.
      const before = notifications(lines)
      await eventually(() => (notifications(lines) >= before + 5 || after(/this monitor leads/) ? true : undefined), 'a leader to go on notifying', 30_000)
      const steppedDownAt = Number(after(/stands by/)?.time)
      const reLedAt = Number(after(/this monitor leads/)?.time ?? Infinity)
      const childSent = childLines.filter((l) => l.notifier === 'console' && l.event === 'open' && Number(l.time) > stoppedAt).map((l) => Number(l.time))
      assert.deepEqual(childSent.filter((t) => t < reLedAt), [], 'the old leader sent nothing between its resume and leading again')
      assert.ok(steppedDownAt < reLedAt, 'it stepped down first')
      const overlapping = childSent.filter((t) => parentLeading.some(([from, to]) => t >= from && t <= to))
      assert.deepEqual(overlapping, [], 'never a notification from the child while the parent led')
      assert.ok(tookOverMs >= 1_000 && tookOverMs < 15_000, `took over after ${tookOverMs} ms`)
    } finally {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
      await other?.stop()
      await member.close()
      await log.close()
    }
  })
})
