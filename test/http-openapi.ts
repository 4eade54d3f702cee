/**
 * The OpenAPI document tells the truth: every route of /v1 is exercised
 * against a running server with sipp phones (successes and errors), and
 * every real answer (status, content type, body) is checked against the
 * document served at /v1/openapi.json; every documented operation is hit.
 */
import t from 'tap'
import path from 'node:path'
import { startTestServer, type TestServer } from './helpers/server'
import { sippAvailable, startSipp, type SippProcess } from './helpers/sipp'
import { restClient, until, type RestClient } from './helpers/rest'
import { checkAnswer, operation, type Json } from './helpers/openapi'
import type { CallJson } from '../lib/http'

const PW = 'openapi pw'
const SIPP = path.join(__dirname, 'sipp')

t.test('every route answers as /v1/openapi.json says', { skip: !sippAvailable() && 'sipp not installed' }, async (t) => {
  const srv: TestServer = await startTestServer({ httpPort: 5095, httpAuth: true, httpAuthPwd: PW, resultCacheTime: 60 })
  t.teardown(() => srv.close())
  const api: RestClient = restClient(srv.httpPort, `admin:${PW}`)
  const phones: SippProcess[] = []
  t.teardown(() => phones.forEach((p) => p.kill()))
  const phone = async (scenario: string): Promise<SippProcess> => {
    const p = await startSipp({ scenario: path.join(SIPP, scenario), args: ['-d', '60000'], timeoutSeconds: 40 })
    phones.push(p)
    return p
  }
  const docAnswer = await api.request('GET', '/v1/openapi.json')
  t.equal(docAnswer.status, 200)
  const doc = api.json<{ [k: string]: Json }>(docAnswer)
  t.equal(doc.openapi, '3.1.0')
  const get = async (id: string): Promise<CallJson> => api.json<CallJson>(await api.request('GET', `/v1/calls/${id}`))
  const bridged = async (a: SippProcess, b: SippProcess, setupId: string): Promise<string> => {
    const r = await api.request('POST', '/v1/calls', { initiator: a.uri('a'), destination: b.uri('b'), anchor: true, setupId })
    const id = api.json<CallJson>(r).id
    await until('bridged', () => get(id), (c) => c.times.bridgedAt !== null, 15_000)
    return id
  }

  // two bridged calls: verbs on the first, a join of both
  const [a1, b1, a2, b2, c1] = [await phone('destination.xml'), await phone('destination.xml'), await phone('destination.xml'), await phone('destination.xml'), await phone('destination.xml')]
  const one = await bridged(a1!, b1!, 'oa-1')
  const two = await bridged(a2!, b2!, 'oa-2')
  await api.request('POST', '/v1/calls', { initiator: a1!.uri('a'), destination: b1!.uri('b'), anchor: true, setupId: 'oa-1' }) // 200: retry
  await api.request('GET', '/v1/calls')
  await api.request('GET', '/v1/calls?setupId=oa-1')
  await api.request('POST', `/v1/calls/${one}/hold`, { leg: 'initiator' })
  await api.request('POST', `/v1/calls/${one}/hold`) // both legs, no body
  await api.request('POST', `/v1/calls/${one}/unhold`)
  const xfer = await api.request('POST', `/v1/calls/${one}/transfer`, { leg: 'destination', target: c1!.uri('c') })
  t.equal(xfer.status, 200, 'transfer applied')
  const join = await api.request('POST', `/v1/calls/${one}/join`, { leg: 'destination', otherCall: two, otherLeg: 'destination' })
  t.equal(join.status, 200, `join applied: ${join.body.slice(0, 200)}`)
  // a ringing call ended by setupId, another by id
  const ringer = await phone('noanswer.xml')
  await api.request('POST', '/v1/calls', { initiator: ringer.uri('r'), destination: '1', setupId: 'oa-3' })
  await until('ringing', () => get('oa-3'), (c) => c.legs.initiator.status === 'ringing')
  await api.request('POST', '/v1/calls/oa-3/hold', { leg: 'initiator' }) // 409: not answered
  await api.request('DELETE', '/v1/calls?setupId=oa-3')
  await api.request('DELETE', '/v1/calls?setupId=oa-3') // 409: ended
  await api.request('DELETE', '/v1/calls?setupId=unknown') // 404
  await api.request('DELETE', '/v1/calls') // 400: no setupId
  for (const id of [one, two]) if ((await get(id)).endedAt === null) await api.request('DELETE', `/v1/calls/${id}`)
  await api.request('DELETE', `/v1/calls/${one}`) // 409
  await api.request('GET', '/v1/calls/unknown') // 404
  await api.request('GET', '/v1/cdr') // 503: CdrDatabase is blank in the test server
  await api.request('DELETE', '/v1/calls/unknown') // 404
  for (const verb of ['hold', 'unhold', 'transfer', 'join']) await api.request('POST', `/v1/calls/unknown/${verb}`, {}) // 404
  await api.request('POST', `/v1/calls/${two}/transfer`, { leg: 'initiator' }) // 400: no target
  await api.request('POST', `/v1/calls/${two}/hold`, { leg: 'x' }) // 400
  await api.request('POST', '/v1/calls', { initiator: 'nobody', destination: 'nothing' }) // 400 no-translation
  await api.request('POST', '/v1/calls', '{"initiator":') // 400 invalid-body
  await api.request('POST', '/v1/calls', { initiator: '1', destination: '2', identity: 'sip:x@127.0.0.1' }) // 403
  await api.request('POST', '/v1/calls', { initiator: 'x'.repeat(70_000), destination: '2' }) // 413
  await api.request('POST', '/v1/calls', undefined, ['-H', 'Content-Type: text/plain', '--data-binary', 'x']) // 415
  await restClient(srv.httpPort, undefined, api.answers).request('GET', '/v1/calls') // 401
  await restClient(srv.httpPort, undefined, api.answers).request('GET', '/v1/calls', undefined, ['-H', 'Host: evil.example']) // 421
  await restClient(srv.httpPort, undefined, api.answers).request('POST', '/v1/calls', {}, ['-H', 'Origin: https://evil.example']) // 403

  // the checker itself catches what it should
  t.not(checkAnswer(doc, 'GET', '/v1/calls', 299, 'application/json', '{"calls":[]}').length, 0, 'an undocumented status is caught')
  t.not(checkAnswer(doc, 'GET', '/v1/calls/x', 200, 'application/json', '{"id":"x"}').length, 0, 'a call without its fields is caught')
  t.same(checkAnswer(doc, 'GET', '/v1/calls/x', 200, 'application/json', '{"record":{"callId":"x","createdAt":"t","endedAt":"t","outcome":"busy"}}'), [], 'a recorded call fits the other oneOf branch')
  t.not(checkAnswer(doc, 'GET', '/v1/calls/x', 200, 'application/json', '{"record":{"callId":"x"}}').length, 0, 'an incomplete record is caught')
  t.not(checkAnswer(doc, 'GET', '/v1/calls/x', 404, 'application/json', '{}').length, 0, 'a wrong content type is caught')
  const bad = api.answers.flatMap((a) => checkAnswer(doc, a.method, a.path, a.status, a.contentType, a.body))
  t.same(bad, [], `${api.answers.length} answers conform`)
  const statuses = new Set(api.answers.map((a) => a.status))
  for (const s of [200, 201, 400, 401, 403, 404, 409, 413, 415, 421, 503]) t.ok(statuses.has(s), `a ${s} was checked`)
  const paths = doc.paths as { [k: string]: { [m: string]: Json } }
  for (const [p, item] of Object.entries(paths)) {
    for (const m of Object.keys(item)) {
      const hit = api.answers.some((a) => a.method === m.toUpperCase() && operation(doc, a.path, a.method) === operation(doc, p.replace(/\{[^}]+\}/g, 'x'), m))
      t.ok(hit, `${m.toUpperCase()} ${p} exercised`)
    }
  }
})
