/**
 * The demo's start page (`/`) and its data (`/status`): every part's status, refreshed every second
 * — clicks per user from the view, the processor instances, the consumer groups' lag, pipelines (a
 * part whose status is a list of `PipelineStatus`, or `{ pipelines: [...] }`: state, counters, DLQ,
 * last error), and any other part as a table of what it reports.
 * @module
 */
import type { RouteModule } from '../server/index.ts'
import type { DemoPart } from './demo-part.ts'

/** Routes for `/` and `/status`. */
export function demoPageRoutes(parts: readonly DemoPart[], info: { log: string; startedAt: number }): RouteModule {
  return (app) => {
    app.get('/status', async () => ({
      log: info.log,
      startedAt: new Date(info.startedAt).toISOString(),
      uptimeSeconds: Math.round((Date.now() - info.startedAt) / 1000),
      parts: Object.fromEntries(parts.map((p) => [p.name, p.status()])),
    }))
    app.get('/', (_req, res) => res.header('content-type', 'text/html; charset=utf-8').send(PAGE_HTML))
    app.get('/demo.js', (_req, res) => res.header('content-type', 'text/javascript; charset=utf-8').send(PAGE_JS))
  }
}

const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tributary demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2630; background: #f4f6f8; }
  header { background: #12324f; color: #fff; padding: 14px 24px; display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
  header h1 { font-size: 20px; margin: 0; }
  header .sub { opacity: .8; }
  header a { color: #bfe0ff; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 16px; padding: 16px 24px; }
  section { background: #fff; border-radius: 8px; padding: 14px 18px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  h2 { font-size: 15px; margin: 0 0 10px; display: flex; justify-content: space-between; }
  h2 small { font-weight: normal; color: #5b6b7b; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eef1f4; vertical-align: top; }
  th { color: #5b6b7b; font-weight: 600; white-space: nowrap; }
  td:first-child { white-space: nowrap; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  #part-clicks td:nth-child(3) { width: 55%; }
  .bar { background: #1565c0; height: 14px; border-radius: 3px; min-width: 2px; transition: width .5s; }
  .stats { display: flex; gap: 18px; margin-bottom: 10px; flex-wrap: wrap; }
  .stat b { display: block; font-size: 20px; font-variant-numeric: tabular-nums; }
  .stat span { color: #5b6b7b; font-size: 12px; }
  .badge { padding: 1px 7px; border-radius: 9px; font-size: 12px; font-weight: 600; color: #fff; background: #78909c; }
  .badge.OK, .badge.running { background: #2e7d32; } .badge.WARN, .badge.recovering { background: #ef6c00; } .badge.ERR, .badge.STOP, .badge.STALL, .badge.failed, .badge.degraded { background: #c62828; }
  p.error { color: #c62828; margin: 6px 0 0; }
  #error { color: #c62828; padding: 0 24px; }
  footer { padding: 0 24px 20px; color: #5b6b7b; }
  code { background: #eef1f4; padding: 1px 4px; border-radius: 3px; }
  pre { margin: 0; white-space: pre-wrap; }
</style>
</head>
<body>
<header><h1>Tributary demo</h1><span class="sub" id="log"></span><span class="sub" id="uptime"></span><a href="lag/">lag dashboard →</a></header>
<div id="error"></div>
<main id="parts"></main>
<footer>JSON: <a href="status"><code>/status</code></a> · <a href="users"><code>/users</code></a> · <code>/users/:user</code> · Burrow API: <a href="lag/v3/kafka/local/consumer"><code>/lag/v3/kafka/local/consumer</code></a> · stop with Ctrl-C in the terminal running <code>npm start</code></footer>
<script src="demo.js"></script>
</body>
</html>
`

/** The page's script: plain ES2020 and DOM APIs; text always goes through textContent. */
const PAGE_JS = `'use strict'
;(function () {
  function el(tag, attrs, text) {
    var node = document.createElement(tag)
    for (var k in attrs || {}) node.setAttribute(k, attrs[k])
    if (text !== undefined) node.textContent = String(text)
    return node
  }
  function fmt(n) { return Number(n).toLocaleString('en-US') }
  function section(id, title, note) {
    var s = document.getElementById(id)
    if (!s) { s = el('section', { id: id }); document.getElementById('parts').appendChild(s) }
    s.textContent = ''
    var h = el('h2', {}, title)
    if (note) h.appendChild(el('small', {}, note))
    s.appendChild(h)
    return s
  }
  function table(head, rows) {
    var t = el('table')
    var tr = el('tr')
    head.forEach(function (h) { tr.appendChild(el('th', {}, h)) })
    t.appendChild(tr)
    rows.forEach(function (cells) {
      var r = el('tr')
      cells.forEach(function (c) {
        if (c instanceof Node) { var td = el('td'); td.appendChild(c); r.appendChild(td) }
        else r.appendChild(el('td', typeof c === 'number' ? { class: 'num' } : {}, typeof c === 'number' ? fmt(c) : c))
      })
      t.appendChild(r)
    })
    return t
  }
  function badge(s) { return el('span', { class: 'badge ' + s, 'data-status': s }, s) }
  function stat(value, label) { var d = el('div', { class: 'stat' }); d.appendChild(el('b', {}, fmt(value))); d.appendChild(el('span', {}, label)); return d }

  function clicks(c) {
    var s = section('part-clicks', 'Clicks per user', 'view of ' + c.table)
    var stats = el('div', { class: 'stats' })
    stats.appendChild(stat(c.clicks, 'clicks counted'))
    stats.appendChild(stat(c.users, 'users'))
    stats.appendChild(stat(c.events, 'events in ' + c.topic))
    stats.appendChild(stat(c.rate, 'clicks/s live'))
    s.appendChild(stats)
    var max = c.top.length ? c.top[0].clicks : 1
    s.appendChild(table(['user', 'clicks', ''], c.top.map(function (u) {
      var bar = el('div', { class: 'bar' })
      bar.style.width = Math.max(1, Math.round(100 * u.clicks / max)) + '%'
      return [u.user, u.clicks, bar]
    })))
    var p = section('part-processors', 'Processors', 'group demo-click-counter on ' + c.topic)
    p.appendChild(table(['instance', 'state', 'partitions', 'records counted'], c.members.map(function (m) {
      return [m.name, badge(m.state), '[' + m.partitions.join(', ') + ']', m.counted]
    })))
  }
  function lag(l) {
    var s = section('part-lag', 'Consumer lag', 'evaluated as Burrow does')
    s.appendChild(table(['group', 'status', 'partitions', 'total lag'], l.groups.map(function (g) {
      return [g.group, badge(g.status), g.partitions, g.totallag]
    })))
    var a = el('a', { href: 'lag/' }, 'lag over time, per partition →')
    var p = el('p'); p.appendChild(a); s.appendChild(p)
  }
  function isPipeline(p) { return p && typeof p === 'object' && typeof p.id === 'string' && typeof p.state === 'string' && p.counters && typeof p.counters === 'object' }
  function pipelinesOf(value) {
    var list = Array.isArray(value) ? value : (value && Array.isArray(value.pipelines) ? value.pipelines : null)
    return list && list.length > 0 && list.every(isPipeline) ? list : null
  }
  function pipelines(name, list) {
    var s = section('part-' + name, 'Pipelines', 'source → processors → destinations, nacks to the DLQ')
    s.appendChild(table(['pipeline', 'state', 'read', 'written', 'filtered', 'nacked', 'to DLQ', 'in flight'], list.map(function (p) {
      var c = p.counters
      return [p.id, badge(p.state), c.read || 0, c.written || 0, c.filtered || 0, c.nacked || 0, c.dlq || 0, c.inFlight || 0]
    })))
    list.forEach(function (p) {
      if (p.lastError) s.appendChild(el('p', { class: 'error' }, p.id + ': ' + (p.lastError.code ? p.lastError.code + ': ' : '') + p.lastError.message))
    })
  }
  function other(name, value) {
    var s = section('part-' + name, name.charAt(0).toUpperCase() + name.slice(1))
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      s.appendChild(table(['', ''], Object.keys(value).map(function (k) {
        var v = value[k]
        return [k, v !== null && typeof v === 'object' ? el('pre', {}, JSON.stringify(v, null, 1)) : (typeof v === 'number' ? v : String(v))]
      })))
    } else s.appendChild(el('pre', {}, JSON.stringify(value, null, 1)))
  }

  function refresh() {
    return fetch('status', { cache: 'no-store' }).then(function (res) { return res.json() }).then(function (st) {
      document.getElementById('error').textContent = ''
      document.getElementById('log').textContent = 'log ' + st.log
      document.getElementById('uptime').textContent = 'up ' + st.uptimeSeconds + ' s'
      Object.keys(st.parts).forEach(function (name) {
        var v = st.parts[name]
        if (name === 'clicks') clicks(v)
        else if (name === 'lag') lag(v)
        else if (pipelinesOf(v)) pipelines(name, pipelinesOf(v))
        else other(name, v)
      })
      document.body.setAttribute('data-updated', String(Date.now()))
    }).catch(function (err) {
      document.getElementById('error').textContent = 'cannot reach the demo (' + err.message + '); is npm start still running?'
    })
  }
  refresh()
  setInterval(refresh, 1000)
})()
`
