/**
 * Every curl line of docs/rest.md, run as written (through sh, with $A and
 * $T set as the document says) against a running server whose numbers
 * 1001, 1002, 1003 are sipp phones: each must get the status the document
 * promises. The document's example ids are replaced by live calls' ids.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { startTestServer, type TestServer } from './helpers/server'
import { sippAvailable, startSipp, type SippProcess } from './helpers/sipp'
import { restClient, until } from './helpers/rest'
import type { CallJson } from '../lib/http'

const DOC = readFileSync(path.join(__dirname, '..', 'docs', 'rest.md'), 'utf8')
const SIPP = path.join(__dirname, 'sipp')
const PW = 'secret'
const TOKEN = '3f1c0ffee0ddba11'

/** the shell lines of the block after `<!-- example: NAME -->`, continuations joined */
function lines(name: string): string[] {
  const at = DOC.indexOf(`<!-- example: ${name} -->`)
  if (at < 0) throw new Error(`docs/rest.md: no example ${name}`)
  const block = /```sh\n([\s\S]*?)```/.exec(DOC.slice(at))![1]!
  return block.replace(/\\\n\s*/g, '').split('\n').filter((l) => l.trim() !== '')
}

function sh(script: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('sh', ['-c', script], { encoding: 'utf8', timeout: 15_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
  )
}

t.test('docs/rest.md: every curl line answers as documented', { skip: !sippAvailable() && 'sipp not installed' }, async (t) => {
  const phones: SippProcess[] = []
  t.teardown(() => phones.forEach((p) => p.kill()))
  for (let i = 0; i < 3; i++) phones.push(await startSipp({ scenario: path.join(SIPP, 'destination.xml'), args: ['-d', '60000'], calls: 20, timeoutSeconds: 90 }))
  const [alice, bob, carol] = phones as [SippProcess, SippProcess, SippProcess]
  const srv: TestServer = await startTestServer({
    httpPort: 5095,
    httpAuth: true,
    httpAuthPwd: PW,
    httpCommandToken: TOKEN,
    translationRules: [
      { pattern: '^1001$', output: alice.uri('alice'), file: 'test', line: 1 },
      { pattern: '^1002$', output: bob.uri('bob'), file: 'test', line: 2 },
      { pattern: '^1003$', output: carol.uri('carol'), file: 'test', line: 3 },
    ],
  })
  t.teardown(() => srv.close())
  const api = restClient(srv.httpPort, `admin:${PW}`)
  const ids: Record<string, string> = {}
  const bridgedCall = async (): Promise<string> => {
    const r = await api.request('POST', '/v1/calls', { initiator: '1001', destination: '1002', anchor: true })
    const id = api.json<CallJson>(r).id
    await until('bridged', async () => api.json<CallJson>(await api.request('GET', `/v1/calls/${id}`)), (c) => c.times.bridgedAt !== null, 15_000)
    return id
  }
  const run = async (name: string, expected: Array<number | number[]>): Promise<void> => {
    const ls = lines(name)
    let env = `A='--digest -u admin:${PW}'; T='Authorization: Bearer ${TOKEN}'`
    const codes: number[] = []
    for (const l of ls) {
      let line = l.replaceAll('127.0.0.1:5095', `127.0.0.1:${srv.httpPort}`).replaceAll('3f1c...', TOKEN)
      for (const [doc, real] of Object.entries(ids)) line = line.replaceAll(doc, real)
      if (/^T=/.test(line)) {
        env += `; ${line.replace(/^T='Authorization: Bearer [^']*'/, `T='Authorization: Bearer ${TOKEN}'`)}`
        continue
      }
      t.match(line, /^curl /, `${name}: a curl line`)
      codes.push(Number(await sh(`${env}; ${line} -s -o /dev/null -w '%{http_code}'`)))
    }
    t.equal(codes.length, expected.length, `${name}: ${codes.length} lines`)
    codes.forEach((c, i) => {
      const want = expected[i]!
      t.ok(Array.isArray(want) ? want.includes(c) : c === want, `${name} line ${i + 1}: ${c} (${JSON.stringify(want)})`)
    })
  }

  await run('rest-post', [201])
  const posted = api.json<{ calls: CallJson[] }>(await api.request('GET', '/v1/calls?setupId=crm-8812')).calls[0]!
  ids['4ed2fd511864ccfb'] = posted.id
  await until('bridged', async () => api.json<CallJson>(await api.request('GET', `/v1/calls/${posted.id}`)), (c) => c.times.bridgedAt !== null, 15_000)
  await run('rest-list', [200, 200])
  const listed = api.json<{ calls: CallJson[] }>(await api.request('GET', '/v1/calls?state=bridged&initiator=1001'))
  t.same(listed.calls.map((c) => c.id), [posted.id], 'the list example finds the call')
  await run('rest-get', [200, 200])
  await run('rest-delete', [200, 409])
  ids['4ed2fd511864ccfb'] = await bridgedCall()
  await run('rest-hold', [200, 200])
  await run('rest-transfer', [200])
  ids['9a0c6b7d1e2f3a4b'] = await bridgedCall()
  await run('rest-join', [200])
  await run('rest-openapi', [200])
  await run('sipxrest-post', [200])
  await run('sipxrest-get', [200])
  ids['4ed2fd511864ccfb'] = await bridgedCall()
  await run('command', [200, 200, 201, 200, 200, 200, 200])
})
