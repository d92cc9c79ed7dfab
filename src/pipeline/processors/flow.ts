/**
 * Conduit's processors that decide what becomes of a record rather than change it: `filter` (drop
 * it), `error` (nack it with a message), `split` (one record per element of an array field) and
 * `clone` (the record and N copies). Use `filter` and `error` with a processor `condition`.
 *
 * @example
 * ```yaml
 * processors:
 *   - { id: drop-deletes, plugin: filter, condition: '{{ eq .Operation "delete" }}' }
 *   - { id: users, plugin: split, settings: { field: .Payload.After.users } }
 * ```
 * @module
 */
import { z } from 'zod'
import { TributaryError } from '../../core/errors.ts'
import { goTypeName } from '../go-format.ts'
import { filterRecord, multiRecord, type ProcessedRecord, type ProcessorPlugin } from '../processor.ts'
import type { PipelineRecord } from '../record.ts'
import { describePosition, recordError } from '../reference.ts'
import { compileTemplate, isTemplate } from '../template.ts'
import { describeProcessor, numberSetting, perRecord, processorSettings, referenceSetting, requiredString, settingError } from './common.ts'

const filterSettings = processorSettings({})

/** `filter`: every record it gets is filtered out (acked without reaching the destination). */
export const filter: ProcessorPlugin<z.infer<typeof filterSettings>> = {
  name: 'filter',
  summary: 'Filter out every record it receives (use it with a condition).',
  settings: filterSettings,
  create: () => ({ process: (records) => records.map(() => filterRecord()) }),
}

const errorSettings = processorSettings({ message: z.string().default('error processor triggered') })

/** `error`: every record it gets is nacked with `message` (a template). */
export const error: ProcessorPlugin<z.infer<typeof errorSettings>> = {
  name: 'error',
  summary: 'Return an error for every record it receives (use it with a condition).',
  settings: errorSettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'error')
    const message = isTemplate(settings.message) ? compileTemplate(settings.message, `${label}: setting "message"`) : () => settings.message
    return {
      process: (records) =>
        records.map((record): ProcessedRecord => {
          let text: string
          try {
            text = message(record)
          } catch (err) {
            text = (err as Error).message
          }
          return { kind: 'error', error: new TributaryError('TRIB_PIPELINE_RECORD', text, { details: { processor: ctx.processorId, position: describePosition(record.position) } }) }
        }),
    }
  },
}

/** The metadata key `split` sets to each new record's index in the array. */
export const SPLIT_INDEX_KEY = 'split.index'

const splitSettings = processorSettings({ field: requiredString('field') })

/** `split`: a record whose `field` holds an array becomes one record per element, with `split.index` metadata. */
export const split: ProcessorPlugin<z.infer<typeof splitSettings>> = {
  name: 'split',
  summary: 'Split a record into one record per element of an array field.',
  settings: splitSettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'split')
    const ref = referenceSetting(label, 'field', settings.field, ['key', 'before', 'after'], 'only fields under .Key and .Payload can be split')
    return {
      process: perRecord(label, (record) => {
        const value = ref.get(record)
        if (!Array.isArray(value)) throw recordError(`field ${JSON.stringify(settings.field)} is not a slice (it is ${value === undefined ? 'missing' : goTypeName(value)})`)
        if (value.length === 0) return filterRecord()
        const out: PipelineRecord[] = new Array(value.length)
        for (let i = 0; i < value.length; i++) {
          let item: PipelineRecord
          try {
            item = ref.set(record, value[i])
          } catch (err) {
            throw recordError(`failed to set the item ${i}: ${(err as Error).message}`, err)
          }
          out[i] = { ...item, metadata: { ...item.metadata, [SPLIT_INDEX_KEY]: String(i) } }
        }
        return multiRecord(out)
      }),
    }
  },
}

/** The metadata key `clone` sets: 0 on the original, 1..N on the clones. */
export const CLONE_INDEX_KEY = 'clone.index'

const cloneSettings = processorSettings({
  count: numberSetting('count').pipe(z.number().int('count must be an integer').gt(0, 'count must be greater than 0')),
})

/** `clone`: each record becomes `count + 1` records, told apart by `clone.index` metadata. */
export const clone: ProcessorPlugin<z.infer<typeof cloneSettings>> = {
  name: 'clone',
  summary: 'Clone every record N times.',
  settings: cloneSettings,
  create(settings, ctx) {
    const count = settings.count
    if (!Number.isSafeInteger(count) || count > 1_000_000) throw settingError(describeProcessor(ctx, 'clone'), 'count', `${count} is too large`)
    return {
      process: (records) =>
        records.map((record) => {
          const out: PipelineRecord[] = new Array(count + 1)
          // Copies share the key and payload: processors never change data in place (see reference.ts).
          for (let j = 0; j <= count; j++) out[j] = { ...record, metadata: { ...record.metadata, [CLONE_INDEX_KEY]: String(j) } }
          return multiRecord(out)
        }),
    }
  },
}
