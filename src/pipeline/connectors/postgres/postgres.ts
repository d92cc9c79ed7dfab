/**
 * The `postgres` connector plugin (Conduit's `builtin:postgres`): a change-data-capture source and
 * a destination, with Conduit's settings. See docs/postgres.md.
 *
 * @example
 * ```yaml
 * connectors:
 *   - id: pg
 *     type: source
 *     plugin: builtin:postgres
 *     settings: { url: "postgres://u@127.0.0.1:5432/db", tables: "users", cdcMode: logrepl }
 * ```
 * @module
 */
import type { ConnectorPlugin } from '../../connector.ts'
import { PostgresDestination } from './destination.ts'
import { postgresSettings, type PostgresSettings } from './settings.ts'
import { PostgresSource } from './source.ts'

export { PostgresDestination } from './destination.ts'
export { PostgresSource } from './source.ts'
export { postgresSettings, type PostgresSettings } from './settings.ts'

/** The `postgres` plugin. */
export const postgresConnector: ConnectorPlugin<PostgresSettings> = {
  name: 'postgres',
  summary: 'PostgreSQL: change data capture (snapshot + logical replication, or long polling) and a COPY/upsert destination',
  settings: postgresSettings,
  source: (settings, ctx) => new PostgresSource(settings, ctx),
  destination: (settings, ctx) => {
    const table = settings.table ?? '{{ index .Metadata "opencdc.collection" }}'
    return new PostgresDestination({ ...settings, table }, ctx)
  },
}
