/**
 * How benchmarks report: one line per phase, ours beside the ceiling and their ratio, as text or as
 * JSON lines (`--json`). Also the machine the numbers were taken on.
 * @module
 */
import os from 'node:os'

/** One measured phase. */
export interface PhaseResult {
  bench: string
  backend?: string
  phase?: string
  records: number
  perSec: number
  ceilingPerSec?: number
  ratio?: number
  [extra: string]: unknown
}

/** Records per second. */
export function rate(records: number, startNs: bigint, endNs: bigint): number {
  return Math.round(records / (Number(endNs - startNs) / 1e9))
}

/** Prints a result as a JSON line or a readable line. */
export function report(result: PhaseResult, json: boolean): void {
  if (result.ceilingPerSec !== undefined) result.ratio = Math.round((result.perSec / result.ceilingPerSec) * 1000) / 1000
  if (json) {
    console.log(JSON.stringify(result))
    return
  }
  const parts = [`${result.bench}`, result.backend, result.phase].filter(Boolean).join(' ')
  const ceiling = result.ceilingPerSec === undefined ? '' : `  ceiling ${result.ceilingPerSec.toLocaleString('en')} rec/s  ratio ${result.ratio}`
  console.log(`${parts.padEnd(22)} ${result.records.toLocaleString('en')} records  ours ${result.perSec.toLocaleString('en')} rec/s${ceiling}`)
}

/** A one-line description of this machine, for the record. */
export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  return `${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}, ${os.platform()} ${os.release()}`
}
