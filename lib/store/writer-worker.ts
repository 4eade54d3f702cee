/**
 * The CDR writer, on its own thread: it owns the database's write connection,
 * so that a transaction, a WAL checkpoint's fsync or a slow disk never holds
 * the server's event loop. Messages in: write (rows), purge (before), close.
 * Every message gets one answer with its id.
 */
import fs from 'node:fs'
import path from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { DDL, INSERT_SQL, SCHEMA_VERSION } from './schema'

/** `top -H`, `ps -L` and the benchmark's CPU split tell this thread by its name (Linux) */
try {
  fs.writeFileSync('/proc/thread-self/comm', 'ctc-cdr')
} catch {
  // not Linux: the name is cosmetic
}

export type WriterRequest =
  | { id: number; op: 'write'; rows: Array<Array<string | number | null>> }
  | { id: number; op: 'purge'; before: number; chunk: number }
  | { id: number; op: 'close' }

export type WriterReply =
  | { id: number; ok: true; written?: number; deleted?: number; opened?: boolean }
  | { id: number; ok: false; code: string; message: string; opened: boolean; refused?: number[] }

export interface WriterData {
  path: string
}

const port = parentPort!
const file = (workerData as WriterData).path
let db: Database.Database | undefined
let insert: Database.Statement | undefined
let writeMany: ((rows: Array<Array<string | number | null>>) => void) | undefined

function open(): void {
  if (db) return
  let d: Database.Database | undefined
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o750 })
    // busy timeout 0: a locked file fails at once (logged, retried), it does not make the writer wait
    d = new Database(file, { timeout: 0 })
    d.pragma('journal_mode = WAL')
    d.pragma('synchronous = NORMAL')
    d.exec(DDL)
    const version = d.pragma('user_version', { simple: true }) as number
    if (version === 0) d.pragma(`user_version = ${SCHEMA_VERSION}`)
    else if (version > SCHEMA_VERSION) throw Object.assign(new Error(`the database has schema version ${version}, newer than this server's ${SCHEMA_VERSION}`), { code: 'CDR_SCHEMA' })
    const ins = d.prepare(INSERT_SQL)
    writeMany = d.transaction((rows: Array<Array<string | number | null>>) => {
      for (const row of rows) ins.run(row)
    })
    insert = ins
    db = d
  } catch (err) {
    d?.close()
    throw err
  }
}

/** an error of the record itself (not of the file): retrying cannot help */
function isBadRecord(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return err instanceof TypeError || err instanceof RangeError || (typeof code === 'string' && (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH'))
}

function fail(id: number, err: unknown, extra: { refused?: number[] } = {}): WriterReply {
  const e = err as Error & { code?: unknown }
  return { id, ok: false, code: typeof e.code === 'string' ? e.code : 'ERROR', message: e.message ?? String(err), opened: db !== undefined, ...extra }
}

function handle(m: WriterRequest): WriterReply {
  if (m.op === 'close') {
    try {
      db?.close()
    } catch {
      // closing is best effort
    }
    db = undefined
    return { id: m.id, ok: true }
  }
  const wasOpen = db !== undefined
  try {
    open()
  } catch (err) {
    return fail(m.id, err)
  }
  if (m.op === 'purge') {
    try {
      const del = db!.prepare(`DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE created_at < ? LIMIT ${m.chunk})`)
      let total = 0
      for (;;) {
        const n = del.run(m.before).changes
        total += n
        if (n < m.chunk) break
      }
      return { id: m.id, ok: true, deleted: total, opened: !wasOpen }
    } catch (err) {
      return fail(m.id, err)
    }
  }
  try {
    writeMany!(m.rows)
    return { id: m.id, ok: true, written: m.rows.length, opened: !wasOpen }
  } catch (err) {
    if (!isBadRecord(err)) return fail(m.id, err)
    // a record the table refuses must not block the others: write them one by one
    const refused: number[] = []
    let last: unknown = err
    m.rows.forEach((row, i) => {
      try {
        insert!.run(row)
      } catch (e) {
        refused.push(i)
        last = e
      }
    })
    return refused.length > 0 ? fail(m.id, last, { refused }) : { id: m.id, ok: true, written: m.rows.length }
  }
}

port.on('message', (m: WriterRequest) => {
  port.postMessage(handle(m))
  if (m.op === 'close') port.close()
})
