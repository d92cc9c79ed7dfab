import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chromium, type Browser } from 'playwright-core'
import { Monitor } from '../../src/monitor/index.ts'
import { captureLogger, testConfig } from './helpers.ts'

const root = path.join(import.meta.dirname, '../..')
const SCREENSHOT = path.join(root, 'test-artifacts/monitor-dashboard.png')

/**
 * A monitor whose storage is filled by hand: `payments` falls behind on 3 partitions (WARN, and it
 * stays WARN for a while: its commits span 60 s), `search` keeps up (OK), `billing` stopped (ERR).
 */
function fixture(): Monitor {
  const monitor = new Monitor(testConfig({ local: { log: 'memory:' } }, { storage: { intervals: 8 }, dashboard: { refresh: 1 } }), { logger: captureLogger().logger })
  const s = monitor.storage
  const now = Date.now()
  const start = now - 70_000
  for (let i = 0; i < 8; i++) {
    const at = start + i * 10_000
    s.setBrokerOffsets('local', 'orders', [1000 + 300 * i, 1000 + 200 * i, 1000 + 250 * i], at)
    s.setBrokerOffsets('local', 'clicks', [500 + 100 * i, 500 + 100 * i], at)
    for (let p = 0; p < 3; p++) {
      s.addCommit('local', { group: 'payments', topic: 'orders', partition: p, offset: 900 + (150 - 20 * p) * i, order: i * 10 + p, timestamp: at }, now)
    }
    for (let p = 0; p < 2; p++) s.addCommit('local', { group: 'search', topic: 'clicks', partition: p, offset: 500 + 100 * i - (i % 3) * 10, order: i * 10 + 5 + p, timestamp: at }, now)
    if (i < 4) s.addCommit('local', { group: 'billing', topic: 'orders', partition: 0, offset: 800 + 50 * i, order: i * 10 + 8, timestamp: start + i * 1000 }, now)
  }
  s.setOwners('local', 'payments', [{ clientId: 'payments-1', clientHost: '/10.0.0.5', assignment: [{ topic: 'orders', partitions: [0, 1, 2] }] }])
  return monitor
}

describe('dashboard in a real browser', { timeout: 120_000 }, () => {
  let monitor: Monitor
  let browser: Browser
  let url: string

  before(async () => {
    monitor = fixture()
    url = (await monitor.listen('127.0.0.1', 0)).url
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })
  })
  after(async () => {
    await browser?.close()
    await monitor?.stop()
  })

  it('shows clusters and groups with status and total lag, a lag chart per group, and refreshes by itself', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text())
    })
    await page.goto(`${url}/`)
    assert.equal(await page.title(), 'Tributary monitor')
    await page.waitForSelector('section.cluster[data-cluster="local"] tr.group')

    const row = (group: string) => page.locator(`tr.group[data-group="${group}"]`)
    assert.equal(await row('payments').locator('.badge').textContent(), 'WARN')
    assert.equal(await row('search').locator('.badge').textContent(), 'OK')
    assert.equal(await row('billing').locator('.badge').textContent(), 'ERR')
    const expectedLag = monitor.evaluator.evaluate('local', 'payments').totallag
    assert.equal(await row('payments').locator('td.num').first().textContent(), expectedLag.toLocaleString('en-US'))
    const order = await page.locator('tr.group').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-group')))
    assert.deepEqual(order, ['billing', 'payments', 'search'], 'worst first')

    // Charts of the groups that are not OK: one line per partition.
    const chart = page.locator('.card[data-group="payments"] svg')
    await chart.waitFor()
    assert.deepEqual(await chart.locator('polyline').evaluateAll((lines) => lines.map((l) => l.getAttribute('data-partition'))), ['orders/0', 'orders/1', 'orders/2'])
    assert.equal(await page.locator('.card[data-group="search"]').count(), 0, 'OK groups are charted on request')
    await row('search').click()
    await page.locator('.card[data-group="search"] svg polyline').first().waitFor()

    // It refreshes by itself: a new group appears without reloading.
    monitor.storage.addCommit('local', { group: 'latecomer', topic: 'clicks', partition: 0, offset: 1200, order: 1_000, timestamp: Date.now() }, Date.now())
    await page.waitForSelector('tr.group[data-group="latecomer"]', { timeout: 10_000 })

    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    assert.ok(fs.statSync(SCREENSHOT).size > 10_000, 'a screenshot was written')
    assert.deepEqual(errors, [], 'no script errors')
    await page.close()
  })

  it('shows an error line, not a blank page, when the API is unreachable', async () => {
    const page = await browser.newPage()
    await page.route('**/dashboard/summary', (route) => route.abort())
    await page.goto(`${url}/`)
    await page.waitForFunction("(document.getElementById('error')?.textContent ?? '').startsWith('cannot load')")
    await page.close()
  })
})
