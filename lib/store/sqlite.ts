/**
 * The CDR store on SQLite (better-sqlite3), in WAL mode.
 *
 * Writes are off the calls' path twice over: add() only appends to a list,
 * and the list is written by a worker thread (writer-worker.ts) that owns
 * the write connection, so a transaction, a checkpoint's fsync or a slow
 * disk never holds the event loop. A batch goes to the writer every
 * `flushIntervalMs`, or as soon as `batchSize` records wait; one batch is in
 * flight at a time. The writer's busy timeout is 0: a file locked by another
 * process fails at once. A failed write (locked, disk full, read-only, no
 * such directory) is logged and counted, and its records stay queued for the
 * next tick, up to `maxPending` (older ones beyond that are dropped and
 * counted). Calls never wait on any of it.
 *
 * Reads (query, get) use a read-only connection on the calling thread: WAL
 * readers do not wait for the writer; they are indexed and bounded.
 */
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import Database from 'better-sqlite3'
import type { Logger } from 'pino'
import type { CdrRecord } from './record'
import { fromRow, toRow, type Row } from './schema'
import { buildQuery, encodeCursor, type CdrQuery } from './query'
import { CdrUnavailableError } from './errors'
import { workerEntry } from '../worker-file'
import type { WriterData, WriterReply, WriterRequest } from './writer-worker'

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
  /** resolves once the database has been opened (true) or could not be (false) */
  ready(): Promise<boolean>
  add(record: CdrRecord): void
  /** write what is pending now (also done by the timer); resolves once written, or on a failure */
  flush(): Promise<void>
  query(q: CdrQuery): CdrPage
  get(callId: string): CdrRecord | undefined
  /** delete records created before `before` (ms); resolves with how many */
  purge(before: number): Promise<number>
  stats(): CdrStats
  /** write what is pending (bounded by timeoutMs), then close the file */
  close(timeoutMs?: number): Promise<void>
}

export interface SqliteCdrOptions {
  path: string
  /** 0 keeps records forever */
  retentionDays: number
  logger: Logger
  flushIntervalMs?: number
  batchSize?: number
  maxPending?: number
  /** open an existing database for reading only (the CLI): no writer thread */
  readonly?: boolean
  /** first purge this long after start, then daily */
  firstPurgeDelayMs?: number
}

const DAY_MS = 86_400_000
const PURGE_CHUNK = 5000
/** rows per transaction of the writer */
const MAX_ROWS_PER_TRANSACTION = 500

export class SqliteCdrStore implements CdrStore {
  private reader: Database.Database | undefined
  private readonly statements = new Map<string, Database.Statement>()
  private worker: Worker | undefined
  private readonly requests = new Map<number, (reply: WriterReply) => void>()
  private nextId = 0
  private writerOpen = false
  private pending: CdrRecord[] = []
  /** how many of pending's first records the writer is writing now */
  private inFlight = 0
  private retryAt = 0
  private flushWaiters: Array<() => void> = []
  private flushTimer: NodeJS.Timeout | undefined
  private purgeTimer: NodeJS.Timeout | undefined
  private lastErrorLog = 0
  private closed = false
  private readonly counts = { written: 0, writeErrors: 0, dropped: 0, purged: 0 }
  private lastError: string | null = null
  private readonly log: Logger
  private readonly flushIntervalMs: number
  private readonly batchSize: number
  private readonly maxPending: number
  private readonly started: Promise<boolean>

  constructor(private readonly options: SqliteCdrOptions) {
    this.log = options.logger.child({ module: 'cdr' })
    this.flushIntervalMs = options.flushIntervalMs ?? 1000
    this.batchSize = options.batchSize ?? 100
    this.maxPending = options.maxPending ?? 20_000
    if (options.readonly) {
      this.openReader(true)
      this.started = Promise.resolve(true)
      return
    }
    this.startWorker()
    // an empty write opens the file now, so that a bad path shows at start
    this.started = this.request({ id: 0, op: 'write', rows: [] }).then((r) => this.settle(r, 0))
    this.flushTimer = setInterval(() => this.kick(), this.flushIntervalMs)
    this.flushTimer.unref()
    if (options.retentionDays > 0) {
      const run = (): void => {
        void this.purge(Date.now() - options.retentionDays * DAY_MS)
        this.purgeTimer = setTimeout(run, DAY_MS)
        this.purgeTimer.unref()
      }
      this.purgeTimer = setTimeout(run, options.firstPurgeDelayMs ?? 60_000)
      this.purgeTimer.unref()
    }
  }

  /** resolves once the writer has tried to open the file: true if it is open */
  ready(): Promise<boolean> {
    return this.started
  }

  private startWorker(): void {
    const data: WriterData = { path: this.options.path }
    // from the sources, the compiled writer when current: with the TypeScript loader it takes ~5 s to start instead of 0.2 s
    const { file, execArgv } = workerEntry(__dirname, 'writer-worker', path.extname(__filename))
    const worker = new Worker(file, { workerData: data, ...(execArgv ? { execArgv } : {}) })
    worker.unref()
    worker.on('message', (reply: WriterReply) => {
      const resolve = this.requests.get(reply.id)
      this.requests.delete(reply.id)
      resolve?.(reply)
    })
    const gone = (err: unknown): void => {
      if (this.worker !== worker) return
      this.worker = undefined
      this.writerOpen = false
      for (const [id, resolve] of this.requests) resolve({ id, ok: false, code: 'WORKER', message: `the CDR writer stopped: ${(err as Error)?.message ?? err}`, opened: false })
      this.requests.clear()
      if (!this.closed) this.log.error({ err: (err as Error)?.message ?? String(err) }, 'CDR writer thread stopped: restarted at the next flush')
    }
    worker.on('error', gone)
    worker.on('exit', (code) => gone(new Error(`exit ${code}`)))
    this.worker = worker
  }

  private request(m: WriterRequest): Promise<WriterReply> {
    if (!this.worker && !this.closed) this.startWorker()
    const worker = this.worker
    if (!worker) return Promise.resolve({ id: m.id, ok: false, code: 'WORKER', message: 'the CDR writer is not running', opened: false })
    const id = ++this.nextId
    return new Promise((resolve) => {
      this.requests.set(id, resolve)
      worker.postMessage({ ...m, id })
    })
  }

  private openReader(mustWork: boolean): Database.Database | undefined {
    if (this.reader) return this.reader
    try {
      this.reader = new Database(this.options.path, { readonly: true, fileMustExist: true, timeout: 2000 })
      this.reader.prepare('SELECT 1 FROM calls LIMIT 1').get()
    } catch (err) {
      this.reader?.close()
      this.reader = undefined
      if (mustWork) throw new CdrUnavailableError(`cannot read the CDR database ${this.options.path}: ${(err as Error).message}`, err)
    }
    return this.reader
  }

  /** a writer's answer: counts, logs; true if the write went in */
  private settle(reply: WriterReply, rows: number): boolean {
    if (reply.ok && reply.opened) {
      this.writerOpen = true
      this.log.info({ path: this.options.path, retentionDays: this.options.retentionDays }, 'CDR database open')
    }
    if (reply.ok) {
      this.counts.written += rows
      if (this.lastError !== null) {
        this.log.info({ path: this.options.path }, 'CDR writes succeed again')
        this.lastError = null
      }
      return true
    }
    this.writerOpen = reply.opened
    this.counts.writeErrors++
    this.lastError = `${reply.code}: ${reply.message}`
    if (reply.refused) {
      this.counts.written += rows - reply.refused.length
      this.counts.dropped += reply.refused.length
      this.log.error({ path: this.options.path, err: this.lastError, refused: reply.refused.length }, 'CDR records refused by the database: dropped')
      return true
    }
    const now = Date.now()
    if (now - this.lastErrorLog >= 10_000) {
      this.lastErrorLog = now
      const msg = reply.opened ? 'CDR write failed: records kept for the next attempt' : 'CDR database cannot be opened: records wait in memory, retried every flush'
      this.log.error({ path: this.options.path, err: this.lastError, pending: this.pending.length, writeErrors: this.counts.writeErrors, dropped: this.counts.dropped }, msg)
    }
    return false
  }

  add(record: CdrRecord): void {
    if (this.closed) {
      this.counts.dropped++
      return
    }
    this.pending.push(record)
    if (this.pending.length > this.maxPending) {
      // the oldest that are not being written go
      const excess = this.pending.length - this.maxPending
      this.pending.splice(this.inFlight, excess)
      this.counts.dropped += excess
    }
    if (this.pending.length >= this.batchSize) this.kick()
  }

  /** send the next batch to the writer, unless one is in flight or a failure is being waited out */
  private kick(): void {
    if (this.inFlight > 0 || this.options.readonly) return
    if (this.pending.length === 0 || Date.now() < this.retryAt) {
      this.wake()
      return
    }
    const batch = this.pending.slice(0, MAX_ROWS_PER_TRANSACTION)
    this.inFlight = batch.length
    void this.request({ id: 0, op: 'write', rows: batch.map(toRow) }).then((reply) => {
      this.inFlight = 0
      if (this.settle(reply, batch.length)) {
        this.pending.splice(0, batch.length)
        this.retryAt = 0
        this.kick()
      } else {
        this.retryAt = Date.now() + this.flushIntervalMs - 5
        this.wake()
      }
    })
  }

  private wake(): void {
    const waiters = this.flushWaiters
    this.flushWaiters = []
    for (const w of waiters) w()
  }

  flush(): Promise<void> {
    if (this.options.readonly) return Promise.resolve()
    return new Promise<void>((resolve) => {
      this.flushWaiters.push(resolve)
      if (this.inFlight === 0) {
        this.retryAt = 0
        this.kick()
      }
    })
  }

  private statement(sql: string): Database.Statement {
    let st = this.statements.get(sql)
    if (!st) {
      const db = this.openReader(false)
      if (!db) throw new CdrUnavailableError(`the CDR database ${this.options.path} cannot be read${this.lastError ? ` (${this.lastError})` : ''}`)
      st = db.prepare(sql)
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

  async purge(before: number): Promise<number> {
    if (this.options.readonly || this.closed) return 0
    const reply = await this.request({ id: 0, op: 'purge', before, chunk: PURGE_CHUNK })
    if (!reply.ok) {
      this.settle(reply, 0)
      return 0
    }
    const n = reply.deleted ?? 0
    this.counts.purged += n
    if (n > 0) this.log.info({ deleted: n, before: new Date(before).toISOString() }, 'CDR retention: old records deleted')
    return n
  }

  stats(): CdrStats {
    return { path: this.options.path, open: this.options.readonly ? this.reader !== undefined : this.writerOpen, pending: this.pending.length, lastError: this.lastError, ...this.counts }
  }

  async close(timeoutMs = 3000): Promise<void> {
    if (this.closed) return
    if (this.flushTimer) clearInterval(this.flushTimer)
    if (this.purgeTimer) clearTimeout(this.purgeTimer)
    if (!this.options.readonly) {
      const deadline = Date.now() + timeoutMs
      // write what waits, batch after batch, until done, a failure, or the deadline
      while (this.pending.length > 0 && Date.now() < deadline) {
        const before = this.pending.length
        const timer = new Promise<void>((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())
        await Promise.race([this.flush(), timer])
        if (this.pending.length >= before) break
      }
      this.closed = true
      const worker = this.worker
      if (worker) {
        await Promise.race([this.request({ id: 0, op: 'close' }), new Promise<void>((r) => setTimeout(r, 1000).unref())])
        this.worker = undefined
        await worker.terminate()
      }
      if (this.pending.length > 0) {
        this.counts.dropped += this.pending.length
        this.log.error({ path: this.options.path, dropped: this.pending.length, err: this.lastError }, 'shutdown: CDR records could not be written')
        this.pending = []
      }
    }
    this.closed = true
    this.wake()
    this.statements.clear()
    try {
      this.reader?.close()
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'CDR database close failed')
    }
    this.reader = undefined
  }
}
