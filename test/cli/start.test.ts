/**
 * `npm start`: the demo stays up and serves a start page, the view and the lag dashboard; live
 * traffic moves the page; Ctrl-C stops it cleanly. Checked in the real browser (Chromium), with
 * screenshots in test-artifacts/.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chromium, type Browser } from 'playwright-core'
import { runDemo } from '../../src/cli/demo.ts'
import { demoPageRoutes } from '../../src/cli/demo-page.ts'
import type { DemoPart } from '../../src/cli/demo-part.ts'
import { startHttpServer } from '../../src/server/index.ts'
import { eventually } from '../monitor/helpers.ts'

const root = path.resolve(import.meta.dirname, '../..')
const main = path.join(root, 'src/cli/main.ts')
const artifacts = path.join(root, 'test-artifacts')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-start-'))
const env = { ...process.env, TRIBUTARY_LOG: '', TRIBUTARY_LOG_LEVEL: 'warn' }

/** A port that something else is listening on, for as long as the returned server is open. */
async function takenPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

describe('npm start', { timeout: 180_000 }, () => {
  let browser: Browser
  before(async () => {
    fs.mkdirSync(artifacts, { recursive: true })
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    })
  })
  after(async () => {
    await browser?.close()
    fs.rmSync(tmp, { recursive: true, force: true })
  })

  it('stays up serving the start page, the view and the lag dashboard with live traffic until Ctrl-C', async () => {
    const demo = spawn(process.execPath, [main, 'demo', '--records', '1000', '--rate', '50', '--port', '0', '--log', `file:${path.join(tmp, 'log')}`], { cwd: tmp, env })
    let stdout = ''
    let stderr = ''
    demo.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    demo.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const exited = new Promise<number | null>((resolve) => demo.on('exit', resolve))
    try {
      const url = await eventually(() => /^serving on (http:\/\/127\.0\.0\.1:\d+)/m.exec(stdout)?.[1], `the serving line (${stdout}${stderr})`, 90_000, 100)
      assert.match(stdout, /GET \/users\/user-7 → 200 \{"user":"user-7","clicks":20\}/)

      const page = await browser.newPage({ viewport: { width: 1200, height: 860 } })
      const errors: string[] = []
      page.on('pageerror', (err) => errors.push(err.message))
      page.on('console', (msg) => (msg.type() === 'error' ? errors.push(msg.text()) : undefined))
      await page.goto(`${url}/`)
      const clicks = async (): Promise<number> => Number(((await page.locator('#part-clicks .stat b').first().textContent()) ?? '0').replace(/,/g, ''))
      await page.locator('#part-clicks .stat b').first().waitFor()
      const first = await clicks()
      assert.ok(first >= 1000, `the page shows the counted clicks (${first})`)
      await eventually(async () => ((await clicks()) > first ? true : undefined), 'the count on the page to grow with live traffic', 30_000, 250)
      assert.equal(await page.locator('#part-clicks tr').count(), 11, 'the ten busiest users and a header')
      assert.deepEqual(await page.locator('#part-processors td:first-child').allTextContents(), ['member-1', 'member-2'])
      assert.deepEqual(await page.locator('#part-processors [data-status]').allTextContents(), ['running', 'running'])
      await page.locator('#part-lag [data-status]').first().waitFor()
      assert.equal(await page.locator('#part-lag td:first-child').first().textContent(), 'demo-click-counter')
      const pipeline = await page.locator('#part-pipeline tr').evaluateAll((trs) => Object.fromEntries(trs.map((tr) => [tr.children[0].textContent, tr.children[1].textContent])))
      assert.deepEqual([pipeline.generated, pipeline.delivered, pipeline['dead-lettered']], ['1,000', '990', '10'])
      await page.screenshot({ path: path.join(artifacts, 'start-page.png'), fullPage: true })

      await page.click('text=lag dashboard →')
      await page.waitForURL(`${url}/lag/`)
      await page.getByText('demo-click-counter').first().waitFor({ timeout: 30_000 })
      await page.locator('svg').first().waitFor({ timeout: 30_000 })
      await page.screenshot({ path: path.join(artifacts, 'start-lag-dashboard.png'), fullPage: true })
      assert.deepEqual(errors, [], 'no errors in the browser')
      await page.close()

      const user = (await (await fetch(`${url}/users/user-3`)).json()) as { user: string; clicks: number }
      assert.equal(user.user, 'user-3')
      assert.ok(user.clicks >= 20)
      const status = (await (await fetch(`${url}/lag/v3/kafka/local/consumer`)).json()) as { consumers: string[] }
      assert.deepEqual(status.consumers, ['demo-click-counter'])

      demo.kill('SIGINT')
      assert.equal(await exited, 0, stderr)
      assert.match(stdout, /stopping\n$/)
      assert.equal(fs.existsSync(path.join(tmp, 'log', 'LOCK')), false, 'the log was closed cleanly')
    } finally {
      demo.kill('SIGKILL')
    }
  })

  it('shows a pipeline part with its state, counters, DLQ and last error, and any other part as a table', async () => {
    const counters = (read: number, nacked: number) => ({ read, written: read - nacked, filtered: 0, nacked, dlq: nacked, acked: read, inFlight: 0 })
    const parts: DemoPart[] = [
      {
        name: 'pipelines',
        status: () => ({
          pipelines: [
            { id: 'demo-orders', state: 'running', counters: counters(100, 5), lastError: null },
            { id: 'demo-broken', state: 'degraded', counters: counters(10, 10), lastError: { message: 'the DLQ write failed', code: 'TRIB_PIPELINE_DLQ', fatal: false, at: '' } },
          ],
        }),
        stop: async () => {},
      },
      { name: 'extra', status: () => ({ note: '<b>not html</b>', nested: { a: 1 } }), stop: async () => {} },
    ]
    const server = await startHttpServer({ port: 0, routes: [demoPageRoutes(parts, { log: 'memory:', startedAt: Date.now() })] })
    const page = await browser.newPage({ viewport: { width: 1200, height: 600 } })
    try {
      await page.goto(`${server.url}/`)
      await page.locator('#part-pipelines td').first().waitFor()
      const rows = await page.locator('#part-pipelines tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)))
      assert.deepEqual(rows, [
        ['pipeline', 'state', 'read', 'written', 'filtered', 'nacked', 'to DLQ', 'in flight'],
        ['demo-orders', 'running', '100', '95', '0', '5', '5', '0'],
        ['demo-broken', 'degraded', '10', '0', '0', '10', '10', '0'],
      ])
      assert.equal(await page.locator('#part-pipelines p.error').textContent(), 'demo-broken: TRIB_PIPELINE_DLQ: the DLQ write failed')
      assert.equal(await page.locator('#part-extra td').nth(1).textContent(), '<b>not html</b>', 'text, never HTML')
      await page.screenshot({ path: path.join(artifacts, 'start-page-pipelines.png') })
    } finally {
      await page.close()
      await server.close()
    }
  })

  it('moves to the next free port when the default one is taken, and says so', async () => {
    const taken = await takenPort()
    const lines: string[] = []
    try {
      const controller = new AbortController()
      const running = runDemo({ log: 'memory:', records: 100, port: taken.port, portFallback: true, rate: 0, signal: controller.signal, print: (l) => lines.push(l) })
      await eventually(() => (lines.some((l) => l.startsWith('serving on')) ? true : undefined), 'the serving line', 60_000, 50)
      controller.abort()
      const result = await running
      assert.notEqual(new URL(result.url).port, String(taken.port))
      assert.ok(lines.includes(`serving on ${result.url} (port ${taken.port} is taken) — open it in a browser; Ctrl-C stops`), lines.join('\n'))
    } finally {
      await taken.close()
    }
  })

  it('fails with the address when an explicit --port is taken', async () => {
    const taken = await takenPort()
    try {
      const r = spawnSync(process.execPath, [main, 'demo', '--once', '--records', '10', '--port', String(taken.port), '--log', 'memory:'], { cwd: tmp, env, encoding: 'utf8', timeout: 60_000 })
      assert.equal(r.status, 1)
      assert.match(r.stderr, new RegExp(`error: cannot listen on 127\\.0\\.0\\.1:${taken.port}: .*EADDRINUSE.* \\(TRIB_INVALID_ARGUMENT\\)`))
    } finally {
      await taken.close()
    }
  })
})
