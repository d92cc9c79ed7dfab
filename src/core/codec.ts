/**
 * Codecs turn typed values into bytes and back.
 *
 * A codec is two functions, like goka's `Codec` interface. `decode` must throw a
 * {@link TributaryError} with code `TRIB_CODEC` on bad input so callers can name the record.
 *
 * @example
 * ```ts
 * import { codecs } from 'tributary/core'
 * const bytes = codecs.json<{ n: number }>().encode({ n: 1 })
 * codecs.json<{ n: number }>().decode(bytes) // { n: 1 }
 * ```
 * @module
 */
import { TributaryError } from './errors.ts'

/** Encodes values of type `T` to bytes and decodes them back. */
export interface Codec<T> {
  encode(value: T): Buffer
  decode(bytes: Buffer): T
}

function codecError(kind: string, cause: unknown): TributaryError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new TributaryError('TRIB_CODEC', `cannot decode ${kind}: ${reason}`, { cause })
}

const stringCodec: Codec<string> = {
  encode: (value) => Buffer.from(value, 'utf8'),
  decode: (bytes) => bytes.toString('utf8'),
}

const bytesCodec: Codec<Buffer> = {
  encode: (value) => value,
  decode: (bytes) => bytes,
}

const int64Codec: Codec<bigint> = {
  encode(value) {
    const out = Buffer.allocUnsafe(8)
    out.writeBigInt64BE(value)
    return out
  },
  decode(bytes) {
    if (bytes.length !== 8) throw codecError('int64', `expected 8 bytes, got ${bytes.length}`)
    return bytes.readBigInt64BE(0)
  },
}

function jsonCodec<T>(): Codec<T> {
  return {
    encode: (value) => Buffer.from(JSON.stringify(value), 'utf8'),
    decode(bytes) {
      try {
        return JSON.parse(bytes.toString('utf8')) as T
      } catch (err) {
        throw codecError('json', err)
      }
    },
  }
}

/** Builds a codec from two functions; errors thrown by `decode` are wrapped as `TRIB_CODEC`. */
function customCodec<T>(encode: (value: T) => Buffer, decode: (bytes: Buffer) => T, name = 'custom'): Codec<T> {
  return {
    encode,
    decode(bytes) {
      try {
        return decode(bytes)
      } catch (err) {
        if (err instanceof TributaryError) throw err
        throw codecError(name, err)
      }
    },
  }
}

/** The built-in codecs. */
export const codecs = {
  /** UTF-8 strings (goka's `codec.String`). */
  string: (): Codec<string> => stringCodec,
  /** Raw bytes (goka's `codec.Bytes`). */
  bytes: (): Codec<Buffer> => bytesCodec,
  /** Big-endian signed 64-bit integers as `bigint` (Kafka's `LongSerializer`). */
  int64: (): Codec<bigint> => int64Codec,
  /** JSON text in UTF-8. */
  json: jsonCodec,
  /** A codec of your own. */
  custom: customCodec,
}
