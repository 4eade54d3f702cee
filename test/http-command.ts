/**
 * Auerswald-style command URLs against a sipp phone: refused without a
 * configured token, Bearer and AuthToken=, action=? and help, call, hold of
 * a ringing call (409), terminate.
 */
import t from 'tap'
import path from 'node:path'
import { startTestServer, type TestServer } from './helpers/server'
import { sippAvailable, startSipp } from './helpers/sipp'
import { curl } from './helpers/http-client'

interface CommandAnswer {
  result?: string
  callId?: string
  actions?: string[]
  help?: string
  type?: string
}

const SIPP = path.join(__dirname, 'sipp')
const TOKEN = 'c0ffee-9f8e7d6c5b4a'
let srv: TestServer
t.before(async () => {
  srv = await startTestServer({ httpPort: 5095, httpAuth: true, httpAuthPwd: 'not used here' })
})
t.teardown(() => srv.close())

const cmd = (query: string, headers: string[] = []): ReturnType<typeof curl> =>
  curl([...headers.flatMap((h) => ['-H', h]), `http://127.0.0.1:${srv.httpPort}/api/v1/exec/command?${query}`])
const body = (r: { body: string }): CommandAnswer => JSON.parse(r.body) as CommandAnswer
const bearer = `Authorization: Bearer ${TOKEN}`

t.test('no token configured: 403 whatever is sent', async (t) => {
  const r = await cmd('action=?', [bearer])
  t.equal(r.status, 403)
  t.equal(body(r).type, 'urn:clicktocall:problem:no-token')
})

t.test('token: none, wrong, Bearer, AuthToken=; action=? and help', async (t) => {
  srv.server.http!.reconfigure({ commandToken: TOKEN })
  t.equal((await cmd('action=?')).status, 401)
  t.equal((await cmd('action=?', ['Authorization: Bearer wrong'])).status, 401)
  t.equal((await cmd(`action=?&AuthToken=${TOKEN}x`)).status, 401)
  const list = await cmd('action=?', [bearer])
  t.equal(list.status, 200)
  t.same(body(list).actions, ['call', 'terminate', 'hold', 'resume', 'transfer'])
  const q = await cmd(`action=?&AuthToken=${TOKEN}`)
  t.equal(q.status, 200, 'AuthToken= as a query parameter')
  const help = await cmd('action=transfer&help', [bearer])
  t.match(body(help).help, /blind transfer/)
  const unknown = await cmd('action=dtmf', [bearer])
  t.equal(unknown.status, 400)
  const head = await curl(['-I', '-H', bearer, `http://127.0.0.1:${srv.httpPort}/api/v1/exec/command?action=call&initiator=1&number=2`])
  t.equal(head.status, 405, 'HEAD runs no command')
})

t.test('call, hold while ringing (409), terminate', { skip: !sippAvailable() && 'sipp not installed' }, async (t) => {
  srv.server.http!.reconfigure({ commandToken: TOKEN })
  const alice = await startSipp({ scenario: path.join(SIPP, 'noanswer.xml'), timeoutSeconds: 20 })
  t.teardown(() => alice.kill())
  const call = await cmd(`action=call&initiator=${encodeURIComponent(alice.uri('alice'))}&number=1234`, [bearer])
  t.equal(call.status, 201, call.body.slice(0, 200))
  const id = body(call).callId!
  t.ok(/^\S+$/.test(id), 'a call id')
  // wait for the ringing
  for (let i = 0; i < 50 && !/180 Ringing/.test(alice.messages()); i++) await new Promise((r) => setTimeout(r, 100))
  const hold = await cmd(`action=hold&callId=${id}`, [bearer])
  t.equal(hold.status, 409, 'hold before anyone answered does not apply')
  const end = await cmd(`action=terminate&callId=${id}&AuthToken=${TOKEN}`)
  t.equal(end.status, 200, end.body.slice(0, 200))
  t.equal(body(end).result, 'ok')
  t.equal((await alice.exit).code, 0, 'the ringing phone got its CANCEL')
  t.equal((await cmd(`action=terminate&callId=${id}`, [bearer])).status, 409, 'already ended')
  t.equal((await cmd('action=terminate&callId=nope', [bearer])).status, 404)
})
