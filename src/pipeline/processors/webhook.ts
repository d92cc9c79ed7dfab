/**
 * Conduit's `webhook.http` processor: one HTTP request per record, retried with exponential backoff
 * on a network error or a status of 500 or more; the response body (and, optionally, the status)
 * is stored in the record.
 *
 * Settings, as in Conduit: `request.url` (a template), `request.method` (GET), `request.body` (a
 * template; `{{ toJson . }}` sends the whole record), `headers.<Name>`, `request.contentType`
 * (deprecated), `response.body` (`.Payload.After`), `response.status`, and `backoffRetry.count`
 * (0), `.factor` (2), `.min` (100ms), `.max` (5s). Without a `Content-Type` header,
 * `application/json` is sent.
 *
 * Requests go through `node:http`/`node:https` with keep-alive (not `fetch`, which refuses a body
 * on GET, and Conduit's own example sends one). The records of a batch are sent one after another,
 * in order; a pipeline's `workers` setting runs several at once.
 *
 * @example
 * ```yaml
 * processors:
 *   - id: enrich
 *     plugin: webhook.http
 *     settings:
 *       request.url: http://127.0.0.1:8080/users/{{ .Payload.After.id }}
 *       response.body: .Payload.After.user
 *       response.status: .Metadata["http_status"]
 * ```
 * @module
 */
import http from 'node:http'
import https from 'node:https'
import { z } from 'zod'
import type { PipelineProcessor, ProcessedRecord, ProcessorPlugin } from '../processor.ts'
import type { PipelineRecord } from '../record.ts'
import { recordError, type RecordReference } from '../reference.ts'
import { compileTemplate, isTemplate, type RecordTemplate } from '../template.ts'
import { boolSetting, describeProcessor, durationSetting, failRecord, numberSetting, referenceSetting, settingError } from './common.ts'

const HEADER_PREFIX = 'headers.'

const webhookSettings = z
  .object({
    'request.url': z.string({ error: 'request.url is required' }).refine((s) => s.trim() !== '', 'request.url is required'),
    'request.method': z.string().default('GET'),
    'request.body': z.string().default(''),
    'request.contentType': z.string().default(''),
    'response.body': z.string().default('.Payload.After'),
    'response.status': z.string().default(''),
    'backoffRetry.count': numberSetting('backoffRetry.count').pipe(z.number().gt(-1, 'backoffRetry.count must be greater than -1')).default(0),
    'backoffRetry.factor': numberSetting('backoffRetry.factor').pipe(z.number().gt(0, 'backoffRetry.factor must be greater than 0')).default(2),
    'backoffRetry.min': durationSetting('backoffRetry.min').default(100),
    'backoffRetry.max': durationSetting('backoffRetry.max').default(5000),
    'sdk.schema.decode.key.enabled': boolSetting('sdk.schema.decode.key.enabled').optional(),
    'sdk.schema.decode.payload.enabled': boolSetting('sdk.schema.decode.payload.enabled').optional(),
    'sdk.schema.encode.key.enabled': boolSetting('sdk.schema.encode.key.enabled').optional(),
    'sdk.schema.encode.payload.enabled': boolSetting('sdk.schema.encode.payload.enabled').optional(),
  })
  .catchall(z.unknown())
  .superRefine((settings, ctx) => {
    for (const [key, value] of Object.entries(settings)) {
      if (key in webhookSettingNames) continue
      if (!key.startsWith(HEADER_PREFIX)) ctx.addIssue({ code: 'custom', path: [key], message: `unknown setting ${JSON.stringify(key)} (headers are set with headers.<Name>)` })
      else if (key.length === HEADER_PREFIX.length) ctx.addIssue({ code: 'custom', path: [key], message: 'a header setting needs a name: headers.<Name>' })
      else if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') ctx.addIssue({ code: 'custom', path: [key], message: `${key} must be a string` })
    }
  })

const webhookSettingNames: { [k: string]: true } = Object.fromEntries(
  [
    'request.url',
    'request.method',
    'request.body',
    'request.contentType',
    'response.body',
    'response.status',
    'backoffRetry.count',
    'backoffRetry.factor',
    'backoffRetry.min',
    'backoffRetry.max',
    'sdk.schema.decode.key.enabled',
    'sdk.schema.decode.payload.enabled',
    'sdk.schema.encode.key.enabled',
    'sdk.schema.encode.payload.enabled',
  ].map((k) => [k, true]),
)

type WebhookSettings = z.infer<typeof webhookSettings>

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

interface Agents {
  readonly http: http.Agent
  readonly https: https.Agent
}

interface HttpResponse {
  status: number
  body: Buffer
}

/** One request; rejects on a network error or when `signal` aborts. */
function send(agents: Agents, url: URL, method: string, headers: { [k: string]: string }, body: Buffer, signal: AbortSignal): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:'
    const req = (secure ? https : http).request(url, { method, headers: { ...headers, 'content-length': String(body.length) }, agent: secure ? agents.https : agents.http, signal }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Parses a URL as Go's request does, re-encoding a templated URL's query (sorted, as `url.Values.Encode`). */
function parseUrl(text: string, sortQuery: boolean): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw recordError(`error parsing URL ${JSON.stringify(text)}: not an absolute http(s) URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw recordError(`unsupported protocol scheme ${JSON.stringify(url.protocol.replace(/:$/, ''))} in ${JSON.stringify(text)}`)
  if (sortQuery && url.search !== '') {
    const params = [...url.searchParams].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    url.search = new URLSearchParams(params).toString()
  }
  return url
}

class WebhookProcessor implements PipelineProcessor {
  readonly #label: string
  readonly #settings: WebhookSettings
  readonly #method: string
  readonly #headers: { [k: string]: string }
  readonly #url: RecordTemplate | URL
  readonly #body: RecordTemplate | Buffer
  readonly #responseBody: RecordReference
  readonly #responseStatus: RecordReference | undefined
  /** Keep-alive connections of this processor, closed by `teardown`. */
  readonly #agents: Agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }

  constructor(label: string, settings: WebhookSettings) {
    this.#label = label
    this.#settings = settings
    const method = settings['request.method'].trim() === '' ? 'GET' : settings['request.method'].trim()
    if (!METHOD.test(method)) throw settingError(label, 'request.method', `${JSON.stringify(method)} is not a valid HTTP method`)
    this.#method = method
    const headers: { [k: string]: string } = {}
    for (const [key, value] of Object.entries(settings)) {
      if (key.startsWith(HEADER_PREFIX) && !(key in webhookSettingNames)) headers[key.slice(HEADER_PREFIX.length)] = String(value)
    }
    const hasContentType = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')
    const contentType = settings['request.contentType']
    if (hasContentType && contentType !== '') {
      throw settingError(label, 'request.contentType', 'cannot give both "request.contentType" and "headers.Content-Type"; use "headers.Content-Type" only')
    }
    if (!hasContentType) headers['Content-Type'] = contentType !== '' ? contentType : 'application/json'
    this.#headers = headers
    if (settings['response.body'] === settings['response.status']) throw settingError(label, 'response.status', 'response.body and response.status are set to the same field')
    this.#responseBody = referenceSetting(label, 'response.body', settings['response.body'])
    this.#responseStatus = settings['response.status'].trim() === '' ? undefined : referenceSetting(label, 'response.status', settings['response.status'])
    const url = settings['request.url']
    if (isTemplate(url)) this.#url = compileTemplate(url, `${label}: setting "request.url"`)
    else {
      try {
        this.#url = parseUrl(url.trim(), false)
      } catch (err) {
        throw settingError(label, 'request.url', (err as Error).message)
      }
    }
    const body = settings['request.body']
    this.#body = isTemplate(body) ? compileTemplate(body, `${label}: setting "request.body"`) : Buffer.from(body, 'utf8')
  }

  async process(records: readonly PipelineRecord[], signal: AbortSignal): Promise<ProcessedRecord[]> {
    const out: ProcessedRecord[] = []
    for (const record of records) {
      if (signal.aborted) break // the rest are retried by the runtime
      try {
        out.push(await this.#withRetries(record, signal))
      } catch (err) {
        if (signal.aborted) break
        out.push(failRecord(this.#label, record, err))
      }
    }
    return out
  }

  async teardown(): Promise<void> {
    this.#agents.http.destroy()
    this.#agents.https.destroy()
  }

  async #withRetries(record: PipelineRecord, signal: AbortSignal): Promise<PipelineRecord> {
    const s = this.#settings
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#once(record, signal)
      } catch (err) {
        if (signal.aborted || attempt >= s['backoffRetry.count']) {
          if (attempt > 0 && !signal.aborted) throw recordError(`${(err as Error).message} (after ${attempt + 1} attempts)`, err)
          throw err
        }
        const wait = Math.min(s['backoffRetry.max'], s['backoffRetry.min'] * s['backoffRetry.factor'] ** attempt)
        await sleep(wait, signal)
      }
    }
  }

  async #once(record: PipelineRecord, signal: AbortSignal): Promise<PipelineRecord> {
    const url = this.#url instanceof URL ? this.#url : parseUrl(this.#url(record), true)
    const body = Buffer.isBuffer(this.#body) ? this.#body : Buffer.from(this.#body(record), 'utf8')
    let res: HttpResponse
    try {
      res = await send(this.#agents, url, this.#method, this.#headers, body, signal)
    } catch (err) {
      throw recordError(`error executing HTTP request ${this.#method} ${url.href}: ${(err as Error).message}`, err)
    }
    if (res.status >= 500) {
      const text = res.body.toString('utf8')
      throw recordError(`error status code ${res.status} from ${this.#method} ${url.href} (body: ${JSON.stringify(text.length > 500 ? `${text.slice(0, 500)}…` : text)})`)
    }
    let out = this.#setResponse(record, this.#responseBody, res.body, 'response body')
    if (this.#responseStatus !== undefined) out = this.#setResponse(out, this.#responseStatus, String(res.status), 'response status')
    return out
  }

  #setResponse(record: PipelineRecord, ref: RecordReference, value: Buffer | string, what: string): PipelineRecord {
    let v: unknown = value
    if (Buffer.isBuffer(value) && ref.fields.length > 0) {
      // Metadata values are strings; in structured data the bytes are kept as the base64 text that
      // Conduit's JSON shows for them.
      v = ref.target === 'metadata' ? value.toString('utf8') : value.toString('base64')
    }
    try {
      return ref.set(record, v)
    } catch (err) {
      throw recordError(`failed setting ${what}: ${(err as Error).message}`, err)
    }
  }
}

/** `webhook.http`: sends an HTTP request per record and stores the response. */
export const webhookHttp: ProcessorPlugin<WebhookSettings> = {
  name: 'webhook.http',
  summary: 'Trigger an HTTP request for every record.',
  settings: webhookSettings,
  create: (settings, ctx) => new WebhookProcessor(describeProcessor(ctx, 'webhook.http'), settings),
}
