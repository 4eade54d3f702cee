/**
 * The CDR store on a real SQLite file: records made from call events, batched
 * writes, WAL, queries (filters, cursor paging, CSV), a locked file and an
 * unopenable path (logged, counted, calls unaffected), retention, the HTTP
 * handlers. End-to-end rows of real calls: test/events-e2e.ts.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import pino from 'pino'
import { SqliteCdrStore, recordCalls, cdrList, cdrCall, CSV_HEADER, type CdrRecord, type CdrListBody } from '../lib/store'
import { ScriptedCalls } from './helpers/scripted-calls'

const logger = pino({ level: process.env.CTC_TEST_LOG ?? 'silent' })
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctc-cdr-'))
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
let n = 0
const dbPath = (): string => path.join(dir, `sub${++n}`, 'cdr.sqlite')

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const T0 = Date.parse('2026-11-29T10:00:00.000Z')

/** four calls with the outcomes an operator looks for */
function placeCalls(calls: ScriptedCalls): Record<string, string> {
  const ok = calls.completed({ initiator: '1001', destination: '2002', at: T0, talkMs: 42_000, id: 'c-success' })
  const busy = calls.start({ initiator: '1001', destination: '2003', at: T0 + 60_000, id: 'c-busy' })
  busy.ringing('initiator', T0 + 60_100).failed('initiator', 486, T0 + 62_000).end('busy', 'initiator', 486, T0 + 62_000)
  const na = calls.start({ initiator: '1004', destination: '2002', at: T0 + 120_000, id: 'c-noanswer' })
  na.ringing('initiator', T0 + 120_100).answered('initiator', T0 + 121_000).ringing('destination', T0 + 121_100)
  na.failed('destination', 408, T0 + 181_000).end('no-answer', 'timeout', 408, T0 + 181_000)
  const api = calls.start({ initiator: '1001', destination: '2005', at: T0 + 180_000, id: 'c-api', setupId: 'crm-7' })
  api.ringing('initiator', T0 + 180_100).end('cancelled', 'api', 487, T0 + 185_000)
  return { ok: ok.id, busy: busy.id, na: na.id, api: api.id }
}

t.test('a record per ended call, with times, durations, outcome, legs; written in a batch; WAL', async (t) => {
  const file = dbPath()
  const store = new SqliteCdrStore({ path: file, retentionDays: 0, logger, flushIntervalMs: 60_000 })
  t.teardown(() => store.close())
  const calls = new ScriptedCalls()
  const rec = recordCalls(calls, store, logger)
  const ids = placeCalls(calls)
  t.equal(store.stats().pending, 4, 'queued, not written, while the calls end')
  t.equal(store.stats().written, 0)
  t.equal(store.get(ids.ok)?.outcome, 'completed', 'a pending record is already readable')
  await store.flush()
  t.match(store.stats(), { written: 4, pending: 0, writeErrors: 0, open: true })
  t.same(rec.stats(), { recorded: 4, tracesDropped: 0, errors: 0 })

  const ok = store.get(ids.ok)!
  t.match(ok, {
    callId: 'c-success',
    initiator: '1001',
    destination: '2002',
    translatedInitiator: 'sip:1001@127.0.0.1:5080',
    translatedDestination: 'sip:2002@127.0.0.1:5081',
    frontEnd: 'rest',
    clientAddress: '127.0.0.1',
    user: 'admin',
    anchor: true,
    mode: 'anchored',
    initiatorSipCallId: 'initiator-c-success@127.0.0.1',
    destinationSipCallId: 'destination-c-success@127.0.0.1',
    initiatorCode: 200,
    destinationCode: 200,
    createdAt: T0,
    initiatorAnsweredAt: T0 + 1000,
    destinationAnsweredAt: T0 + 3000,
    bridgedAt: T0 + 3100,
    endedAt: T0 + 3100 + 42_000,
    initiatorRingMs: 1000,
    destinationRingMs: 2000,
    setupMs: 3100,
    talkMs: 42_000,
    outcome: 'completed',
    code: 200,
    endedBy: 'initiator',
    holds: 0,
    transfers: 0,
  })
  t.match(store.get(ids.busy), { outcome: 'busy', code: 486, initiatorCode: 486, destinationCode: null, endedBy: 'initiator', initiatorRingMs: 2000, destinationRingMs: null, setupMs: null, talkMs: null, resultCode: 486, resultLeg: 'Initiator' })
  t.match(store.get(ids.na), { outcome: 'no-answer', code: 408, destinationCode: 408, endedBy: 'timeout', initiatorRingMs: 1000, destinationRingMs: 60_000, talkMs: null, resultLeg: 'Destination' })
  t.match(store.get(ids.api), { outcome: 'cancelled', code: 487, endedBy: 'api', setupId: 'crm-7', initiatorAnsweredAt: null, initiatorRingMs: 5000 })

  const raw = new Database(file, { readonly: true })
  t.teardown(() => raw.close())
  t.equal(raw.pragma('journal_mode', { simple: true }), 'wal')
  t.equal((raw.prepare('SELECT count(*) AS n FROM calls').get() as { n: number }).n, 4)
  t.same(raw.prepare('SELECT outcome, created_at FROM calls ORDER BY created_at').all(), [
    { outcome: 'completed', created_at: T0 },
    { outcome: 'busy', created_at: T0 + 60_000 },
    { outcome: 'no-answer', created_at: T0 + 120_000 },
    { outcome: 'cancelled', created_at: T0 + 180_000 },
  ])
})

t.test('batches: N records go at once, fewer wait for the timer; the writer thread keeps the event loop free; close() writes what waits', async (t) => {
  const file = dbPath()
  const store = new SqliteCdrStore({ path: file, retentionDays: 0, logger, flushIntervalMs: 60_000, batchSize: 50 })
  t.equal(await store.ready(), true)
  const calls = new ScriptedCalls()
  recordCalls(calls, store, logger)
  for (let i = 0; i < 49; i++) calls.completed({ initiator: `1${i}`, destination: `2${i}` })
  await new Promise((r) => setTimeout(r, 300))
  t.equal(store.stats().written, 0, 'fewer than a batch: they wait for the timer')
  calls.completed({ initiator: '1', destination: '2' })
  await until('a full batch written', () => store.stats().written === 50)
  t.pass('a full batch goes at once')
  const timed = new SqliteCdrStore({ path: dbPath(), retentionDays: 0, logger, flushIntervalMs: 100 })
  t.teardown(() => timed.close())
  await timed.ready()
  const other = new ScriptedCalls()
  recordCalls(other, timed, logger)
  other.completed({ initiator: '1', destination: '2' })
  await until('the timer wrote it', () => timed.stats().written === 1)
  t.pass('the timer writes what waits')

  // 5,000 records: the event loop's longest stall while they are written
  const sample = store.get(calls.calls.get('call0001')!.id)!
  for (let i = 0; i < 5000; i++) store.add({ ...sample, callId: `bulk-${i}` })
  let maxLag = 0
  let last = Date.now()
  const tick = setInterval(() => {
    const now = Date.now()
    maxLag = Math.max(maxLag, now - last)
    last = now
  }, 1)
  const t0 = Date.now()
  await store.flush()
  clearInterval(tick)
  t.comment(`5,000 records written by the writer thread in ${Date.now() - t0} ms; longest event-loop stall meanwhile ${maxLag} ms`)
  t.equal(store.stats().written, 5050)
  t.ok(maxLag < 100, `the event loop kept turning (${maxLag} ms)`)
  calls.completed({ initiator: '1', destination: '2', id: 'last-one' })
  await store.close()
  const raw = new Database(file, { readonly: true })
  t.equal((raw.prepare('SELECT count(*) AS n FROM calls').get() as { n: number }).n, 5051, 'close() wrote the last one')
  raw.close()
})

t.test('a locked database: the write fails at once, is logged and counted, the records wait and go in later', async (t) => {
  const file = dbPath()
  const lines: string[] = []
  const log = pino({ level: 'error' }, { write: (l: string) => lines.push(l) })
  const store = new SqliteCdrStore({ path: file, retentionDays: 0, logger: log, flushIntervalMs: 60_000 })
  t.teardown(() => store.close())
  t.equal(await store.ready(), true)
  const other = new Database(file)
  other.exec('BEGIN EXCLUSIVE')
  const calls = new ScriptedCalls()
  recordCalls(calls, store, log)
  calls.completed({ initiator: '1', destination: '2' })
  const t0 = Date.now()
  await store.flush()
  t.ok(Date.now() - t0 < 1000, `the busy file answered at once (${Date.now() - t0} ms)`)
  t.match(store.stats(), { written: 0, pending: 1, writeErrors: 1 })
  t.match(store.stats().lastError, /SQLITE_BUSY/)
  t.match(lines.join(''), /CDR write failed/)
  other.exec('COMMIT')
  other.close()
  await store.flush()
  t.match(store.stats(), { written: 1, pending: 0, lastError: null })
})

t.test('a database that cannot be opened: logged, counted, records wait (bounded), calls go on', async (t) => {
  const blocker = path.join(dir, 'a-file')
  fs.writeFileSync(blocker, 'x')
  const lines: string[] = []
  const log = pino({ level: 'error' }, { write: (l: string) => lines.push(l) })
  const store = new SqliteCdrStore({ path: path.join(blocker, 'cdr.sqlite'), retentionDays: 0, logger: log, flushIntervalMs: 60_000, maxPending: 3 })
  t.teardown(() => store.close())
  t.equal(await store.ready(), false)
  const calls = new ScriptedCalls()
  recordCalls(calls, store, log)
  for (let i = 0; i < 5; i++) calls.completed({ initiator: '1', destination: '2' })
  await store.flush()
  t.match(store.stats(), { open: false, written: 0, pending: 3, dropped: 2 })
  t.ok(store.stats().writeErrors >= 1)
  t.match(lines.join(''), /CDR database cannot be opened/)
  t.throws(() => store.query({ limit: 10, order: 'desc' }), { code: 'CTC_ERR_CDR_UNAVAILABLE' })
  t.match(JSON.parse(cdrList(store, new URLSearchParams(), undefined).body), { status: 503 })
})

t.test('a call the call layer no longer has: its record comes from its events', async (t) => {
  const store = new SqliteCdrStore({ path: dbPath(), retentionDays: 0, logger, flushIntervalMs: 60_000 })
  t.teardown(() => store.close())
  const calls = new ScriptedCalls()
  recordCalls(calls, store, logger)
  const c = calls.start({ initiator: '1001', destination: '2002', anchor: false, at: T0, id: 'gone' })
  calls.forgotten.add('gone')
  c.ringing('initiator', T0 + 10).answered('initiator', T0 + 500)
  c.emit({ type: 'referring', target: 'sip:2002@127.0.0.1:5081' }, T0 + 510)
  c.held('initiator', T0 + 520)
  c.end('failed', 'server', 503, T0 + 600)
  t.match(store.get('gone'), { initiator: '1001', translatedDestination: 'sip:2002@127.0.0.1:5081', mode: 'refer', anchor: false, holds: 1, outcome: 'failed', code: 503, endedBy: 'server', initiatorRingMs: 500, frontEnd: 'rest' })
})

t.test('queries: filters, wildcards, time range, cursor paging both ways; JSON and CSV over the HTTP handler', async (t) => {
  const store = new SqliteCdrStore({ path: dbPath(), retentionDays: 0, logger, flushIntervalMs: 60_000 })
  t.teardown(() => store.close())
  const calls = new ScriptedCalls()
  recordCalls(calls, store, logger)
  placeCalls(calls)
  for (let i = 0; i < 25; i++) calls.completed({ initiator: '3000', destination: `40${String(i).padStart(2, '0')}`, at: T0 + 3_600_000 + i * 1000, id: `bulk${String(i).padStart(2, '0')}` })
  await store.flush()
  const list = (q: string, accept?: string) => cdrList(store, new URLSearchParams(q), accept)
  const ids = (q: string): string[] => (JSON.parse(list(q).body) as CdrListBody).records.map((r) => r.callId)

  t.same(ids('outcome=busy'), ['c-busy'])
  t.same(ids('outcome=busy,no-answer&order=asc'), ['c-busy', 'c-noanswer'])
  t.same(ids('initiator=1001&order=asc'), ['c-success', 'c-busy', 'c-api'])
  t.same(ids('initiator=sip:1004@127.0.0.1:5080'), ['c-noanswer'], 'the translated address matches too')
  t.same(ids('destination=200*&order=asc'), ['c-success', 'c-busy', 'c-noanswer', 'c-api'], 'wildcard')
  t.same(ids('destination=20_2'), [], '_ is literal, not a LIKE wildcard')
  t.same(ids('setupId=crm-7'), ['c-api'])
  t.same(ids(`from=${new Date(T0 + 60_000).toISOString()}&to=${T0 + 180_000}&order=asc`), ['c-busy', 'c-noanswer'], 'from inclusive, to exclusive')
  t.same(ids('from=2026-11-29&to=2026-11-29T10:02:00Z&order=asc'), ['c-success', 'c-busy'])

  // paging: 29 calls by 10, newest first, no duplicates or gaps
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res = list(`limit=10${cursor ? `&cursor=${cursor}` : ''}`)
    const body = JSON.parse(res.body) as CdrListBody
    seen.push(...body.records.map((r) => r.callId))
    t.equal(res.headers['X-Next-Cursor'], body.nextCursor ?? undefined)
    cursor = body.nextCursor
    pages++
  } while (cursor && pages < 10)
  t.equal(pages, 3)
  t.equal(seen.length, 29)
  t.equal(new Set(seen).size, 29)
  t.equal(seen[0], 'bulk24', 'newest first by default')
  t.equal(seen.at(-1), 'c-success')

  const ok = JSON.parse(list('outcome=completed&initiator=1001').body) as CdrListBody
  t.equal(ok.records[0]!.createdAt, '2026-11-29T10:00:00.000Z', 'JSON times in ISO 8601')
  t.equal(ok.records[0]!.talkMs, 42_000)

  const csv = list('initiator=1001&order=asc', 'text/csv')
  t.equal(csv.status, 200)
  t.match(csv.type, /^text\/csv/)
  const lines = csv.body.split('\r\n')
  t.equal(lines[0], CSV_HEADER)
  t.equal(lines.length, 5, 'header, three rows, and the last CRLF')
  t.match(lines[1], /^c-success,,rest,127\.0\.0\.1,admin,1001,2002,/)
  t.match(lines[1], /,2026-11-29T10:00:00\.000Z,/)
  t.match(lines[2], /,busy,486,/)
  t.equal(list('', 'application/json, text/csv').type, 'application/json', 'JSON when listed first')

  for (const [q, re] of [
    ['from=yesterday', /from: "yesterday" is not a time/],
    ['outcome=lost', /outcome: "lost"/],
    ['limit=0', /limit: must be 1-1000/],
    ['limit=5000', /limit/],
    ['cursor=!!', /not a cursor/],
    ['sort=x', /unknown parameter "sort"/],
  ] as const) {
    const res = list(q)
    t.equal(res.status, 400, q)
    t.equal(res.type, 'application/problem+json')
    t.match(JSON.parse(res.body), { status: 400, type: 'urn:clicktocall:problem:cdr-bad-query', detail: re })
  }
  t.equal(cdrList(undefined, new URLSearchParams(), undefined).status, 503, 'CDR off')

  const one = cdrCall(store, 'c-busy')
  t.equal(one.status, 200)
  t.match(JSON.parse(one.body), { record: { callId: 'c-busy', outcome: 'busy', endedAt: '2026-11-29T10:01:02.000Z' } })
  t.equal(cdrCall(store, 'nope').status, 404)
  t.equal(cdrCall(undefined, 'c-busy').status, 404)
})

t.test('retention: records older than CdrRetentionDays are purged, at start and daily', async (t) => {
  const file = dbPath()
  const seed = new SqliteCdrStore({ path: file, retentionDays: 0, logger, flushIntervalMs: 60_000 })
  const calls = new ScriptedCalls()
  recordCalls(calls, seed, logger)
  const now = Date.now()
  calls.completed({ initiator: '1', destination: '2', at: now - 100 * 86_400_000, id: 'old' })
  calls.completed({ initiator: '1', destination: '2', at: now - 89 * 86_400_000, id: 'recent' })
  calls.completed({ initiator: '1', destination: '2', at: now - 60_000, id: 'today' })
  await seed.close()
  const store = new SqliteCdrStore({ path: file, retentionDays: 90, logger, flushIntervalMs: 60_000, firstPurgeDelayMs: 20 })
  t.teardown(() => store.close())
  const end = Date.now() + 3000
  while (store.stats().purged === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
  t.equal(store.stats().purged, 1)
  t.equal(store.get('old'), undefined)
  t.ok(store.get('recent'))
  t.ok(store.get('today'))
  t.equal(await store.purge(now), 2, 'purge() deletes everything created before its argument')
})

t.test('a record the table refuses does not block the others', async (t) => {
  const store = new SqliteCdrStore({ path: dbPath(), retentionDays: 0, logger, flushIntervalMs: 60_000 })
  t.teardown(() => store.close())
  const calls = new ScriptedCalls()
  recordCalls(calls, store, logger)
  calls.completed({ initiator: '1', destination: '2', id: 'good1' })
  const bad = { ...store.get('good1')!, callId: 'bad', outcome: null } as unknown as CdrRecord
  store.add(bad)
  calls.completed({ initiator: '1', destination: '2', id: 'good2' })
  await store.flush()
  t.match(store.stats(), { written: 2, dropped: 1, pending: 0 })
  t.ok(store.get('good2'))
})
