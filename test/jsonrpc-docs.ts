/**
 * docs/json-rpc.md and the README's one-liner, checked against a running
 * server with phones: the documented CallStart and CallHold exchanges are
 * the real ones message for message (ids aside), every documented method
 * exists and every method is documented, the error table is the code's.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import pino from 'pino'
import { createPhone } from '../lib/phone'
import { RpcErrorCode } from '../lib/jsonrpc'
import { METHODS } from '../lib/jsonrpc/methods'
import { startTestServer } from './helpers/server'
import { RpcClient, type RpcMessage } from './helpers/jsonrpc-client'

const ROOT = path.join(__dirname, '..')
const DOC = readFileSync(path.join(ROOT, 'docs', 'json-rpc.md'), 'utf8')
const logger = pino({ level: 'silent' })

/** the `->` and `<-` lines of the fenced block after `<!-- example: NAME -->` */
function exchange(name: string): { sent: string[]; received: string[] } {
  const at = DOC.indexOf(`<!-- example: ${name} -->`)
  if (at < 0) throw new Error(`no example ${name}`)
  const block = /```[a-z]*\n([\s\S]*?)```/.exec(DOC.slice(at))![1]!
  const lines = block.split('\n')
  return {
    sent: lines.filter((l) => l.startsWith('-> ')).map((l) => l.slice(3)),
    received: lines.filter((l) => l.startsWith('<- ')).map((l) => l.slice(3)),
  }
}

t.test('the CallStart and CallHold exchanges of json-rpc.md are what the server sends', async (t) => {
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', logger })
  const bob = await createPhone({ name: 'bob', behaviour: 'answer', logger })
  t.teardown(() => alice.close())
  t.teardown(() => bob.close())
  const server = await startTestServer({
    translationRules: [
      { pattern: '^sip:alice@192\\.0\\.2\\.10$', output: alice.uri, file: 't', line: 1 },
      { pattern: '^(1001)$', output: bob.uri, file: 't', line: 2 },
    ],
  })
  t.teardown(() => server.close())
  const c = await RpcClient.connect(server.server.jsonrpc!.port)
  t.teardown(() => c.close())

  const start = exchange('CallStart')
  c.sendRaw(start.sent[0]!)
  const id = String((await c.response(1)).result?.callid)
  await c.event(id, 'CalleeAnswered', 10000)
  // the documented ids are examples: put the real one in
  const DOC_ID = '4f1c2a9e0b7d3e65'
  const expectBefore = start.received.slice(0, -1).map((l) => JSON.parse(l.replaceAll(DOC_ID, id)) as RpcMessage)
  t.same(c.received, expectBefore, 'CallStart up to CalleeAnswered, message for message')

  const hold = exchange('CallHold')
  const seen = c.received.length
  c.sendRaw(hold.sent[0]!.replaceAll(DOC_ID, id))
  const holdCmd = String((await c.response(3)).result?.cmd_id)
  await c.event(holdCmd, 'Ended', 10000)
  const anon = (m: RpcMessage | RpcMessage[]): string => JSON.stringify(m).replace(/"cmd_id":"[^"]*"/g, '"cmd_id":"X"')
  t.same(c.received.slice(seen).map(anon), hold.received.map((l) => anon(JSON.parse(l) as RpcMessage)), 'CallHold, message for message')

  await c.call('CallEnd', { callid: id })
  const ended = await c.until('Ended', () => c.singles().find((m) => m.params?.cmd_id === id && m.params.event === 'Ended'))
  t.same(ended, JSON.parse(start.received.at(-1)!.replaceAll(DOC_ID, id)), 'the Ended after CallEnd')
})

t.test('every method is documented and every documented method exists; the error table is the code', async (t) => {
  const headings = [...DOC.matchAll(/^### (.+)$/gm)].flatMap((m) => m[1]!.replace(/\(.*?\)/g, (x) => (/also spelt (\w+)/.exec(x)?.[1] ?? '')).split(/[ ,]+/).filter((w) => /^[A-Z]\w+$/.test(w)))
  t.same([...new Set(headings)].sort(), [...METHODS.keys()].sort())
  const table = [...DOC.matchAll(/^\| `(-\d+)` \|/gm)].map((m) => Number(m[1]))
  t.same(table.sort(), Object.values(RpcErrorCode).sort())
})

t.test("README's node one-liner runs against a server", async (t) => {
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', logger })
  const bob = await createPhone({ name: 'bob', behaviour: 'answer', hangUpAfterMs: 300, logger })
  t.teardown(() => alice.close())
  t.teardown(() => bob.close())
  const server = await startTestServer({
    translationRules: [
      { pattern: '^(1001)$', output: alice.uri, file: 't', line: 1 },
      { pattern: '^sip:bob@example\\.com$', output: bob.uri, file: 't', line: 2 },
    ],
  })
  t.teardown(() => server.close())
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## The JSON-RPC WebSocket interface'))
  const line = /```sh\n(node -e .*)\n```/.exec(section)![1]!
  const code = /^node -e "([\s\S]*)"$/.exec(line)![1]!.replace(/\\"/g, '"').replace('127.0.0.1:5059', `127.0.0.1:${server.server.jsonrpc!.port}`)
  const out = await new Promise<string>((resolve) => execFile(process.execPath, ['-e', code], { cwd: ROOT, timeout: 15000 }, (_e, stdout) => resolve(stdout)))
  const events = out.trim().split('\n').map((l) => (JSON.parse(l) as RpcMessage).params?.event ?? (JSON.parse(l) as RpcMessage).result?.event)
  t.same(events, ['Started', 'CallerAnswered', 'Transferring', 'TransferStart', 'TransferPending', 'CalleeAnswered', 'Ended'])
})
