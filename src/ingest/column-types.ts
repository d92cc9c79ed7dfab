/**
 * AresDB's column types: their names as job configs spell them, their widths in bits, and the
 * conversion of a decoded JSON value into the typed value a sink writes.
 *
 * AresDB itself converts nothing in the subscriber (its `Transform` is a no-op); Tributary checks
 * each value against its column type, so a value that cannot be stored is caught at mapping time,
 * named, and sent to the job's DLQ instead of failing a whole batch at the sink.
 *
 * @example
 * ```ts
 * columnTypeBits('Uint32')             // 32
 * convertColumnValue('Bool', 'true')   // { ok: true, value: true }
 * convertColumnValue('Uint8', 300)     // { ok: false, reason: 'Uint8 value 300 is outside 0..255' }
 * ```
 * @module
 */

/** The scalar AresDB types, with their widths in bits (AresDB's `DataTypeBits`). */
const SCALAR_BITS = {
  Bool: 1,
  Int8: 8,
  Uint8: 8,
  Int16: 16,
  Uint16: 16,
  Int32: 32,
  Uint32: 32,
  Float32: 32,
  SmallEnum: 8,
  BigEnum: 16,
  UUID: 128,
  GeoPoint: 64,
  GeoShape: 0,
  Int64: 64,
} as const

/** A scalar AresDB column type name. */
export type ScalarColumnType = keyof typeof SCALAR_BITS

/** Every column type name AresDB accepts: the scalars and their arrays (`Uint32[]`), without `GeoShape[]`. */
export const COLUMN_TYPES: readonly string[] = [
  ...Object.keys(SCALAR_BITS),
  ...Object.keys(SCALAR_BITS)
    .filter((t) => t !== 'GeoShape')
    .map((t) => `${t}[]`),
]

/** True when `type` is one of {@link COLUMN_TYPES}. */
export function isColumnType(type: string): boolean {
  return COLUMN_TYPES.includes(type)
}

/** The width of a column type in bits, as AresDB computes it (arrays: their element's width). */
export function columnTypeBits(type: string): number {
  const scalar = (type.endsWith('[]') ? type.slice(0, -2) : type) as ScalarColumnType
  return SCALAR_BITS[scalar] ?? 0
}

/** The result of {@link convertColumnValue}. */
export type ConvertResult = { ok: true; value: unknown } | { ok: false; reason: string }

const INT_RANGES: { [type: string]: readonly [number, number] } = {
  Int8: [-128, 127],
  Uint8: [0, 255],
  Int16: [-32768, 32767],
  Uint16: [0, 65535],
  Int32: [-2147483648, 2147483647],
  Uint32: [0, 4294967295],
}

const UUID_PATTERN = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

function convertScalar(type: string, value: unknown): ConvertResult {
  switch (type) {
    case 'Bool': {
      if (typeof value === 'boolean') return { ok: true, value }
      if (value === 1 || value === 0) return { ok: true, value: value === 1 }
      if (typeof value === 'string' && /^(true|false|1|0)$/i.test(value)) return { ok: true, value: /^(true|1)$/i.test(value) }
      return { ok: false, reason: `Bool value ${describe(value)} is not a boolean` }
    }
    case 'Int8':
    case 'Uint8':
    case 'Int16':
    case 'Uint16':
    case 'Int32':
    case 'Uint32': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
      if (typeof n !== 'number' || !Number.isInteger(n)) return { ok: false, reason: `${type} value ${describe(value)} is not an integer` }
      const [lo, hi] = INT_RANGES[type]
      if (n < lo || n > hi) return { ok: false, reason: `${type} value ${describe(value)} is outside ${lo}..${hi}` }
      return { ok: true, value: n }
    }
    case 'Int64': {
      if (typeof value === 'number' && Number.isInteger(value)) return { ok: true, value: BigInt(value) }
      if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) {
        const big = BigInt(value.trim())
        if (big >= -(2n ** 63n) && big < 2n ** 63n) return { ok: true, value: big }
      }
      return { ok: false, reason: `Int64 value ${describe(value)} is not a 64-bit integer` }
    }
    case 'Float32': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
      if (typeof n !== 'number' || !Number.isFinite(n)) return { ok: false, reason: `Float32 value ${describe(value)} is not a finite number` }
      return { ok: true, value: n }
    }
    case 'SmallEnum':
    case 'BigEnum':
      if (typeof value === 'string') return { ok: true, value }
      if (typeof value === 'number' || typeof value === 'boolean') return { ok: true, value: String(value) }
      return { ok: false, reason: `${type} value ${describe(value)} is not a string` }
    case 'UUID':
      if (typeof value === 'string' && UUID_PATTERN.test(value)) {
        const hex = value.replace(/-/g, '').toLowerCase()
        return { ok: true, value: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` }
      }
      return { ok: false, reason: `UUID value ${describe(value)} is not a UUID` }
    case 'GeoPoint':
    case 'GeoShape':
      if (typeof value === 'string') return { ok: true, value }
      return { ok: false, reason: `${type} value ${describe(value)} is not a WKT string` }
    default:
      return { ok: false, reason: `unknown column type ${type}` }
  }
}

/**
 * Converts a decoded JSON value to the column's type. `null` and `undefined` stay `null` (the
 * caller applies defaults and null rules first). Arrays convert element by element.
 */
export function convertColumnValue(type: string, value: unknown): ConvertResult {
  if (value === null || value === undefined) return { ok: true, value: null }
  if (!type.endsWith('[]')) return convertScalar(type, value)
  if (!Array.isArray(value)) return { ok: false, reason: `${type} value ${describe(value)} is not an array` }
  const element = type.slice(0, -2)
  const out: unknown[] = []
  for (let i = 0; i < value.length; i++) {
    const r = value[i] === null ? ({ ok: true, value: null } as const) : convertScalar(element, value[i])
    if (!r.ok) return { ok: false, reason: `element ${i}: ${r.reason}` }
    out.push(r.value)
  }
  return { ok: true, value: out }
}
