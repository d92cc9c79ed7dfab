/**
 * What an offset source is: something that keeps one cluster's high watermarks and commits flowing
 * into storage until stopped.
 *
 * @example
 * ```ts
 * const source: OffsetSource = new EmbeddedOffsetSource(config, log, deps)
 * await source.start()
 * source.info() // { 'class-name': 'embedded', ... } — shown by GET /v3/kafka/:cluster
 * await source.stop()
 * ```
 * @module
 */

/** The cluster module description `GET /v3/kafka/:cluster` returns (Burrow shows its config). */
export interface SourceInfo {
  readonly 'class-name': 'kafka' | 'embedded'
  readonly [setting: string]: unknown
}

/** A running reader of one cluster. */
export interface OffsetSource {
  /** Starts reading; resolves once the first broker-offset refresh was tried. */
  start(): Promise<void>
  /** Stops reading and releases connections. */
  stop(): Promise<void>
  /** Settings, for the API. */
  info(): SourceInfo
}
