/**
 * The system programs the tests need, checked before anything runs (`npm test` calls this first):
 *
 * - Java 17+ and Maven: the real Kafka broker (scripts/kafka.sh), also when `KAFKA_BROKERS` is set
 *   (the broker-outage test runs a broker of its own);
 * - Chromium at /usr/bin/chromium: the real browser the dashboard and start-page tests drive;
 * - PostgreSQL server binaries (initdb, pg_ctl under /usr/lib/postgresql/<version>/bin): the
 *   PostgreSQL the pipeline tests start (scripts/postgres.sh).
 *
 * Whatever is missing is installed when the machine can do it unattended — Debian or Ubuntu (apt-get)
 * as root or with passwordless sudo — with `apt-get update` and a quiet, non-interactive
 * `apt-get install`. Otherwise it stops at once and prints the exact command to run.
 *
 *   node scripts/prereqs.ts           check, install what is missing if possible
 *   node scripts/prereqs.ts --check   check only (exit 1 and print the install command if missing)
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

/** One prerequisite: how to find it and which Debian package provides it. */
export interface Prerequisite {
  name: string
  /** Why the tests need it. */
  why: string
  /** Undefined when present; otherwise what is wrong ("not found", "Java 11 is too old"). */
  problem(): string | undefined
  /** Debian packages, the first one apt knows is installed. */
  packages: string[]
}

/** What {@link ensurePrerequisites} found and did. */
export interface PrerequisiteReport {
  ok: boolean
  /** Names of prerequisites that were missing at the start. */
  missing: string[]
  /** Debian packages installed. */
  installed: string[]
  /** When not ok: the command that would install what is missing (or a sentence for other systems). */
  installCommand?: string
}

const run = (cmd: string, args: string[]): { status: number; out: string } => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 })
  return { status: r.error ? 127 : (r.status ?? 1), out: `${r.stdout ?? ''}${r.stderr ?? ''}` }
}

const onPath = (program: string): boolean => run('sh', ['-c', `command -v ${program}`]).status === 0

/** The major version `java -version` reports (8 for "1.8.0_x"), or undefined without java. */
export function javaMajor(versionOutput: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput)
  if (!m) return undefined
  const first = Number(m[1])
  return first === 1 && m[2] !== undefined ? Number(m[2]) : first
}

function postgresBinDirs(): string[] {
  const base = '/usr/lib/postgresql'
  if (!fs.existsSync(base)) return []
  return fs
    .readdirSync(base)
    .map((v) => path.join(base, v, 'bin'))
    .filter((dir) => fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'pg_ctl')))
}

/** The prerequisites, in the order they are reported. */
export const prerequisites: readonly Prerequisite[] = [
  {
    name: 'Java 17+',
    why: 'runs the Kafka broker',
    packages: ['openjdk-17-jre-headless', 'openjdk-21-jre-headless', 'default-jre-headless'],
    problem() {
      if (!onPath('java')) return 'java not found'
      const major = javaMajor(run('java', ['-version']).out)
      if (major === undefined) return 'java -version gave no version'
      return major >= 17 ? undefined : `java is version ${major}, 17 or newer is needed`
    },
  },
  {
    name: 'Maven',
    why: 'fetches the Kafka jars from Maven Central',
    packages: ['maven'],
    problem: () => (onPath('mvn') ? undefined : 'mvn not found'),
  },
  {
    name: 'Chromium',
    why: 'the real browser the dashboard tests drive',
    packages: ['chromium'],
    problem: () => (fs.existsSync('/usr/bin/chromium') ? undefined : '/usr/bin/chromium not found'),
  },
  {
    name: 'PostgreSQL',
    why: 'the database the pipeline tests start',
    packages: ['postgresql'],
    problem: () => (postgresBinDirs().length > 0 ? undefined : 'no initdb and pg_ctl under /usr/lib/postgresql/*/bin'),
  },
]

/** How this machine can run apt-get unattended: as root, through passwordless sudo, or not at all. */
function aptAccess(): { prefix: string[] } | undefined {
  if (!fs.existsSync('/etc/debian_version') || !onPath('apt-get')) return undefined
  if (process.getuid?.() === 0) return { prefix: [] }
  if (onPath('sudo') && run('sudo', ['-n', 'true']).status === 0) return { prefix: ['sudo', '-n'] }
  return undefined
}

/** The first of `candidates` apt knows (after `apt-get update`), else the first. */
function availablePackage(candidates: string[]): string {
  for (const p of candidates) {
    const r = run('apt-cache', ['show', '--no-all-versions', p])
    if (r.status === 0 && /^Package:/m.test(r.out)) return p
  }
  return candidates[0]
}

function installCommandFor(packages: string[]): string {
  if (fs.existsSync('/etc/debian_version')) {
    const sudo = process.getuid?.() === 0 ? '' : 'sudo '
    return `${sudo}apt-get update && ${sudo}DEBIAN_FRONTEND=noninteractive apt-get install -y ${packages.join(' ')}`
  }
  return `install ${packages.join(', ')} with your system's package manager (the tests expect Chromium at /usr/bin/chromium and PostgreSQL's initdb/pg_ctl under /usr/lib/postgresql/<version>/bin)`
}

/**
 * Checks every prerequisite and installs the missing ones when allowed and possible.
 *
 * @example
 * ```ts
 * const report = ensurePrerequisites({ install: true, print: console.log })
 * if (!report.ok) process.exit(1)
 * ```
 */
export function ensurePrerequisites(options: {
  install: boolean
  print: (line: string) => void
  /** What to check (tests); {@link prerequisites} by default. */
  list?: readonly Prerequisite[]
}): PrerequisiteReport {
  const { print } = options
  const list = options.list ?? prerequisites
  const missing = list.map((p) => ({ p, problem: p.problem() })).filter((m) => m.problem !== undefined)
  if (missing.length === 0) return { ok: true, missing: [], installed: [] }
  for (const m of missing) print(`prerequisite missing: ${m.p.name} (${m.p.why}): ${m.problem}`)
  const apt = options.install ? aptAccess() : undefined
  if (!apt) {
    const installCommand = installCommandFor(missing.map((m) => m.p.packages[0]))
    print(`install it and run the tests again:\n  ${installCommand}`)
    return { ok: false, missing: missing.map((m) => m.p.name), installed: [], installCommand }
  }
  const aptRun = (args: string[]): number => {
    const [cmd, ...rest] = [...apt.prefix, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args]
    return spawnSync(cmd, rest, { stdio: ['ignore', 'ignore', 'inherit'] }).status ?? 1
  }
  print('installing with apt-get (apt-get update first)')
  if (aptRun(['update', '-qq']) !== 0) print('apt-get update failed; trying the install with the package lists there are')
  const packages = missing.map((m) => availablePackage(m.p.packages))
  print(`apt-get install ${packages.join(' ')}`)
  const status = aptRun(['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-qq', ...packages])
  const still = list.filter((p) => missing.some((m) => m.p === p) && p.problem() !== undefined)
  if (status !== 0 || still.length > 0) {
    const installCommand = installCommandFor(packages)
    print(`apt-get install did not provide ${still.map((p) => p.name).join(', ') || 'everything'} (exit ${status}); run it yourself:\n  ${installCommand}`)
    return { ok: false, missing: missing.map((m) => m.p.name), installed: [], installCommand }
  }
  print(`installed ${packages.join(' ')}`)
  return { ok: true, missing: missing.map((m) => m.p.name), installed: packages }
}

if (import.meta.main) {
  const report = ensurePrerequisites({ install: !process.argv.includes('--check'), print: (line) => console.error(line) })
  if (report.ok) console.error('prerequisites: Java 17+, Maven, Chromium, PostgreSQL present')
  process.exit(report.ok ? 0 : 1)
}
