/**
 * The CDR store on SQLite (better-sqlite3), in WAL mode.
 *
 * Writes are off the calls' path: add() only appends to a list; a timer
 * writes the list in one transaction every `flushIntervalMs`, or as soon as
 * `batchSize` records wait (on the next turn of the event loop, never inside
 * the caller). The busy timeout is 0, so a file locked by another process
 * fails at once instead of stalling the event loop; a failed write (locked,
 * disk full, read-only) is logged and counted and its records stay queued
 * for the next flush, up to `maxPending` (older ones beyond that are dropped
 * and counted). A database that cannot be opened is retried every 30 s.
 * Calls never wait on any of it.
 */
import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import type { Logger } from 'pino'
import type { CdrRecord } from './record'
import { DDL, INSERT_SQL, SCHEMA_VERSION, fromRow, toRow, type Row } from './schema'
import { buildQuery, encodeCursor, type CdrQuery } from './query'
import { CdrUnavailableError } from './errors'

export interface CdrPage {
  records: CdrRecord[]
  /** pass it as `cursor` for the next page; null on the last page */
  nextCursor: string | null
}

export interface CdrStats {
  path: string
  open: boolean
  written: number
  pending: number
  writeErrors: number
  dropped: number
  purged: number
  lastError: string | null
}

/** The port: what the recorder, the HTTP handler and the CLI use. */
export interface CdrStore {
  add(record: CdrRecord): void
  /** write what is pending (also done by the timer): 100 records per turn of the event loop, or all at once */
  flush(all?: boolean): void
  query(q: CdrQuery): CdrPage
  get(callId: string): CdrRecord | undefined
  /** delete records created before `before` (ms); returns how many */
  purge(before: number): number
  stats(): CdrStats
  /** write what is pending, then close the file */
  close(): void
}

export interface SqliteCdrOptions {
  path: string
  /** 0 keeps records forever */
  retentionDays: number
  logger: Logger
  flushIntervalMs?: number
  batchSize?: number
  maxPending?: number
  /** open an existing database for reading only (the CLI) */
  readonly?: boolean
  /** first purge this long after start, then daily */
  firstPurgeDelayMs?: number
}

const DAY_MS = 86_400_000
const REOPEN_EVERY_MS = 30_000
const PURGE_CHUNK = 5000
/** rows per transaction, and per turn of the event loop */
const MAX_ROWS_PER_TRANSACTION = 100

/** an error of the record itself (not of the file): retrying cannot help */
function isBadRecord(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return err instanceof TypeError || err instanceof RangeError || (typeof code === 'string' && (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH'))
}

export class SqliteCdrStore implements CdrStore {
  private db: Database.Database | undefined
  private insert: Database.Statement | undefined
  private writeMany: ((rows: Array<Array<string | number | null>>) => void) | undefined
  private readonly statements = new Map<string, Database.Statement>()
  private pending: CdrRecord[] = []
  private flushTimer: NodeJS.Timeout | undefined
  private purgeTimer: NodeJS.Timeout | undefined
  private soon: NodeJS.Immediate | undefined
  private lastOpenAttempt = 0
  private lastErrorLog = 0
  private closed = false
  private readonly counts = { written: 0, writeErrors: 0, dropped: 0, purged: 0 }
  private lastError: string | null = null
  private readonly log: Logger
  private readonly flushIntervalMs: number
  private readonly batchSize: number
  private readonly maxPending: number

  constructor(private readonly options: SqliteCdrOptions) {
    this.log = options.logger.child({ module: 'cdr' })
    this.flushIntervalMs = options.flushIntervalMs ?? 1000
    this.batchSize = options.batchSize ?? 100
    this.maxPending = options.maxPending ?? 20_000
    if (options.readonly) {
      this.openReadonly()
      return
    }
    this.tryOpen()
    this.flushTimer = setInterval(() => this.flush(), this.flushIntervalMs)
    this.flushTimer.unref()
    if (options.retentionDays > 0) {
      const run = (): void => {
        this.purge(Date.now() - options.retentionDays * DAY_MS)
        this.purgeTimer = setTimeout(run, DAY_MS)
        this.purgeTimer.unref()
      }
      this.purgeTimer = setTimeout(run, options.firstPurgeDelayMs ?? 60_000)
      this.purgeTimer.unref()
    }
  }

  private openReadonly(): void {
    try {
      this.db = new Database(this.options.path, { readonly: true, fileMustExist: true, timeout: 2000 })
      this.db.prepare('SELECT 1 FROM calls LIMIT 1').get()
    } catch (err) {
      this.db?.close()
      this.db = undefined
      throw new CdrUnavailableError(`cannot read the CDR database ${this.options.path}: ${(err as Error).message}`, err)
    }
  }

  private tryOpen(): void {
    this.lastOpenAttempt = Date.now()
    let db: Database.Database | undefined
    try {
      fs.mkdirSync(path.dirname(path.resolve(this.options.path)), { recursive: true, mode: 0o750 })
      db = new Database(this.options.path, { timeout: 0 })
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      db.exec(DDL)
      const version = db.pragma('user_version', { simple: true }) as number
      if (version === 0) db.pragma(`user_version = ${SCHEMA_VERSION}`)
      else if (version > SCHEMA_VERSION) throw new Error(`the database has schema version ${version}, newer than this server's ${SCHEMA_VERSION}`)
      const insert = db.prepare(INSERT_SQL)
      this.writeMany = db.transaction((rows: Array<Array<string | number | null>>) => {
        for (const row of rows) insert.run(row)
      })
      this.insert = insert
      this.db = db
      this.log.info({ path: this.options.path, retentionDays: this.options.retentionDays }, 'CDR database open')
    } catch (err) {
      db?.close()
      this.failed(err, 'CDR database cannot be opened: records wait in memory, retried every 30 s')
    }
  }

  private failed(err: unknown, msg: string): void {
    this.counts.writeErrors++
    const e = err as Error & { code?: string }
    this.lastError = `${e.code ?? 'ERROR'}: ${e.message}`
    const now = Date.now()
    if (now - this.lastErrorLog >= 10_000) {
      this.lastErrorLog = now
      this.log.error({ path: this.options.path, err: this.lastError, pending: this.pending.length, writeErrors: this.counts.writeErrors, dropped: this.counts.dropped }, msg)
    }
  }

  /** continue writing on the next turn of the event loop */
  private later(): void {
    if (this.soon) return
    this.soon = setImmediate(() => {
      this.soon = undefined
      this.flush()
    })
  }

  add(record: CdrRecord): void {
    if (this.closed) {
      this.counts.dropped++
      return
    }
    this.pending.push(record)
    if (this.pending.length > this.maxPending) {
      const excess = this.pending.length - this.maxPending
      this.pending.splice(0, excess)
      this.counts.dropped += excess
    }
    if (this.pending.length >= this.batchSize) this.later()
  }

  /**
   * Write what is pending: one transaction of at most MAX_ROWS_PER_TRANSACTION
   * records per turn of the event loop (the rest on the next turns), so that a
   * burst of ended calls never holds the loop for long; `all` writes
   * everything now (shutdown).
   */
  flush(all = false): void {
    if (this.pending.length === 0) return
    if (!this.db) {
      if (Date.now() - this.lastOpenAttempt < REOPEN_EVERY_MS) return
      this.tryOpen()
      if (!this.db) return
    }
    while (this.pending.length > 0) {
      const batch = this.pending.slice(0, MAX_ROWS_PER_TRANSACTION)
      try {
        this.writeMany!(batch.map(toRow))
      } catch (err) {
        if (!isBadRecord(err)) {
          this.failed(err, 'CDR write failed: records kept for the next attempt')
          return
        }
        // a record the table refuses must not block the others: write them one by one
        for (const r of batch) {
          try {
            this.insert!.run(toRow(r))
          } catch (e) {
            this.counts.dropped++
            this.counts.written--
            this.failed(e, 'CDR record refused by the database: dropped')
          }
        }
      }
      this.pending.splice(0, batch.length)
      this.counts.written += batch.length
      if (!all && this.pending.length > 0) {
        this.later()
        return
      }
      if (this.lastError !== null) {
        this.log.info({ path: this.options.path }, 'CDR writes succeed again')
        this.lastError = null
      }
    }
  }

  private statement(sql: string): Database.Statement {
    let st = this.statements.get(sql)
    if (!st) {
      if (!this.db) throw new CdrUnavailableError(`the CDR database ${this.options.path} is not open`)
      st = this.db.prepare(sql)
      if (this.statements.size > 64) this.statements.clear()
      this.statements.set(sql, st)
    }
    return st
  }

  query(q: CdrQuery): CdrPage {
    const { sql, params } = buildQuery(q)
    let rows: Row[]
    try {
      rows = this.statement(sql).all(params) as Row[]
    } catch (err) {
      if (err instanceof CdrUnavailableError) throw err
      throw new CdrUnavailableError(`CDR query failed: ${(err as Error).message}`, err)
    }
    const more = rows.length > q.limit
    const records = rows.slice(0, q.limit).map(fromRow)
    const last = records.at(-1)
    return { records, nextCursor: more && last ? encodeCursor(last.createdAt, last.callId) : null }
  }

  get(callId: string): CdrRecord | undefined {
    const waiting = this.pending.find((r) => r.callId === callId)
    if (waiting) return waiting
    try {
      const row = this.statement('SELECT * FROM calls WHERE call_id = ?').get(callId) as Row | undefined
      return row ? fromRow(row) : undefined
    } catch (err) {
      if (err instanceof CdrUnavailableError) throw err
      throw new CdrUnavailableError(`CDR lookup failed: ${(err as Error).message}`, err)
    }
  }

  purge(before: number): number {
    if (!this.db || this.options.readonly) return 0
    let total = 0
    try {
      const del = this.statement(`DELETE FROM calls WHERE call_id IN (SELECT call_id FROM calls WHERE created_at < ? LIMIT ${PURGE_CHUNK})`)
      for (;;) {
        const n = del.run(before).changes
        total += n
        if (n < PURGE_CHUNK) break
      }
    } catch (err) {
      this.failed(err, 'CDR purge failed: retried tomorrow')
    }
    this.counts.purged += total
    if (total > 0) this.log.info({ deleted: total, before: new Date(before).toISOString() }, 'CDR retention: old records deleted')
    return total
  }

  stats(): CdrStats {
    return { path: this.options.path, open: this.db !== undefined, pending: this.pending.length, lastError: this.lastError, ...this.counts }
  }

  close(): void {
    if (this.closed) return
    if (this.flushTimer) clearInterval(this.flushTimer)
    if (this.purgeTimer) clearTimeout(this.purgeTimer)
    if (this.soon) clearImmediate(this.soon)
    if (!this.options.readonly) {
      this.lastOpenAttempt = 0
      this.flush(true)
    }
    this.closed = true
    if (this.pending.length > 0) {
      this.counts.dropped += this.pending.length
      this.log.error({ path: this.options.path, dropped: this.pending.length, err: this.lastError }, 'shutdown: CDR records could not be written')
      this.pending = []
    }
    this.statements.clear()
    try {
      this.db?.close()
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'CDR database close failed')
    }
    this.db = undefined
    this.insert = undefined
  }
}
