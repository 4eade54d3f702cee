/**
 * Call detail records over HTTP with curl: GET /v1/cdr as JSON and as CSV,
 * and GET /v1/calls/{id} answering from the record once ResultCacheTime has
 * passed. Calls between simulated phones on the real SIP stack.
 */
import t from 'tap'
import os from 'node:os'
import path from 'node:path'
import { mkdtempSync } from 'node:fs'
import pino from 'pino'
import { startTestServer } from './helpers/server'
import { restClient, until } from './helpers/rest'
import { createPhone } from '../lib/phone'

const PW = 'cdr pw'
const logger = pino({ level: 'silent' })

t.test('records of a busy call and an answered one, by JSON, CSV and the call URL', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-rest-cdr-'))
  const s = await startTestServer(
    { httpPort: 5095, httpAuth: true, httpAuthPwd: PW, resultCacheTime: 1, cdrDatabase: path.join(dir, 'cdr.sqlite') },
    { events: { cdrFlushIntervalMs: 50 } },
  )
  t.teardown(() => s.close())
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', logger, answerAfterMs: 20 })
  const bob = await createPhone({ name: 'bob', behaviour: 'answer', logger, answerAfterMs: 20 })
  const busy = await createPhone({ name: 'busy', behaviour: 'busy', logger })
  t.teardown(() => Promise.all([alice.close(), bob.close(), busy.close()]))
  const api = restClient(s.httpPort, `admin:${PW}`)

  const placed = await api.request('POST', '/v1/calls', { initiator: alice.uri, destination: bob.uri, anchor: true })
  t.equal(placed.status, 201, placed.body)
  const id = api.json<{ id: string }>(placed).id
  await until('bridged', async () => api.json<{ state: string }>(await api.request('GET', `/v1/calls/${id}`)), (c) => c.state === 'bridged')
  t.equal((await api.request('DELETE', `/v1/calls/${id}`)).status, 200)
  const failed = api.json<{ id: string }>(await api.request('POST', '/v1/calls', { initiator: alice.uri, destination: busy.uri, anchor: true })).id

  type Page = { records: Array<{ callId: string; outcome: string; endedBy: string }>; nextCursor: string | null }
  const page = await until('both recorded', async () => api.json<Page>(await api.request('GET', '/v1/cdr')), (p) => p.records.length >= 2, 15_000)
  const byId = new Map(page.records.map((r) => [r.callId, r]))
  t.match(byId.get(id), { outcome: 'completed', endedBy: 'api' }, 'the answered call, ended through the API')
  t.match(byId.get(failed), { outcome: 'busy', endedBy: 'destination' }, 'the busy one')
  const busyOnly = api.json<Page>(await api.request('GET', '/v1/cdr?outcome=busy'))
  t.same(busyOnly.records.map((r) => r.callId), [failed], 'the outcome filter')
  const one = api.json<Page>(await api.request('GET', '/v1/cdr?limit=1'))
  t.equal(one.records.length, 1)
  t.ok(one.nextCursor, 'a cursor to the next page')
  const next = api.json<Page>(await api.request('GET', `/v1/cdr?limit=1&cursor=${encodeURIComponent(one.nextCursor!)}`))
  t.not(next.records[0]!.callId, one.records[0]!.callId, 'the next page holds the other call')

  const csv = await api.request('GET', '/v1/cdr', undefined, ['-H', 'Accept: text/csv'])
  t.equal(csv.status, 200)
  t.match(csv.contentType, /^text\/csv/)
  const lines = csv.body.trim().split(/\r?\n/)
  t.equal(lines.length, 3, 'a header line and two records')
  t.ok(lines.slice(1).some((l) => l.includes(failed) && l.includes('busy')), 'the busy call in the CSV')
  t.equal((await api.request('GET', '/v1/cdr?from=yesterday')).status, 400, 'a bad filter is a 400')

  // past ResultCacheTime (1 s) the call URL answers from the record
  await new Promise((r) => setTimeout(r, 1500))
  const later = await api.request('GET', `/v1/calls/${id}`)
  t.equal(later.status, 200, later.body)
  t.match(api.json<{ record: { callId: string; outcome: string } }>(later), { record: { callId: id, outcome: 'completed' } })
  t.equal((await api.request('GET', '/v1/calls/0000000000000000')).status, 404, 'unknown everywhere: 404')
})
