/**
 * The JSON-RPC 2.0 WebSocket front-end, protocol and safety, against a
 * real started server and the `ws` package's client over loopback: parse
 * errors, invalid requests, unknown methods and bad params are answered and
 * the connection goes on; the token, the Origin rule, the allow-list, the
 * size/connection/rate limits, the slow-reader cut-off and ping/pong.
 * (Calls and verbs with phones: test/jsonrpc-calls.ts.)
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import http from 'node:http'
import { once } from 'node:events'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startTestServer, type TestServer } from './helpers/server'
import { RpcClient, type RpcMessage } from './helpers/jsonrpc-client'
import type { Config } from '../lib/config'
import type { ServerOverrides } from '../lib/server'

async function server(t: Test, settings: Partial<Config> = {}, overrides: ServerOverrides = {}): Promise<{ s: TestServer; port: number }> {
  const s = await startTestServer(settings, overrides)
  t.teardown(() => s.close())
  const port = s.server.jsonrpc?.port
  if (!port) throw new Error('no JSON-RPC port')
  return { s, port }
}

async function client(t: Test, port: number, o: Parameters<typeof RpcClient.connect>[1] = {}): Promise<RpcClient> {
  const c = await RpcClient.connect(port, o)
  t.teardown(() => c.close())
  return c
}

/** how a connection attempt ends: 'open', 'HTTP <status>' or the socket error */
async function attempt(port: number, o: Parameters<typeof RpcClient.connect>[1] = {}): Promise<string> {
  try {
    const c = await RpcClient.connect(port, o)
    await c.close()
    return 'open'
  } catch (err) {
    return (err as Error).message
  }
}

async function waitFor(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('protocol errors get JSON-RPC errors saying what is wrong, and the connection goes on', async (t) => {
  const { port } = await server(t)
  const c = await client(t, port)
  const nth = async (n: number): Promise<RpcMessage | RpcMessage[]> => c.until(`message ${n}`, () => c.received[n])

  c.sendRaw('{"jsonrpc":"2.0","id":1,"method":')
  let m = (await nth(0)) as RpcMessage
  t.equal(m.error?.code, -32700)
  t.equal(m.id, null)
  t.match(m.error?.message, /^Parse error: /)

  c.sendRaw('[]')
  m = (await nth(1)) as RpcMessage
  t.same([m.error?.code, m.id], [-32600, null])
  t.match(m.error?.message, /empty batch/)

  c.sendRaw('{"jsonrpc":"1.0","id":"v1","method":"CallStart"}')
  m = (await nth(2)) as RpcMessage
  t.same([m.error?.code, m.id], [-32600, 'v1'])
  t.match(m.error?.message, /"jsonrpc" must be "2.0"/)

  c.sendRaw('{"jsonrpc":"2.0","id":{"x":1},"method":"CallList"}')
  m = (await nth(3)) as RpcMessage
  t.same([m.error?.code, m.id], [-32600, null])
  t.match(m.error?.message, /"id" must be/)

  c.sendRaw('"just a string"')
  m = (await nth(4)) as RpcMessage
  t.equal(m.error?.code, -32600)

  m = await c.call('NoSuchMethod', {})
  t.equal(m.error?.code, -32601)
  t.match(m.error?.message, /NoSuchMethod.*known: CallStart, CallEnd/)

  m = await c.call('CallStart', { caller: 5, callee: 'sip:b@127.0.0.1' })
  t.equal(m.error?.code, -32602)
  t.match(m.error?.message, /"caller" must be a string, not a number/)

  m = await c.call('CallStart', { callee: 'sip:b@127.0.0.1' })
  t.equal(m.error?.code, -32602)
  t.match(m.error?.message, /"caller" is required/)

  m = await c.call('CallStart', { caller: 'sip:a@127.0.0.1', callee: 'sip:b@127.0.0.1', anchor: 'maybe' })
  t.equal(m.error?.code, -32602)
  t.match(m.error?.message, /"anchor" must be true or false/)

  m = await c.call('CallBlindTransfer', { callid: 'x', leg: 'left', destination: 'sip:c@127.0.0.1' })
  t.equal(m.error?.code, -32602)
  t.match(m.error?.message, /"leg" must be "caller" or "callee"/)

  m = await c.call('CallAttendedTransfer', { callid_a: 'x', leg_a: 'caller', callidB: 'y' })
  t.equal(m.error?.code, -32602)
  t.match(m.error?.message, /"legB" or "leg_b" is required/)

  m = await c.call('CallHold', { callid: 'x', cmd_id: 12 })
  t.equal(m.error?.code, -32602)
  t.match(m.error?.message, /"cmd_id" must be a non-empty string/)

  c.sendRaw('{"jsonrpc":"2.0","id":"arr","method":"CallStart","params":["a","b"]}')
  m = await c.response('arr')
  t.equal(m.error?.code, -32602)
  t.match(m.error?.message, /params" must be an object/)

  // the call layer's refusal: no translation rule (the original's 400 text)
  m = await c.call('CallStart', { caller: 'alice', callee: 'bob' })
  t.equal(m.error?.code, -32000)
  t.match(m.error?.message, /No translation rule for either initiator alice or destination bob/)
  t.same(m.error?.data, { reason: 'no-translation', status: 400 })

  // a notification (no id) is never answered, even when wrong; the next request is
  c.sendRaw('{"jsonrpc":"2.0","method":"NoSuchMethod"}')
  const before = c.received.length
  m = await c.call('NoSuchMethod2')
  t.equal(c.received.length, before + 1, 'only the request with an id was answered')
  t.equal(m.error?.code, -32601)

  // a batch: one response array, in order, without the notification's
  c.sendRaw(JSON.stringify([
    { jsonrpc: '2.0', id: 'b1', method: 'Nope' },
    { jsonrpc: '2.0', method: 'Nope' },
    { jsonrpc: '2.0', id: 'b2', method: 'CallStart', params: { caller: 'x' } },
    7,
  ]))
  const batch = await c.until('batch', () => c.received.find((x): x is RpcMessage[] => Array.isArray(x)))
  t.same(batch.map((x) => [x.id, x.error?.code]), [['b1', -32601], ['b2', -32602], [null, -32600]])

  t.equal(c.closeCode, undefined, 'still connected after every error')
})

t.test('a token is required beyond loopback (refuses to start), and when set it is checked', async (t) => {
  await t.rejects(startTestServer({ jsonRpcBindAddress: '' }), { code: 'CTC_ERR_CONFIG', message: /JsonRpcToken is blank/ })
  await t.rejects(startTestServer({ jsonRpcBindAddress: '0.0.0.0' }), { code: 'CTC_ERR_CONFIG' })

  const { port } = await server(t, { jsonRpcToken: 'correct-horse-battery' })
  t.equal(await attempt(port), 'HTTP 401', 'no token')
  t.equal(await attempt(port, { token: 'wrong-horse-battery' }), 'HTTP 401', 'wrong token')
  t.equal(await attempt(port, { token: 'correct-horse-batter' }), 'HTTP 401', 'a prefix of the token')
  t.equal(await attempt(port, { token: 'correct-horse-battery' }), 'open', 'Authorization: Bearer')
  t.equal(await attempt(port, { token: 'correct-horse-battery', tokenInQuery: true }), 'open', '?token=')
  t.equal(await attempt(port, { token: 'correct-horse-battery', origin: 'https://crm.example.com' }), 'open', 'a browser with the token')
})

t.test('--check-config refuses a JSON-RPC port beyond loopback without a token (exit 78)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-jsonrpc-'))
  const check = (name: string, text: string): Promise<{ code: number; stderr: string }> => {
    const file = path.join(dir, name)
    writeFileSync(file, `IPAddress = 127.0.0.1\nLogFilename =\nTranslationPattern = ^(\\d+)$\nTranslationOutput = sip:$1@127.0.0.1\n${text}`)
    return new Promise((resolve) =>
      execFile(process.execPath, [path.join(__dirname, '..', 'bin', 'clicktocall'), '--check-config', '-c', file], { timeout: 20000 }, (err, _out, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr }),
      ),
    )
  }
  const open = await check('open.conf', 'JsonRpcBindAddress = 0.0.0.0\n')
  t.equal(open.code, 78)
  t.match(open.stderr, /JsonRpcBindAddress is 0\.0\.0\.0 but JsonRpcToken is blank/)
  t.equal((await check('token.conf', 'JsonRpcBindAddress = 0.0.0.0\nJsonRpcToken = 8f1e6c2a9b\n')).code, 0, 'with a token')
  t.equal((await check('off.conf', 'JsonRpcBindAddress = 0.0.0.0\nJsonRpcPort = 0\n')).code, 0, 'or with the port off')
})

t.test('browsers (Origin) need the token or JsonRpcOrigins; the path and the upgrade are checked', async (t) => {
  const { port } = await server(t, { jsonRpcOrigins: ['http://localhost:8080'] })
  t.equal(await attempt(port), 'open', 'a non-browser client on loopback')
  t.equal(await attempt(port, { origin: 'https://evil.example' }), 'HTTP 403', 'a web page elsewhere')
  t.equal(await attempt(port, { origin: 'http://localhost:8080' }), 'open', 'an allowed Origin')
  t.equal(await attempt(port, { path: '/other' }), 'HTTP 404')
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(`http://127.0.0.1:${port}/call-api`, resolve).on('error', reject))
  res.resume()
  t.equal(res.statusCode, 426, 'plain HTTP is told to upgrade')
})

t.test('the allow-list refuses other addresses before any byte is read', async (t) => {
  const { port } = await server(t, { jsonRpcAllow: ['10.0.0.0/8'] })
  const r = await attempt(port)
  t.not(r, 'open')
  t.match(r, /socket hang up|ECONNRESET|closed/)
})

t.test('limits: message size, connections per address and in total, commands per second', async (t) => {
  const { s, port } = await server(t, { jsonRpcMaxMessageSize: 4096, jsonRpcMaxConnectionsPerAddress: 2, jsonRpcRateLimit: 5 })
  const a = await client(t, port)
  const b = await client(t, port)
  t.not(await attempt(port), 'open', 'a third connection from 127.0.0.1')
  await b.close()
  await waitFor('the second connection to go', () => s.server.jsonrpc!.connections === 1)
  const b2 = await client(t, port)

  // 5 per second: a burst of 12 gets 5 answers and 7 refusals; a second later it works again
  for (let i = 0; i < 12; i++) a.request('NoSuchMethod', {}, `r${i}`)
  const all = await a.until('12 responses', () => (a.singles().length >= 12 ? a.singles() : undefined))
  const codes = all.map((m) => m.error?.code)
  t.equal(codes.filter((c) => c === -32601).length, 5)
  t.equal(codes.filter((c) => c === -32005).length, 7)
  t.match(all.find((m) => m.error?.code === -32005)?.error?.message, /at most 5 per second/)
  await new Promise((r) => setTimeout(r, 1100))
  t.equal((await a.call('NoSuchMethod')).error?.code, -32601, 'the bucket refills')

  // a message over JsonRpcMaxMessageSize closes that connection (1009), the others go on
  b2.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'CallStart', params: { caller: 'x'.repeat(5000) } }))
  await waitFor('close 1009', () => b2.closeCode !== undefined, 3000)
  t.equal(b2.closeCode, 1009)
  t.equal((await a.call('NoSuchMethod')).error?.code, -32601, 'the other connection is unaffected')
})

t.test('the rate applies before parsing and to each request of a batch; deep nesting is refused unparsed', async (t) => {
  const { port } = await server(t, { jsonRpcRateLimit: 5 })
  const c = await client(t, port)
  c.sendRaw(JSON.stringify(Array.from({ length: 8 }, (_, i) => ({ jsonrpc: '2.0', id: `b${i}`, method: 'NoSuchMethod' }))))
  const batch = await c.until('batch', () => c.received.find((x): x is RpcMessage[] => Array.isArray(x)))
  t.same(batch.map((m) => m.error?.code), [-32601, -32601, -32601, -32601, -32601, -32005, -32005, -32005], 'a batch of 8 under 5 per second: the first 5 run')
  t.same(batch.map((m) => m.id), ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7'])
  c.sendRaw('{"jsonrpc":"2.0","id":"late","method":"NoSuchMethod"}')
  const refused = await c.until('refusal', () => c.singles()[0])
  t.same([refused.id, refused.error?.code], [null, -32005], 'a message over the rate is not read: id null')
  await new Promise((r) => setTimeout(r, 1100))
  c.sendRaw(`${'['.repeat(17)}${']'.repeat(17)}`)
  const deep = await c.until('deep', () => c.singles()[1])
  t.equal(deep.error?.code, -32600)
  t.match(deep.error?.message, /nested deeper than 16 levels/)
  c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 'ok', method: 'CallList', params: { state: '[[[[[[[[[[[[[[[[[[[[' } }))
  t.equal((await c.response('ok')).result?.event, 'List', 'brackets inside strings are not nesting')
  c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 'esc', method: 'CallList', params: { state: `a\\"\\\\${'['.repeat(20)}` } }))
  t.equal((await c.response('esc')).result?.event, 'List', 'nor after escaped quotes and backslashes')
})

t.test('total connections: JsonRpcMaxConnections', async (t) => {
  const { port } = await server(t, { jsonRpcMaxConnections: 2 })
  await client(t, port)
  await client(t, port)
  t.not(await attempt(port), 'open')
})

t.test('a client that does not read is cut off instead of buffered without bound', async (t) => {
  const maxBufferedBytes = 256 * 1024
  const { s, port } = await server(t, { jsonRpcRateLimit: 0, jsonRpcMaxMessageSize: 65536 }, { jsonRpc: { maxBufferedBytes } })
  const slow = await client(t, port)
  const other = await client(t, port)
  slow.ws.pause()
  // each error response echoes the 32 KB id: the server has far more to send than loopback buffers hold
  const id = 'i'.repeat(32 * 1024)
  let sent = 0
  for (; sent < 1500 && s.server.jsonrpc!.connections === 2; sent++) {
    slow.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: `${id}${sent}`, method: 'NoSuchMethod' }))
    if (sent % 20 === 19) await new Promise((r) => setTimeout(r, 5))
  }
  await waitFor('the server to drop the slow reader', () => s.server.jsonrpc!.connections === 1, 5000)
  t.ok(sent < 1500, `cut off after ${sent} requests (~${Math.round((sent * 32) / 1024)} MB of responses)`)
  t.equal((await other.call('NoSuchMethod')).error?.code, -32601, 'the other client is served')
  slow.ws.resume()
})

t.test('ping/pong: a peer that never answers pings is dropped; a live client stays', async (t) => {
  const { s, port } = await server(t, {}, { jsonRpc: { pingIntervalMs: 100 } })
  const live = await client(t, port)
  // a raw TCP peer that completes the upgrade and then goes silent (never sends a pong)
  const raw = net.connect(port, '127.0.0.1')
  t.teardown(() => raw.destroy())
  await once(raw, 'connect')
  raw.write(
    'GET /call-api HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  )
  const [head] = (await once(raw, 'data')) as [Buffer]
  t.match(head.toString('latin1'), /^HTTP\/1\.1 101 /)
  await waitFor('2 connections', () => s.server.jsonrpc!.connections === 2)
  const closed = once(raw, 'close')
  raw.resume()
  await Promise.race([closed, new Promise((_r, reject) => setTimeout(() => reject(new Error('silent peer not dropped')), 2000))])
  t.pass('the silent peer was dropped')
  await waitFor('the server to count 1 connection', () => s.server.jsonrpc!.connections === 1, 1000)
  t.equal(live.closeCode, undefined, 'the live client (answers pings) stays')
  t.equal((await live.call('NoSuchMethod')).error?.code, -32601)
})

t.test('SIGHUP reload: a new token closes open connections and is required after; rate and allow-list apply', async (t) => {
  const { s, port } = await server(t, { jsonRpcToken: 'token-one' })
  const c1 = await client(t, port, { token: 'token-one' })
  const plan = s.server.reload({ ...s.config, jsonRpcToken: 'token-two', jsonRpcRateLimit: 3, jsonRpcPort: 6000 })
  t.same(plan.applied.sort(), ['JsonRpcRateLimit', 'JsonRpcToken'])
  t.same(plan.restart, ['JsonRpcPort'], 'the port needs a restart')
  await waitFor('the old-token connection to close', () => c1.closeCode !== undefined, 3000)
  t.equal(c1.closeCode, 1008)
  t.equal(await attempt(port, { token: 'token-one' }), 'HTTP 401', 'the old token is refused')
  const c2 = await client(t, port, { token: 'token-two' })
  for (let i = 0; i < 5; i++) c2.request('NoSuchMethod', {}, `q${i}`)
  const got = await c2.until('5 answers', () => (c2.singles().length >= 5 ? c2.singles() : undefined))
  t.same(got.map((m) => m.error?.code).sort(), [-32005, -32005, -32601, -32601, -32601], '3 per second now')
  s.server.reload({ ...s.config, jsonRpcToken: 'token-two', jsonRpcAllow: ['10.0.0.0/8'] })
  await waitFor('the disallowed connection to close', () => c2.closeCode !== undefined, 3000)
  t.equal(c2.closeCode, 1008)
  t.not(await attempt(port, { token: 'token-two' }), 'open', 'loopback no longer allowed')
})

t.test('shutdown closes the connections with 1001 going away; JsonRpcPort 0 disables it', async (t) => {
  const s = await startTestServer()
  const c = await RpcClient.connect(s.server.jsonrpc!.port)
  await s.close()
  await waitFor('close', () => c.closeCode !== undefined, 3000)
  t.equal(c.closeCode, 1001)
  const off = await startTestServer({ jsonRpcPort: 0 })
  t.equal(off.server.jsonrpc, undefined)
  await off.close()
})
