/**
 * Stopping long-running commands (`run`, `ingest`) on SIGINT and SIGTERM: the first signal asks for
 * a graceful stop, the next one for an immediate one.
 * @module
 */

/**
 * Runs `work` with two abort signals: `stop` aborts at the first SIGINT or SIGTERM, `hardStop` at any
 * later one. The signal handlers are removed when `work` settles.
 *
 * @example
 * await untilSignalled((stop, hardStop) => runPipelines(options, stop, hardStop))
 */
export async function untilSignalled<T>(work: (stop: AbortSignal, hardStop: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController()
  const hardStop = new AbortController()
  let signals = 0
  const onSignal = (): void => {
    signals++
    if (signals === 1) stop.abort()
    else hardStop.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    return await work(stop.signal, hardStop.signal)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
