/**
 * CDR queries: filters, order and cursor paging, and the time arguments the
 * API and the command line take (`2026-11-30T10:00:00Z`, `2026-11-30`, epoch
 * milliseconds, or a duration back from now such as `90m`, `1h`, `7d`).
 */
import { CdrQueryError } from './errors'

export const OUTCOMES = ['completed', 'busy', 'no-answer', 'rejected', 'failed', 'cancelled', 'joined'] as const

export interface CdrQuery {
  /** created_at >= from (ms) */
  from?: number
  /** created_at < to (ms) */
  to?: number
  /** the initiator as given; a URI (with `:`) also matches the translated address; `*` is a wildcard on both */
  initiator?: string
  destination?: string
  outcome?: string[]
  setupId?: string
  limit: number
  order: 'asc' | 'desc'
  cursor?: string
}

export const MAX_LIMIT = 1000
export const DEFAULT_LIMIT = 100

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** a point in time, ms since the epoch; `what` names the argument in errors */
export function parseTime(value: string, what: string, now = Date.now()): number {
  const v = value.trim()
  const rel = /^(\d{1,9})([smhdw])$/.exec(v)
  if (rel) return now - Number(rel[1]) * UNITS[rel[2]!]!
  if (/^\d{10,15}$/.test(v)) return Number(v)
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    const t = Date.parse(v.replace(' ', 'T'))
    if (Number.isFinite(t)) return t
  }
  throw new CdrQueryError(`${what}: "${value}" is not a time (ISO 8601 such as 2026-11-30T10:00:00Z, epoch milliseconds, or a duration back from now such as 90m, 1h, 7d)`)
}

export function encodeCursor(createdAt: number, callId: string): string {
  return Buffer.from(`${createdAt}.${callId}`, 'utf8').toString('base64url')
}

export function decodeCursor(cursor: string): { createdAt: number; callId: string } {
  const text = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : ''
  const m = /^(\d{1,15})\.(.{1,128})$/.exec(text)
  if (!m) throw new CdrQueryError(`cursor: "${cursor.slice(0, 40)}" is not a cursor this server gave`)
  return { createdAt: Number(m[1]), callId: m[2]! }
}

/** `*` wildcards to a LIKE pattern (with `\` escaping LIKE's own % and _) */
function likePattern(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%')
}

export interface Sql {
  sql: string
  params: Record<string, string | number>
}

export function buildQuery(q: CdrQuery): Sql {
  const where: string[] = []
  const params: Record<string, string | number> = {}
  if (q.from !== undefined) {
    where.push('created_at >= @from')
    params.from = q.from
  }
  if (q.to !== undefined) {
    where.push('created_at < @to')
    params.to = q.to
  }
  for (const field of ['initiator', 'destination'] as const) {
    const v = q[field]
    if (v === undefined || v === '') continue
    if (v.includes('*')) {
      where.push(`(${field} LIKE @${field} ESCAPE '\\' OR translated_${field} LIKE @${field} ESCAPE '\\')`)
      params[field] = likePattern(v)
    } else if (v.includes(':')) {
      // a URI: as given or as translated (scans the time range)
      where.push(`(${field} = @${field} OR translated_${field} = @${field})`)
      params[field] = v
    } else {
      // a number or name as the client gave it: indexed
      where.push(`${field} = @${field}`)
      params[field] = v
    }
  }
  if (q.outcome && q.outcome.length > 0) {
    const names = q.outcome.map((o, i) => {
      params[`outcome${i}`] = o
      return `@outcome${i}`
    })
    where.push(`outcome IN (${names.join(', ')})`)
  }
  if (q.setupId !== undefined && q.setupId !== '') {
    where.push('setup_id = @setupId')
    params.setupId = q.setupId
  }
  if (q.cursor !== undefined) {
    const c = decodeCursor(q.cursor)
    where.push(`(created_at, call_id) ${q.order === 'desc' ? '<' : '>'} (@cursorAt, @cursorId)`)
    params.cursorAt = c.createdAt
    params.cursorId = c.callId
  }
  const dir = q.order === 'desc' ? 'DESC' : 'ASC'
  params.limit = q.limit + 1
  return {
    sql: `SELECT * FROM calls${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at ${dir}, call_id ${dir} LIMIT @limit`,
    params,
  }
}

/** the API's query string (and the CLI's options, in the same names) to a CdrQuery */
export function queryFromParams(p: URLSearchParams, now = Date.now()): CdrQuery {
  const known = new Set(['from', 'to', 'initiator', 'destination', 'outcome', 'setupId', 'limit', 'cursor', 'order'])
  for (const k of p.keys()) if (!known.has(k)) throw new CdrQueryError(`unknown parameter "${k}" (known: ${[...known].join(', ')})`)
  const q: CdrQuery = { limit: DEFAULT_LIMIT, order: 'desc' }
  const get = (k: string): string | undefined => {
    const v = p.get(k)
    return v === null || v === '' ? undefined : v
  }
  const from = get('from')
  if (from !== undefined) q.from = parseTime(from, 'from', now)
  const to = get('to')
  if (to !== undefined) q.to = parseTime(to, 'to', now)
  const initiator = get('initiator')
  if (initiator !== undefined) q.initiator = initiator
  const destination = get('destination')
  if (destination !== undefined) q.destination = destination
  const setupId = get('setupId')
  if (setupId !== undefined) q.setupId = setupId
  const outcome = get('outcome')
  if (outcome !== undefined) {
    const list = outcome.split(',').map((x) => x.trim()).filter((x) => x !== '')
    for (const o of list) if (!(OUTCOMES as readonly string[]).includes(o)) throw new CdrQueryError(`outcome: "${o}" is not one of ${OUTCOMES.join(', ')}`)
    q.outcome = list
  }
  const limit = get('limit')
  if (limit !== undefined) {
    if (!/^\d{1,6}$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIMIT) throw new CdrQueryError(`limit: must be 1-${MAX_LIMIT}`)
    q.limit = Number(limit)
  }
  const order = get('order')
  if (order !== undefined) {
    if (order !== 'asc' && order !== 'desc') throw new CdrQueryError('order: asc or desc')
    q.order = order
  }
  const cursor = get('cursor')
  if (cursor !== undefined) {
    decodeCursor(cursor)
    q.cursor = cursor
  }
  return q
}
