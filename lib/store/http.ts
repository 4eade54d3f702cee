/**
 * The HTTP side of the CDR, as plain functions the HTTP front-end mounts:
 *
 *   GET /v1/cdr?from=&to=&initiator=&destination=&outcome=&setupId=&limit=&cursor=&order=
 *     -> cdrList(store, url.searchParams, req.headers.accept)
 *   GET /v1/calls/{id} once the call layer no longer has the call
 *     -> cdrCall(store, id)
 *
 * Each returns { status, type, body, headers }; errors are RFC 9457
 * problem documents. No I/O of its own beyond the store's (synchronous,
 * indexed, at most MAX_LIMIT rows).
 */
import type { CdrStore } from './sqlite'
import { queryFromParams } from './query'
import { recordJson, recordsCsv, type CdrJson } from './render'
import { CdrQueryError, CdrUnavailableError } from './errors'

export interface CdrHttpResponse {
  status: number
  /** Content-Type */
  type: string
  body: string
  headers: Record<string, string>
}

/** RFC 9457 problem types of these handlers */
export const CDR_PROBLEMS = {
  badQuery: 'urn:clicktocall:problem:cdr-bad-query',
  unavailable: 'urn:clicktocall:problem:cdr-unavailable',
  notFound: 'urn:clicktocall:problem:call-not-found',
} as const

function problem(status: number, type: string, title: string, detail: string): CdrHttpResponse {
  return { status, type: 'application/problem+json', body: JSON.stringify({ type, title, status, detail }), headers: {} }
}

function wantsCsv(accept: string | undefined): boolean {
  if (!accept) return false
  // the first listed of text/csv and application/json wins; q-values are not weighed
  const types = accept.split(',').map((x) => x.split(';')[0]!.trim().toLowerCase())
  const csv = types.indexOf('text/csv')
  const json = types.findIndex((t) => t === 'application/json' || t === 'application/*')
  return csv >= 0 && (json < 0 || csv < json)
}

export interface CdrListBody {
  records: CdrJson[]
  nextCursor: string | null
}

/** `GET /v1/cdr`: JSON `{records, nextCursor}`, or CSV with `Accept: text/csv` (next cursor in `X-Next-Cursor`) */
export function cdrList(store: CdrStore | undefined, params: URLSearchParams, accept: string | undefined): CdrHttpResponse {
  if (!store) return problem(503, CDR_PROBLEMS.unavailable, 'Call detail records are off', 'CdrDatabase is blank in the configuration')
  try {
    const page = store.query(queryFromParams(params))
    const headers: Record<string, string> = { 'Cache-Control': 'no-store' }
    if (page.nextCursor) headers['X-Next-Cursor'] = page.nextCursor
    if (wantsCsv(accept)) return { status: 200, type: 'text/csv; charset=utf-8; header=present', body: recordsCsv(page.records), headers }
    const body: CdrListBody = { records: page.records.map(recordJson), nextCursor: page.nextCursor }
    return { status: 200, type: 'application/json', body: JSON.stringify(body), headers }
  } catch (err) {
    if (err instanceof CdrQueryError) return problem(400, CDR_PROBLEMS.badQuery, 'Bad CDR query', err.message)
    if (err instanceof CdrUnavailableError) return problem(503, CDR_PROBLEMS.unavailable, 'Call detail records unavailable', err.message)
    throw err
  }
}

/** `GET /v1/calls/{id}` after ResultCacheTime: the call's record, `{ record }`, or 404 */
export function cdrCall(store: CdrStore | undefined, callId: string): CdrHttpResponse {
  if (!store) return problem(404, CDR_PROBLEMS.notFound, 'No such call', `no call ${callId} (and call detail records are off)`)
  try {
    const r = store.get(callId)
    if (!r) return problem(404, CDR_PROBLEMS.notFound, 'No such call', `no call ${callId}`)
    return { status: 200, type: 'application/json', body: JSON.stringify({ record: recordJson(r) }), headers: { 'Cache-Control': 'no-store' } }
  } catch (err) {
    if (err instanceof CdrUnavailableError) return problem(503, CDR_PROBLEMS.unavailable, 'Call detail records unavailable', err.message)
    throw err
  }
}
