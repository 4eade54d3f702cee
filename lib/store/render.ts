/** CDR records as JSON (times in ISO 8601 UTC) and as CSV (RFC 4180, a header line). */
import type { CdrRecord } from './record'
import { COLUMNS } from './schema'

const TIME_FIELDS = new Set<keyof CdrRecord>(['createdAt', 'initiatorAnsweredAt', 'destinationAnsweredAt', 'bridgedAt', 'endedAt'])

export type CdrJson = { [K in keyof CdrRecord]: K extends 'createdAt' | 'endedAt' ? string : K extends 'initiatorAnsweredAt' | 'destinationAnsweredAt' | 'bridgedAt' ? string | null : CdrRecord[K] }

export function recordJson(r: CdrRecord): CdrJson {
  const out: Record<string, unknown> = {}
  for (const [field] of COLUMNS) {
    const v = r[field]
    out[field] = TIME_FIELDS.has(field) && typeof v === 'number' ? new Date(v).toISOString() : v
  }
  return out as CdrJson
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return ''
  const s = typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export const CSV_HEADER = COLUMNS.map((c) => c[1]).join(',')

/** one CSV line (no line ending), columns as CSV_HEADER */
export function recordCsv(r: CdrRecord): string {
  const j = recordJson(r) as unknown as Record<string, unknown>
  return COLUMNS.map(([field]) => csvField(j[field])).join(',')
}

export function recordsCsv(records: CdrRecord[]): string {
  return [CSV_HEADER, ...records.map(recordCsv)].map((l) => `${l}\r\n`).join('')
}
