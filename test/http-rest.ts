/**
 * The REST API (/v1) with curl against a running server whose phones are
 * sipp: an idempotent retry by setupId, cancelling a ringing call by
 * setupId, hold and transfer through REST, and the request errors
 * (415, 400 with where, 413, unknown fields, 404, 409).
 */
import t from 'tap'
import path from 'node:path'
import { startTestServer, type TestServer } from './helpers/server'
import { sippAvailable, startSipp, type SippProcess } from './helpers/sipp'
import { restClient, until, type RestClient } from './helpers/rest'
import type { CallJson } from '../lib/http'

interface Problem {
  type: string
  status: number
  detail: string
  errors?: Array<{ pointer?: string; parameter?: string }>
  line?: number
  column?: number
}

const PW = 'rest pw'
const SIPP = path.join(__dirname, 'sipp')
const skip = !sippAvailable() && 'sipp not installed'

let srv: TestServer
let api: RestClient

t.before(async () => {
  srv = await startTestServer({ httpPort: 5095, httpAuth: true, httpAuthPwd: PW, resultCacheTime: 60 })
  api = restClient(srv.httpPort, `admin:${PW}`)
})
t.teardown(() => srv.close())

function phone(scenario: string, args: string[] = [], timeoutSeconds = 30): Promise<SippProcess> {
  return startSipp({ scenario: path.join(SIPP, scenario), args, timeoutSeconds })
}

const getCall = async (id: string): Promise<CallJson> => api.json<CallJson>(await api.request('GET', `/v1/calls/${encodeURIComponent(id)}`))

t.test('setupId: a retry returns the same call; DELETE ?setupId cancels it while it rings', { skip }, async (t) => {
  const alice = await phone('noanswer.xml', [], 20)
  t.teardown(() => alice.kill())
  const body = { initiator: alice.uri('alice'), destination: '1234', setupId: 'crm-8812', subject: 'Order 8812' }
  const first = await api.request('POST', '/v1/calls', body)
  t.equal(first.status, 201, first.body.slice(0, 200))
  const call = api.json<CallJson>(first)
  t.match(first.headers, new RegExp(`Location: /v1/calls/${call.id}`))
  t.equal(call.setupId, 'crm-8812')
  t.equal(call.origin.frontEnd, 'rest')
  t.equal(call.origin.user, 'admin')
  const retry = await api.request('POST', '/v1/calls', body)
  t.equal(retry.status, 200, 'the retry: 200, not 201')
  t.equal(api.json<CallJson>(retry).id, call.id, 'the same call')
  const ringing = await until('the initiator rings', () => getCall('crm-8812'), (c) => c.legs.initiator.status === 'ringing')
  t.equal(ringing.id, call.id, 'GET by setupId')
  const listed = api.json<{ calls: CallJson[] }>(await api.request('GET', '/v1/calls?setupId=crm-8812'))
  t.same(listed.calls.map((c) => c.id), [call.id], 'searchable by setupId')
  t.match(alice.messages(), /Subject: Order 8812/, 'subject in the INVITE')
  const del = await api.request('DELETE', '/v1/calls?setupId=crm-8812')
  t.equal(del.status, 200, del.body.slice(0, 200))
  const ended = await until('the call ends', () => getCall(call.id), (c) => c.endedAt !== null)
  t.equal(ended.cause, 'cancelled')
  t.equal((await alice.exit).code, 0, 'the phone got the CANCEL (noanswer.xml ends on it)')
  t.equal((alice.messages().match(/^INVITE sip:/gm) ?? []).length, 1, 'one INVITE: the retry placed no second call')
  const late = await api.request('POST', '/v1/calls', body)
  t.equal(late.status, 200, 'within ResultCacheTime the setupId still names that call')
  t.equal(api.json<CallJson>(late).id, call.id)
  const again = await api.request('DELETE', `/v1/calls/${call.id}`)
  t.equal(again.status, 409)
  t.equal(api.json<Problem>(again).type, 'urn:clicktocall:problem:call-ended')
})

t.test('hold, unhold and a blind transfer through REST on an anchored call', { skip }, async (t) => {
  const alice = await phone('destination.xml', ['-d', '60000'])
  const bob = await phone('destination.xml', ['-d', '60000'])
  const carol = await phone('destination.xml', ['-d', '60000'])
  t.teardown(() => [alice, bob, carol].forEach((p) => p.kill()))
  const created = await api.request('POST', '/v1/calls', { initiator: alice.uri('alice'), destination: bob.uri('bob'), anchor: true })
  t.equal(created.status, 201, created.body.slice(0, 200))
  const id = api.json<CallJson>(created).id
  await until('bridged', () => getCall(id), (c) => c.times.bridgedAt !== null, 15_000)
  const hold = await api.request('POST', `/v1/calls/${id}/hold`, { leg: 'destination' })
  t.equal(hold.status, 200, hold.body.slice(0, 200))
  t.equal(api.json<CallJson>(hold).legs.destination.held, true)
  t.match(bob.messages(), /a=(sendonly|inactive)/, 'bob got a hold re-INVITE')
  const unhold = await api.request('POST', `/v1/calls/${id}/unhold`, { leg: 'destination' })
  t.equal(unhold.status, 200, unhold.body.slice(0, 200))
  t.equal(api.json<CallJson>(unhold).legs.destination.held, false)
  const bad = await api.request('POST', `/v1/calls/${id}/transfer`, { leg: 'nobody', target: '1' })
  t.equal(bad.status, 400)
  t.equal(api.json<Problem>(bad).errors?.[0]?.pointer, '/leg')
  const xfer = await api.request('POST', `/v1/calls/${id}/transfer`, { leg: 'initiator', target: carol.uri('carol') })
  t.equal(xfer.status, 200, xfer.body.slice(0, 200))
  t.match(carol.messages(), /^INVITE sip:carol@/m, 'carol was called')
  const after = await getCall(id)
  t.ok(after.events?.some((e) => e.type === 'transferred'), 'a transferred event')
  t.equal(after.transfers, 1)
  const del = await api.request('DELETE', `/v1/calls/${id}`)
  t.equal(del.status, 200, del.body.slice(0, 200))
})

t.test('ringTimeout bounds the ringing of the initiator', { skip }, async (t) => {
  const alice = await phone('noanswer.xml', [], 20)
  t.teardown(() => alice.kill())
  const created = await api.request('POST', '/v1/calls', { initiator: alice.uri('alice'), destination: '1234', ringTimeout: 1 })
  t.equal(created.status, 201, created.body.slice(0, 200))
  const id = api.json<CallJson>(created).id
  const ended = await until('the ring timeout', () => getCall(id), (c) => c.endedAt !== null, 8000)
  const rang = ended.endedAt! - ended.createdAt
  t.ok(rang >= 900 && rang < 4000, `ended after ${rang} ms of ringing (ringTimeout 1 s; InitiatorRingTimeout is 30 s)`)
  t.equal(ended.results.at(-1)?.code, 408)
})

t.test('request errors: 415, 400 with where, 413, unknown fields, 404, 405, 401', async (t) => {
  const noType = await api.request('POST', '/v1/calls', undefined, ['-H', 'Content-Type: text/plain', '--data-binary', 'initiator=1'])
  t.equal(noType.status, 415)
  t.match(noType.contentType, 'application/problem+json')
  const broken = await api.request('POST', '/v1/calls', '{\n  "initiator": "1001",\n  "destination": }')
  t.equal(broken.status, 400)
  const p = api.json<Problem>(broken)
  t.equal(p.type, 'urn:clicktocall:problem:invalid-body')
  t.equal(p.line, 3, `where: ${p.detail}`)
  const big = await api.request('POST', '/v1/calls', { initiator: 'x'.repeat(70_000), destination: '1' })
  t.equal(big.status, 413)
  const typo = await api.request('POST', '/v1/calls', { initiator: '1001', destinaton: '1002' })
  t.equal(typo.status, 400)
  t.equal(api.json<Problem>(typo).errors?.[0]?.pointer, '/destinaton')
  const missing = await api.request('POST', '/v1/calls', { initiator: '1001' })
  t.equal(api.json<Problem>(missing).errors?.[0]?.pointer, '/destination')
  const ring = await api.request('POST', '/v1/calls', { initiator: '1001', destination: '1002', ringTimeout: 'soon' })
  t.match(api.json<Problem>(ring).detail, /ringTimeout/)
  const arr = await api.request('POST', '/v1/calls', '[1,2]')
  t.equal(arr.status, 400)
  const ident = await api.request('POST', '/v1/calls', { initiator: '1001', destination: '1002', identity: 'sip:ceo@127.0.0.1' })
  t.equal(ident.status, 403, 'identity while HttpAllowIdentity is off')
  t.equal(api.json<Problem>(ident).type, 'urn:clicktocall:problem:identity-not-allowed')
  const nores = await api.request('POST', '/v1/calls', { initiator: 'nobody@nowhere', destination: 'x' })
  t.equal(nores.status, 400)
  t.equal(api.json<Problem>(nores).type, 'urn:clicktocall:problem:no-translation')
  t.equal((await api.request('GET', '/v1/calls/nope')).status, 404)
  t.equal((await api.request('POST', '/v1/calls/nope/hold')).status, 404)
  t.equal((await api.request('GET', '/v1/nothing')).status, 404)
  const put = await api.request('PUT', '/v1/calls')
  t.equal(put.status, 405)
  t.match(put.headers, /Allow: POST, GET, HEAD, DELETE/)
  const anon = await restClient(srv.httpPort).request('GET', '/v1/calls')
  t.equal(anon.status, 401)
  t.match(anon.headers, /WWW-Authenticate: Digest/)
  t.match(anon.contentType, 'application/problem+json')
  const list = await api.request('GET', '/v1/calls?state=Nothing')
  t.same(api.json<{ calls: unknown[] }>(list), { calls: [] })
})

t.test('at MaxCalls: 503 overloaded with Retry-After', { skip }, async (t) => {
  const small = await startTestServer({ httpPort: 5095, maxCalls: 1 })
  t.teardown(() => small.close())
  const alice = await phone('noanswer.xml', [], 20)
  t.teardown(() => alice.kill())
  const client = restClient(small.httpPort)
  const first = await client.request('POST', '/v1/calls', { initiator: alice.uri('alice'), destination: '1' })
  t.equal(first.status, 201, first.body.slice(0, 200))
  const second = await client.request('POST', '/v1/calls', { initiator: alice.uri('alice'), destination: '2' })
  t.equal(second.status, 503)
  t.equal(client.json<Problem>(second).type, 'urn:clicktocall:problem:overloaded')
  t.match(second.headers, /Retry-After: \d+/)
  t.equal((await client.request('DELETE', `/v1/calls/${client.json<CallJson>(first).id}`)).status, 200)
})
