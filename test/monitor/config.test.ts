import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/index.ts'
import { compileTemplate, loadConfig, parseConfigYaml, Status } from '../../src/monitor/index.ts'

const root = path.join(import.meta.dirname, '../..')

/** Asserts that the YAML is rejected with TRIB_MONITOR_CONFIG and a message matching every pattern. */
function rejects(yaml: string, ...patterns: RegExp[]): void {
  assert.throws(
    () => parseConfigYaml(yaml, 'monitor.yaml'),
    (err: unknown) => {
      assert.ok(isTributaryError(err, 'TRIB_MONITOR_CONFIG'), `TRIB_MONITOR_CONFIG, got ${(err as Error).message}`)
      assert.match(err.message, /^monitor\.yaml: /)
      for (const p of patterns) assert.match(err.message, p)
      return true
    },
  )
}

describe('monitor config', () => {
  it('loads the example, which works with the embedded log', () => {
    const config = loadConfig(path.join(root, 'examples/monitor.yaml'))
    assert.equal(config.clusters[0].name, 'local')
    assert.equal(config.clusters[0].kind, 'embedded')
    assert.equal(config.clusters[0].log, 'file:./.tributary')
    assert.deepEqual(config.httpserver, { host: '127.0.0.1', port: 8000 })
    assert.equal(config.notifiers[0].className, 'log')
  })

  it('applies Burrow’s defaults (seconds in the file, milliseconds inside)', () => {
    const config = parseConfigYaml('clusters:\n  prod:\n    servers: [10.0.0.1:9092, 10.0.0.2:9092]\n')
    const [c] = config.clusters
    assert.deepEqual([c.kind, c.servers, c.log, c.offsetRefreshMs, c.topicRefreshMs, c.offsetsTopic, c.selfGroup], [
      'kafka',
      ['10.0.0.1:9092', '10.0.0.2:9092'],
      'kafka://10.0.0.1:9092,10.0.0.2:9092',
      10_000,
      60_000,
      '__consumer_offsets',
      true,
    ])
    assert.deepEqual(config.storage, { intervals: 10, expireGroupMs: 604_800_000, minDistanceMs: 0, groupAllowlist: undefined, groupDenylist: undefined })
    assert.deepEqual(config.evaluator, { expireCacheMs: 10_000, minimumComplete: 0, allowedLag: 0 })
    assert.deepEqual(config.httpserver, { host: '127.0.0.1', port: 8000 })
    assert.equal(config.coordination, undefined)
  })

  it('reads notifiers with their defaults, thresholds by name, and templates from files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'monitor-config-'))
    try {
      fs.writeFileSync(path.join(dir, 'open.tmpl'), '{"group":"{{.Group}}","lag":{{.Result.TotalLag}}}')
      fs.writeFileSync(
        path.join(dir, 'monitor.yaml'),
        [
          'clusters: { local: { log: "memory:" } }',
          'notifiers:',
          '  ops:',
          '    class-name: http',
          '    url-open: "http://alerts/{{.Cluster}}/{{.Group}}"',
          '    url-close: "http://alerts/{{.ID}}"',
          '    template-open: open.tmpl',
          '    threshold: err',
          '    send-close: true',
          '    basic-auth: { username: u, password: p }',
          '  audit: { class-name: log, interval: 5 }',
          'coordination: { log: local }',
        ].join('\n'),
      )
      const config = loadConfig(path.join(dir, 'monitor.yaml'))
      const [ops, audit] = config.notifiers
      assert.equal(ops.className, 'http')
      if (ops.className !== 'http') return
      assert.deepEqual([ops.threshold, ops.sendClose, ops.sendOnce, ops.intervalMs, ops.sendIntervalMs, ops.methodOpen, ops.methodClose, ops.timeoutMs, ops.retries], [
        Status.ERR,
        true,
        false,
        60_000,
        60_000,
        'POST',
        'DELETE',
        5_000,
        3,
      ])
      assert.equal(ops.bodyOpen.render({ Group: 'g', Result: { totallag: 7 } }), '{"group":"g","lag":7}')
      assert.deepEqual([audit.className, audit.threshold, audit.intervalMs], ['log', Status.WARN, 5_000])
      assert.deepEqual(config.coordination, { log: 'local', topic: 'tributary-monitor-leader', group: 'tributary-monitor', sessionTimeoutMs: 10_000 })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('names the file, line and field of a wrong value', () => {
    rejects('clusters:\n  local:\n    log: "memory:"\n    offset-refresh: soon\n', /line 4: clusters\.local\.offset-refresh: expected a number of seconds/)
    rejects('clusters:\n  local:\n    log: "memory:"\nstorage:\n  intervals: 0\n', /line 5: storage\.intervals: .*>=1/)
    rejects('clusters:\n  local: { log: "memory:" }\nevaluator:\n  minimum-complete: 2\n', /evaluator\.minimum-complete: a share between 0 and 1/)
    rejects('clusters: { local: { log: "memory:" } }\nhttpserver: { address: ":8000" }\n', /httpserver\.address: expected host:port/)
  })

  it('rejects unknown fields by their full path', () => {
    rejects('clusters:\n  local:\n    log: "memory:"\n    offset-refesh: 5\n', /line 4: clusters\.local\.offset-refesh: unknown field/)
    rejects('clusters: { local: { log: "memory:" } }\nstorge: {}\n', /storge: unknown field/)
  })

  it('rejects bad cluster definitions', () => {
    rejects('clusters: {}\n', /clusters: define at least one cluster/)
    rejects('clusters:\n  local: {}\n', /clusters\.local: set exactly one of log .* or servers/)
    rejects('clusters:\n  local: { log: "memory:", servers: ["a:1"] }\n', /set exactly one/)
    rejects('clusters:\n  local: { log: "ftp://x" }\n', /clusters\.local\.log: invalid log URL "ftp:\/\/x"/)
    rejects('clusters:\n  local: { servers: [localhost] }\n', /clusters\.local\.servers\.0: expected host:port/)
    rejects('clusters:\n  local: { log: "memory:", group-denylist: "(" }\n', /clusters\.local\.group-denylist: invalid regular expression/)
  })

  it('rejects bad notifiers, including templates that use fields that do not exist', () => {
    const base = 'clusters: { local: { log: "memory:" } }\nnotifiers:\n  ops:\n'
    rejects(`${base}    class-name: email\n`, /notifiers\.ops\.class-name: class-name must be http or log/)
    rejects(`${base}    class-name: http\n`, /notifiers\.ops\.url-open: .*expected string/)
    rejects(`${base}    class-name: http\n    url-open: "http://x/{{.Group}}"\n    threshold: PANIC\n`, /notifiers\.ops\.threshold: expected a status/)
    rejects(`${base}    class-name: http\n    url-open: "http://x/{{.Groop}}"\n`, /notifiers\.ops\.url-open: .*no field Groop/)
    rejects(`${base}    class-name: http\n    url-open: "http://x"\n    body-open: '{{jsonencodr .Result}}'\n`, /notifiers\.ops\.body-open: .*unknown function jsonencodr/)
    rejects(`${base}    class-name: http\n    url-open: "http://x"\n    send-close: true\n`, /notifiers\.ops\.url-close: required when send-close is true/)
    rejects(`${base}    class-name: http\n    url-open: "http://x"\n    template-open: /nonexistent/open.tmpl\n`, /notifiers\.ops\.template-open: cannot read template file .*ENOENT/)
  })

  it('reports invalid YAML and a missing file', () => {
    rejects('clusters:\n  local: [\n', /invalid YAML/)
    assert.throws(() => loadConfig('/nonexistent/monitor.yaml'), (err: unknown) => isTributaryError(err, 'TRIB_MONITOR_CONFIG') && /\/nonexistent\/monitor\.yaml: cannot read the config file: ENOENT/.test(err.message))
  })
})

describe('notification templates', () => {
  const data = {
    Cluster: 'c',
    Group: 'g',
    ID: 'id-1',
    Start: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
    Extras: new Map([['team', 'payments']]),
    Result: {
      status: 'WARN',
      totallag: 12,
      partition_count: 3,
      partitions: [
        { topic: 'a', status: 'WARN', current_lag: 10 },
        { topic: 'b', status: 'WARN', current_lag: 2 },
        { topic: 'a', status: 'STOP', current_lag: 0 },
      ],
      maxlag: { topic: 'a', partition: 0, current_lag: 10 },
    },
  }

  it('renders fields with Go-style names, functions and literals', () => {
    const render = (source: string): string => compileTemplate(source, 't').render(data)
    assert.equal(render('{{.Cluster}}/{{.Group}}/{{.ID}}'), 'c/g/id-1')
    assert.equal(render('{{.Result.Status}} {{.Result.TotalLag}} {{.Result.TotalPartitions}} {{.Result.Maxlag.CurrentLag}}'), 'WARN 12 3 10')
    assert.equal(render('{{formattimestamp .Start}}'), '2025-01-02T03:04:05.000Z')
    assert.equal(render('{{jsonencoder .Group}} {{jsonencoder .Extras}}'), '"g" {"team":"payments"}')
    assert.equal(render('{{.Extras.team}}|{{.Extras.missing}}|{{index .Extras "team"}}'), 'payments||payments')
    assert.equal(render('{{partitioncounts .Result.Partitions}}'), '{"WARN":2,"STOP":1}')
    assert.equal(render('{{topicsbystatus .Result.Partitions}}'), '{"WARN":["a","b"],"STOP":["a"]}')
    assert.equal(render('{{add 1 2}} {{sub .Result.TotalLag 2}} {{mul 2 3}} {{div 9 3}}'), '3 10 6 3')
    assert.equal(render('no actions'), 'no actions')
    assert.equal(render('{{.Id}}'), 'id-1', 'names match regardless of case, so Burrow’s sample {{.Id}} works here')
  })

  it('fails clearly on unknown fields, functions and syntax', () => {
    const fails = (source: string, pattern: RegExp): void => {
      assert.throws(() => compileTemplate(source, 'tpl').render(data), (err: unknown) => isTributaryError(err, 'TRIB_MONITOR_CONFIG') && pattern.test(err.message))
    }
    fails('{{.Groop}}', /template tpl: \{\{\.Groop\}\}: no field Groop/)
    fails('{{.Result.Nope}}', /no field Nope/)
    fails('{{.Group.Name}}', /cannot read field Name of a string/)
    fails('{{nope .Group}}', /unknown function nope/)
    fails('{{.Group', /unclosed \{\{/)
    fails('{{}}', /empty/)
    fails('{{.Group .Cluster}}', /a field takes no arguments/)
    fails('{{jsonencoder @}}', /cannot understand "@"/)
  })
})
