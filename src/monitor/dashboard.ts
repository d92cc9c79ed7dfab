/**
 * The dashboard: one HTML page and one script, served as they are (no build step, no CDN). It reads
 * `/dashboard/summary` (clusters, groups, status, total lag) and, per group, Burrow's consumer
 * detail (`/v3/kafka/:cluster/consumer/:group`) to chart each partition's lag over the stored
 * window as inline SVG. It refreshes itself every `dashboard.refresh` seconds.
 *
 * @example
 * ```ts
 * app.get('/', (_req, res) => res.type('text/html').send(DASHBOARD_HTML))
 * ```
 * @module
 */

/** The page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tributary monitor</title>
<link rel="icon" href="data:,">
<style>
  :root { --ok: #2e7d32; --warn: #ef6c00; --err: #c62828; --muted: #667; --line: #dde; }
  * { box-sizing: border-box; }
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #223; background: #f6f7fb; }
  header { background: #1f2a44; color: #fff; padding: 12px 20px; display: flex; align-items: baseline; gap: 16px; }
  header h1 { font-size: 18px; margin: 0; }
  header .meta { color: #b8c0d8; font-size: 12px; }
  main { padding: 16px 20px; }
  section.cluster { margin-bottom: 24px; }
  h2 { font-size: 16px; margin: 0 0 8px; }
  h2 .kind { color: var(--muted); font-weight: normal; font-size: 12px; margin-left: 6px; }
  table { border-collapse: collapse; background: #fff; width: 100%; max-width: 980px; border: 1px solid var(--line); }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
  th { background: #eef0f6; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.group { cursor: pointer; }
  tr.group:hover { background: #f2f5ff; }
  tr.selected { background: #e6ecff; }
  .badge { display: inline-block; min-width: 58px; text-align: center; padding: 1px 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 12px; }
  .OK { background: var(--ok); } .WARN { background: var(--warn); } .ERR, .STOP, .STALL, .REWIND { background: var(--err); } .NOTFOUND { background: var(--muted); }
  .charts { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 12px; }
  .card { background: #fff; border: 1px solid var(--line); padding: 10px; width: 480px; }
  .card h3 { margin: 0 0 6px; font-size: 14px; display: flex; justify-content: space-between; gap: 8px; }
  .legend { font-size: 11px; color: var(--muted); display: flex; flex-wrap: wrap; gap: 4px 10px; margin-top: 4px; }
  .legend i { display: inline-block; width: 10px; height: 3px; vertical-align: middle; margin-right: 3px; }
  .empty { color: var(--muted); }
  #error { color: var(--err); margin-bottom: 8px; }
</style>
</head>
<body>
<header><h1>Tributary consumer-lag monitor</h1><span class="meta" id="updated">loading…</span></header>
<main>
  <div id="error" role="alert"></div>
  <div id="clusters"></div>
</main>
<script src="dashboard.js"></script>
</body>
</html>
`

/** The script. Plain ES2020, DOM APIs only; text goes through textContent (no HTML injection). */
export const DASHBOARD_JS = `'use strict'
;(function () {
  var SVG = 'http://www.w3.org/2000/svg'
  var COLORS = ['#1565c0', '#ef6c00', '#2e7d32', '#6a1b9a', '#c62828', '#00838f', '#8d6e63', '#ad1457', '#558b2f', '#37474f']
  var SEVERITY = { NOTFOUND: 0, OK: 1, WARN: 2, ERR: 3, STOP: 4, STALL: 5, REWIND: 6 }
  var MAX_CHARTS = 24
  var selected = {}
  var timer = null

  function el(tag, attrs, text) {
    var node = document.createElement(tag)
    for (var k in attrs || {}) node.setAttribute(k, attrs[k])
    if (text !== undefined) node.textContent = String(text)
    return node
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag)
    for (var k in attrs) node.setAttribute(k, String(attrs[k]))
    return node
  }
  function badge(status) { return el('span', { class: 'badge ' + status, 'data-status': status }, status) }
  function getJson(url) {
    return fetch(url, { cache: 'no-store' }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok || body.error) throw new Error(url + ': ' + (body.message || res.status))
        return body
      })
    })
  }
  function enc(s) { return encodeURIComponent(s) }
  function fmt(n) { return Number(n).toLocaleString('en-US') }

  function chart(detail) {
    var width = 460, height = 180, left = 56, right = 8, top = 8, bottom = 22
    var series = []
    var minT = Infinity, maxT = -Infinity, maxLag = 0
    Object.keys(detail.topics).sort().forEach(function (topic) {
      detail.topics[topic].forEach(function (p, partition) {
        var points = p.offsets.filter(function (o) { return o && o.lag !== null }).map(function (o) { return [o.timestamp, o.lag] })
        if (points.length === 0) return
        points.forEach(function (pt) { minT = Math.min(minT, pt[0]); maxT = Math.max(maxT, pt[0]); maxLag = Math.max(maxLag, pt[1]) })
        series.push({ name: topic + '/' + partition, points: points })
      })
    })
    var root = svg('svg', { width: width, height: height, viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': 'lag per partition over time' })
    if (series.length === 0) { var t = svg('text', { x: left, y: height / 2, fill: '#667' }); t.textContent = 'no commits stored yet'; root.appendChild(t); return { svg: root, series: series } }
    if (maxT === minT) { minT -= 1000; maxT += 1000 }
    var yMax = maxLag === 0 ? 1 : maxLag * 1.1
    var x = function (t) { return left + (t - minT) / (maxT - minT) * (width - left - right) }
    var y = function (v) { return top + (1 - v / yMax) * (height - top - bottom) }
    root.appendChild(svg('line', { x1: left, y1: top, x2: left, y2: height - bottom, stroke: '#99a' }))
    root.appendChild(svg('line', { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, stroke: '#99a' }))
    ;[0, 0.5, 1].forEach(function (f) {
      var v = Math.round(yMax * f)
      var label = svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#667' })
      label.textContent = fmt(v)
      root.appendChild(label)
      if (f > 0) root.appendChild(svg('line', { x1: left, y1: y(v), x2: width - right, y2: y(v), stroke: '#eef' }))
    })
    ;[minT, maxT].forEach(function (t, i) {
      var label = svg('text', { x: i === 0 ? left : width - right, y: height - 6, 'text-anchor': i === 0 ? 'start' : 'end', 'font-size': 10, fill: '#667' })
      label.textContent = new Date(t).toLocaleTimeString()
      root.appendChild(label)
    })
    series.forEach(function (s, i) {
      var color = COLORS[i % COLORS.length]
      var pts = s.points.map(function (p) { return x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1) }).join(' ')
      root.appendChild(svg('polyline', { points: pts, fill: 'none', stroke: color, 'stroke-width': 2, 'data-partition': s.name }))
      s.points.forEach(function (p) { root.appendChild(svg('circle', { cx: x(p[0]).toFixed(1), cy: y(p[1]).toFixed(1), r: 2.5, fill: color })) })
      s.color = color
    })
    return { svg: root, series: series }
  }

  function renderCard(container, cluster, g) {
    var card = el('div', { class: 'card', 'data-group': g.group, 'data-cluster': cluster })
    var title = el('h3')
    title.appendChild(el('span', {}, g.group))
    var right = el('span')
    right.appendChild(badge(g.status))
    right.appendChild(document.createTextNode(' lag ' + fmt(g.totallag)))
    title.appendChild(right)
    card.appendChild(title)
    var body = el('div', { class: 'empty' }, 'loading…')
    card.appendChild(body)
    container.appendChild(card)
    getJson('v3/kafka/' + enc(cluster) + '/consumer/' + enc(g.group)).then(function (detail) {
      var c = chart(detail)
      body.textContent = ''
      body.className = ''
      body.appendChild(c.svg)
      var legend = el('div', { class: 'legend' })
      c.series.forEach(function (s) {
        var item = el('span')
        var swatch = el('i')
        swatch.style.background = s.color
        item.appendChild(swatch)
        item.appendChild(document.createTextNode(s.name))
        legend.appendChild(item)
      })
      body.appendChild(legend)
    }).catch(function (err) { body.textContent = err.message })
  }

  function render(summary) {
    var root = document.getElementById('clusters')
    root.textContent = ''
    if (summary.clusters.length === 0) root.appendChild(el('p', { class: 'empty' }, 'no clusters configured'))
    summary.clusters.forEach(function (cluster) {
      var section = el('section', { class: 'cluster', 'data-cluster': cluster.name })
      var h = el('h2', {}, cluster.name)
      h.appendChild(el('span', { class: 'kind' }, cluster['class-name'] + ' · ' + cluster.groups.length + ' group(s)'))
      section.appendChild(h)
      var groups = cluster.groups.slice().sort(function (a, b) { return (SEVERITY[b.status] - SEVERITY[a.status]) || (b.totallag - a.totallag) || (a.group < b.group ? -1 : 1) })
      if (groups.length === 0) {
        section.appendChild(el('p', { class: 'empty' }, 'no consumer groups with commits yet'))
      } else {
        var table = el('table')
        var head = el('tr')
        ;['group', 'status', 'total lag', 'partitions', 'complete'].forEach(function (t) { head.appendChild(el('th', {}, t)) })
        table.appendChild(head)
        groups.forEach(function (g) {
          var key = cluster.name + '/' + g.group
          var row = el('tr', { class: 'group' + (selected[key] ? ' selected' : ''), 'data-group': g.group })
          row.appendChild(el('td', {}, g.group))
          var st = el('td'); st.appendChild(badge(g.status)); row.appendChild(st)
          row.appendChild(el('td', { class: 'num' }, fmt(g.totallag)))
          row.appendChild(el('td', { class: 'num' }, g.partition_count))
          row.appendChild(el('td', { class: 'num' }, Math.round(g.complete * 100) + '%'))
          row.addEventListener('click', function () { selected[key] = !selected[key]; refresh() })
          table.appendChild(row)
        })
        section.appendChild(table)
        var charts = el('div', { class: 'charts' })
        var shown = groups.filter(function (g) { return selected[cluster.name + '/' + g.group] || g.status !== 'OK' })
        if (shown.length === 0) shown = groups
        shown.slice(0, MAX_CHARTS).forEach(function (g) { renderCard(charts, cluster.name, g) })
        section.appendChild(charts)
      }
      root.appendChild(section)
    })
  }

  function refresh() {
    return getJson('dashboard/summary').then(function (summary) {
      document.getElementById('error').textContent = ''
      render(summary)
      document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString() + ' · refreshes every ' + Math.round(summary.refresh / 1000) + ' s'
      if (timer === null) timer = setInterval(refresh, Math.max(1000, summary.refresh))
    }).catch(function (err) {
      document.getElementById('error').textContent = 'cannot load: ' + err.message
      if (timer === null) timer = setInterval(refresh, 5000)
    })
  }

  refresh()
})()
`
