/**
 * The `calls` table: one row per call. Each column maps one CdrRecord field;
 * times are integer milliseconds since the epoch (UTC). The table is created
 * if missing; `user_version` records the schema version for later migrations.
 */
import type { CdrRecord } from './record'

export const SCHEMA_VERSION = 1

type Kind = 'text' | 'int' | 'bool'

export const COLUMNS: ReadonlyArray<readonly [keyof CdrRecord, string, Kind, boolean]> = [
  // field, column, kind, NOT NULL
  ['callId', 'call_id', 'text', true],
  ['setupId', 'setup_id', 'text', false],
  ['frontEnd', 'front_end', 'text', true],
  ['clientAddress', 'client_address', 'text', true],
  ['user', 'user', 'text', false],
  ['initiator', 'initiator', 'text', true],
  ['destination', 'destination', 'text', true],
  ['translatedInitiator', 'translated_initiator', 'text', true],
  ['translatedDestination', 'translated_destination', 'text', true],
  ['anchor', 'anchor', 'bool', true],
  ['mode', 'mode', 'text', false],
  ['initiatorSipCallId', 'initiator_sip_call_id', 'text', false],
  ['destinationSipCallId', 'destination_sip_call_id', 'text', false],
  ['initiatorCode', 'initiator_code', 'int', false],
  ['destinationCode', 'destination_code', 'int', false],
  ['createdAt', 'created_at', 'int', true],
  ['initiatorAnsweredAt', 'initiator_answered_at', 'int', false],
  ['destinationAnsweredAt', 'destination_answered_at', 'int', false],
  ['bridgedAt', 'bridged_at', 'int', false],
  ['endedAt', 'ended_at', 'int', true],
  ['initiatorRingMs', 'initiator_ring_ms', 'int', false],
  ['destinationRingMs', 'destination_ring_ms', 'int', false],
  ['setupMs', 'setup_ms', 'int', false],
  ['talkMs', 'talk_ms', 'int', false],
  ['outcome', 'outcome', 'text', true],
  ['code', 'code', 'int', false],
  ['reason', 'reason', 'text', false],
  ['endedBy', 'ended_by', 'text', true],
  ['holds', 'holds', 'int', true],
  ['transfers', 'transfers', 'int', true],
  ['resultCode', 'result_code', 'int', false],
  ['resultLeg', 'result_leg', 'text', false],
]

/**
 * A rowid table (rows are wide: WITHOUT ROWID would copy them into the key's
 * b-tree) with few indexes, since every index costs on each write: the call
 * id, the time (every query has a range), the setup id, and the addresses as
 * given (`initiator=1001`). Matching the translated addresses scans the
 * time range.
 */
export const DDL = `
CREATE TABLE IF NOT EXISTS calls (
  id INTEGER PRIMARY KEY,
${COLUMNS.map(([, col, kind, notNull]) => `  ${col} ${kind === 'text' ? 'TEXT' : 'INTEGER'}${notNull ? ' NOT NULL' : ''}${col === 'call_id' ? ' UNIQUE' : ''}`).join(',\n')}
);
CREATE INDEX IF NOT EXISTS calls_created ON calls (created_at, call_id);
CREATE INDEX IF NOT EXISTS calls_setup_id ON calls (setup_id) WHERE setup_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS calls_initiator ON calls (initiator, created_at);
CREATE INDEX IF NOT EXISTS calls_destination ON calls (destination, created_at);
`

export type Row = Record<string, string | number | null>

/** the values in COLUMNS order, for INSERT_SQL */
export function toRow(r: CdrRecord): Array<string | number | null> {
  return COLUMNS.map(([field, , kind]) => {
    const v = r[field]
    return kind === 'bool' ? (v ? 1 : 0) : (v as string | number | null)
  })
}

export function fromRow(row: Row): CdrRecord {
  const out: Record<string, unknown> = {}
  for (const [field, col, kind] of COLUMNS) {
    const v = row[col] ?? null
    out[field] = kind === 'bool' ? v === 1 : v
  }
  return out as unknown as CdrRecord
}

/** `INSERT OR REPLACE`: a call id is unique; a record written twice keeps the last. Positional (faster to bind than names). */
export const INSERT_SQL = `INSERT OR REPLACE INTO calls (${COLUMNS.map((c) => c[1]).join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`
