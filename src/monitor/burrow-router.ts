/**
 * What Burrow's router (julienschmidt/httprouter 1.3 with its defaults) answers when no route
 * matches a request exactly, so that clients see the same status codes and headers:
 *
 * 1. a path that matches a route of the same method once its trailing slash is removed (or added)
 *    is redirected there: `301` for GET, `307` for other methods;
 * 2. a path that matches once cleaned (`//`, `.`, `..`) and compared case-insensitively is
 *    redirected to the route's spelling, with the same codes;
 * 3. `OPTIONS` on a known path answers `200` with an `Allow` header and no body;
 * 4. another method on a known path answers `405 Method Not Allowed` with an `Allow` header;
 * 5. anything else is Burrow's catch-all `404` (a JSON text served as `text/plain`).
 *
 * @example
 * ```ts
 * const routes = [{ method: 'GET', path: '/v3/kafka' }, { method: 'GET', path: '/v3/kafka/:cluster' }]
 * resolveUnmatched(routes, 'GET', '/v3/kafka/')   // { kind: 'redirect', status: 301, location: '/v3/kafka' }
 * resolveUnmatched(routes, 'POST', '/v3/kafka')   // { kind: 'method-not-allowed', allow: 'GET, OPTIONS' }
 * ```
 * @module
 */

/** One route: a method and a path whose `:name` segments are parameters. */
export interface RouteSpec {
  readonly method: string
  readonly path: string
}

/** What to answer for a request no route matched exactly. */
export type Unmatched =
  | { readonly kind: 'redirect'; readonly status: 301 | 307; readonly location: string }
  | { readonly kind: 'options'; readonly allow: string }
  | { readonly kind: 'method-not-allowed'; readonly allow: string }
  | { readonly kind: 'not-found' }

/** Burrow's catch-all body for unknown paths (sent with `http.Error`, hence the newline and `text/plain`). */
export const BURROW_NOT_FOUND_BODY = '{"error":true,"message":"invalid request type","result":{}}\n'

const segmentsOf = (path: string): string[] => path.split('/').slice(1)

/** Whether `path` matches the route; with `ignoreCase`, static segments compare case-insensitively. Returns the route's spelling. */
function match(route: RouteSpec, path: string, ignoreCase: boolean): string | undefined {
  const want = segmentsOf(route.path)
  const got = segmentsOf(path)
  if (want.length !== got.length) return undefined
  const out: string[] = []
  for (let i = 0; i < want.length; i++) {
    const w = want[i]
    const g = got[i]
    if (w.startsWith(':')) {
      if (g === '') return undefined
      out.push(g)
    } else if (w === g || (ignoreCase && w.toLowerCase() === g.toLowerCase())) {
      out.push(w)
    } else {
      return undefined
    }
  }
  return '/' + out.join('/')
}

function matchAny(routes: readonly RouteSpec[], method: string, path: string, ignoreCase: boolean): string | undefined {
  for (const route of routes) {
    if (route.method !== method) continue
    const fixed = match(route, path, ignoreCase)
    if (fixed !== undefined) return fixed
  }
  return undefined
}

/** Go's `path.Clean` as httprouter's `CleanPath` applies it: one slash between segments, `.` and `..` resolved, the trailing slash kept. */
export function cleanPath(path: string): string {
  if (path === '') return '/'
  const trailing = path.length > 1 && path.endsWith('/')
  const out: string[] = []
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') out.pop()
    else out.push(segment)
  }
  const cleaned = '/' + out.join('/')
  return trailing && cleaned !== '/' ? cleaned + '/' : cleaned
}

/** The methods (sorted, with OPTIONS) that have a route for `path`, other than `except`; '' when none. */
export function allowedMethods(routes: readonly RouteSpec[], path: string, except: string): string {
  const methods = new Set<string>()
  for (const route of routes) {
    if (route.method === except || route.method === 'OPTIONS') continue
    if (match(route, path, false) !== undefined) methods.add(route.method)
  }
  if (methods.size === 0) return ''
  methods.add('OPTIONS')
  return [...methods].sort().join(', ')
}

/** Decides the answer for `method url` when no route matched it exactly (`url` may carry a query). */
export function resolveUnmatched(routes: readonly RouteSpec[], method: string, url: string): Unmatched {
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  const query = q < 0 ? '' : url.slice(q)
  const hasTree = routes.some((r) => r.method === method)
  if (hasTree && method !== 'CONNECT' && path !== '/') {
    const status = method === 'GET' ? 301 : 307
    const toggled = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path + '/'
    if (matchAny(routes, method, toggled, false) !== undefined) return { kind: 'redirect', status, location: toggled + query }
    const cleaned = cleanPath(path)
    let fixed = matchAny(routes, method, cleaned, true)
    if (fixed === undefined && cleaned.length > 1 && cleaned.endsWith('/')) fixed = matchAny(routes, method, cleaned.slice(0, -1), true)
    if (fixed !== undefined) return { kind: 'redirect', status, location: fixed + query }
  }
  const allow = allowedMethods(routes, path, method)
  if (allow !== '') return method === 'OPTIONS' ? { kind: 'options', allow } : { kind: 'method-not-allowed', allow }
  return { kind: 'not-found' }
}
