/**
 * sipXrest's call controller URL against sipp phones: POST places a REFER
 * call with the subject in the INVITE the phone receives, GET answers the
 * setup's progress as sipXrest's status-lines document, errors as its
 * processing-status document; agent only with HttpAllowIdentity.
 */
import t from 'tap'
import path from 'node:path'
import { startTestServer, type TestServer } from './helpers/server'
import { sippAvailable, startSipp, type SippProcess } from './helpers/sipp'
import { curl } from './helpers/http-client'
import { until } from './helpers/rest'

const PW = 'sipx pw'
const SIPP = path.join(__dirname, 'sipp')
const skip = !sippAvailable() && 'sipp not installed'
const NS = 'http://www.sipfoundry.org/sipX/schema/xml/call-status-00-00'

let srv: TestServer
t.before(async () => {
  srv = await startTestServer({ httpPort: 5095, httpAuth: true, httpAuthPwd: PW })
})
t.teardown(() => srv.close())

const A = ['--digest', '-u', `admin:${PW}`]
const url = (calling: string, called: string, query = ''): string =>
  `http://127.0.0.1:${srv.httpPort}/callcontroller/${encodeURIComponent(calling)}/${encodeURIComponent(called)}${query}`

function phone(scenario: string, args: string[] = []): Promise<SippProcess> {
  return startSipp({ scenario: path.join(SIPP, scenario), args, timeoutSeconds: 30 })
}

t.test('POST places the call with the subject in the INVITE; GET lists the statuses (busy)', { skip }, async (t) => {
  const alice = await phone('busy.xml')
  t.teardown(() => alice.kill())
  const post = await curl([...A, '-X', 'POST', url(alice.uri('alice'), '1234', '?subject=Order%208812&timeout=20')])
  t.equal(post.status, 200, post.body.slice(0, 200))
  t.match(post.headers, /Content-Type: text\/xml/)
  t.match(post.body, `<processing-status xmlns="${NS}">`)
  t.match(post.body, '<error-flag>OK</error-flag>')
  t.equal((await alice.exit).code, 0, 'the phone got the INVITE and answered 486')
  t.match(alice.messages(), /^Subject: Order 8812\r?$/m, 'subject visible in the INVITE sipp received')
  const callId = /^Call-ID: *(\S+)/im.exec(alice.messages())![1]!
  const status = await until('the 486 is listed', () => curl([...A, url(alice.uri('alice'), '1234')]), (r) => r.body.includes('486'))
  t.equal(status.status, 200)
  t.match(status.body, `<?xml version="1.0" encoding="UTF-8"?>\n<status-lines xmlns="${NS}">\n<status>\n\t<timestamp>`)
  t.match(status.body, `\t<call-id>${callId}</call-id>\n\t<method>INVITE</method>\n\t<status-line>SIP/2.0 486 Busy Here</status-line>\n</status>\n</status-lines>\n`)
  const other = await curl([...A, url('sip:nobody@127.0.0.1:9', '1234')])
  t.equal(other.body, `<?xml version="1.0" encoding="UTF-8"?>\n<status-lines xmlns="${NS}">\n</status-lines>\n`, 'no setup for that pair: an empty list')
})

t.test('a REFER call that connects: INVITE statuses, then the NOTIFYs of the REFER', { skip }, async (t) => {
  const alice = await phone('initiator.xml', ['-d', '1000'])
  const bob = await phone('destination.xml', ['-d', '60000'])
  t.teardown(() => [alice, bob].forEach((p) => p.kill()))
  const post = await curl([...A, '-X', 'POST', url(alice.uri('alice'), bob.uri('bob'))])
  t.equal(post.status, 200, post.body.slice(0, 200))
  const status = await until('the NOTIFY 200 is listed', () => curl([...A, url(alice.uri('alice'), bob.uri('bob'))]), (r) => /<method>NOTIFY<\/method>\n\t<status-line>SIP\/2.0 200 OK/.test(r.body), 15_000)
  const lines = [...status.body.matchAll(/<method>(\w+)<\/method>\n\t<status-line>([^<]*)<\/status-line>/g)].map((m) => `${m[1]} ${m[2]}`)
  t.same(lines, ['INVITE SIP/2.0 180 Ringing', 'INVITE SIP/2.0 200 OK', 'NOTIFY SIP/2.0 180 Ringing', 'NOTIFY SIP/2.0 200 OK'])
  const stamps = [...status.body.matchAll(/<timestamp>(\d+)<\/timestamp>/g)].map((m) => Number(m[1]))
  t.same([...stamps].sort((a, b) => a - b), stamps, 'in time order')
})

t.test('errors as processing-status; auth; agent needs HttpAllowIdentity', async (t) => {
  const anon = await curl(['-X', 'POST', url('1001', '1002')])
  t.equal(anon.status, 401)
  t.match(anon.headers, /WWW-Authenticate: Digest/)
  const bad = await curl([...A, '-X', 'POST', url('1001', '1002', '?timeout=-1')])
  t.equal(bad.status, 400)
  t.match(bad.body, '<error-flag>ERROR</error-flag>\n<error-code>400</error-code>\n<error-text>timeout: must be a whole number')
  const none = await curl([...A, '-X', 'POST', url('nobody', 'nothing')])
  t.equal(none.status, 400)
  t.match(none.body, '<error-text>No translation rule for either initiator nobody or destination nothing</error-text>')
  const agent = await curl([...A, '-X', 'POST', url('1001', '1002', '?agent=201')])
  t.equal(agent.status, 403)
  t.match(agent.body, 'HttpAllowIdentity')
  t.equal((await curl([...A, '-X', 'PUT', url('1001', '1002')])).status, 405)
})

t.test('agent: the From of the INVITE when HttpAllowIdentity is on', { skip }, async (t) => {
  srv.server.http!.reconfigure({ allowIdentity: true })
  t.teardown(() => srv.server.http!.reconfigure({ allowIdentity: false }))
  const alice = await phone('busy.xml')
  t.teardown(() => alice.kill())
  const post = await curl([...A, '-X', 'POST', url(alice.uri('alice'), '1234', '?agent=201')])
  t.equal(post.status, 200, post.body.slice(0, 200))
  t.equal((await alice.exit).code, 0)
  t.match(alice.messages(), /^From: .*<?sip:201@127\.0\.0\.1>?/m, 'the agent is the From')
})

t.test('isForwardingAllowed=false (the default): a 302 from the calling party fails the call, not followed', { skip }, async (t) => {
  const alice = await phone('redirect.xml')
  t.teardown(() => alice.kill())
  const post = await curl([...A, '-X', 'POST', url(alice.uri('alice'), '1234', '?isForwardingAllowed=false')])
  t.equal(post.status, 200, post.body.slice(0, 200))
  t.equal((await alice.exit).code, 0, 'the phone sent its 302 and got the ACK')
  const status = await until('the 302 is listed', () => curl([...A, url(alice.uri('alice'), '1234')]), (r) => r.body.includes('302'))
  t.match(status.body, '<method>INVITE</method>\n\t<status-line>SIP/2.0 302 Moved Temporarily</status-line>')
  t.notMatch(status.body, '<method>NOTIFY</method>', 'no transfer was attempted')
})

t.test('resultCacheTime: the progress is gone that long after the call ended', { skip }, async (t) => {
  const alice = await phone('busy.xml')
  t.teardown(() => alice.kill())
  const post = await curl([...A, '-X', 'POST', url(alice.uri('alice'), '4321', '?resultCacheTime=1')])
  t.equal(post.status, 200, post.body.slice(0, 200))
  const listed = await until('the 486 is listed', () => curl([...A, url(alice.uri('alice'), '4321')]), (r) => r.body.includes('486'))
  t.match(listed.body, 'SIP/2.0 486 Busy Here')
  await new Promise((r) => setTimeout(r, 1500))
  const gone = await curl([...A, url(alice.uri('alice'), '4321')])
  t.notMatch(gone.body, '<status>', 'an empty list after resultCacheTime')
})
