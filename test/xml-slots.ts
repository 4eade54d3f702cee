/**
 * Closed means closed on the XML port: clients that never read, never close
 * and ignore the server's FIN (allowHalfOpen, paused) must not keep their
 * slots. The idle timeout ends them and destroys them within a bound, the
 * per-address cap keeps one address from taking every slot, and a new client
 * gets in. Real sockets on loopback; every wait is bounded.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import { readdirSync } from 'node:fs'
import { startTestServer, type TestServer } from './helpers/server'
import { XmlClient } from './helpers/xml-client'
import { addressKey } from '../lib/xml'

const GARBAGE = '<ClickToCall><Request><Initiator>1</Initiator></Request></ClickToCall>'

/** a client that writes one request, then never reads, never closes and ignores the FIN */
function rogue(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress, allowHalfOpen: true }, () => {
      s.pause()
      s.write(GARBAGE)
      resolve(s)
    })
    s.on('error', () => resolve(s))
  })
}

async function until(cond: () => boolean, ms: number): Promise<number> {
  const start = Date.now()
  while (!cond() && Date.now() - start < ms) await new Promise((r) => setTimeout(r, 50))
  return Date.now() - start
}

/** does a fresh client get a result for its request within `ms`? */
async function served(port: number, ms: number, localAddress = '127.0.0.1'): Promise<boolean> {
  const s = net.connect({ port, host: '127.0.0.1', localAddress })
  let text = ''
  s.setEncoding('utf8')
  s.on('data', (d: string) => (text += d))
  s.on('error', () => undefined)
  s.once('connect', () => s.write(GARBAGE))
  await until(() => text.includes('<Result Code="400">') || s.destroyed, ms)
  s.destroy()
  return text.includes('<Result Code="400">')
}

function fds(): number {
  return readdirSync('/proc/self/fd').length
}

async function attack(t: Test, server: TestServer, n: number): Promise<net.Socket[]> {
  const socks: net.Socket[] = []
  t.teardown(() => {
    for (const s of socks) s.destroy()
  })
  // all at once (in parallel), so that the attack is complete well within the idle timeout
  socks.push(...(await Promise.all(Array.from({ length: n }, () => rogue(server.xmlPort)))))
  return socks
}

t.test('256 clients that ignore FIN, one address, per-address cap lifted: every slot taken, then freed by idle timeout + destroy', async (t) => {
  const server = await startTestServer({ xmlRpcIdleTimeout: 3, xmlRpcMaxConnections: 256, xmlRpcMaxConnectionsPerAddress: 1000 })
  t.teardown(() => server.close())
  const xml = server.server.xml!
  const before = fds()
  await attack(t, server, 256)
  await until(() => xml.connections >= 256, 3000)
  t.equal(xml.connections, 256, 'the attack holds every slot')
  t.notOk(await served(server.xmlPort, 300), 'the port is full: a new client is not served')
  const recovered = await until(() => xml.connections === 0, 12_000)
  t.comment(`256 FIN-ignoring clients: slots ${xml.connections} after ${recovered} ms (idle timeout 3 s); descriptors held ${fds() - before} (the 256 clients' own)`)
  t.equal(xml.connections, 0, 'every slot freed')
  t.ok(recovered < 3000 + 2000 + 3000, `freed within idle timeout + close bound (${recovered} ms)`)
  t.ok(await served(server.xmlPort, 3000), 'a new client gets in')
})

t.test('per-address cap: one address holds at most XmlRpcMaxConnectionsPerAddress; others get in at once', async (t) => {
  const server = await startTestServer({ xmlRpcIdleTimeout: 4, xmlRpcMaxConnectionsPerAddress: 32 })
  t.teardown(() => server.close())
  const xml = server.server.xml!
  await attack(t, server, 256)
  await until(() => xml.connections <= 32, 3000)
  t.ok(xml.connections <= 32, `one address holds ${xml.connections} slots (cap 32)`)
  t.ok(await served(server.xmlPort, 3000, '127.0.0.2'), 'a client from another address is served during the attack')
  t.notOk(await served(server.xmlPort, 300), 'a 33rd connection from the attacking address is refused')
  const recovered = await until(() => xml.connections === 0, 12_000)
  t.equal(xml.connections, 0, `the capped slots are freed too (${recovered} ms)`)
  t.ok(await served(server.xmlPort, 3000), 'and the attacking address may connect again')
})

t.test('a client that half-closes but never reads its result is destroyed within the bound', async (t) => {
  const server = await startTestServer({ xmlRpcIdleTimeout: 0 })
  t.teardown(() => server.close())
  const xml = server.server.xml!
  // request too large: the server answers 400 and closes; the client neither reads nor closes
  const s = net.connect({ port: server.xmlPort, host: '127.0.0.1', allowHalfOpen: true })
  t.teardown(() => s.destroy())
  await new Promise<void>((r) => s.once('connect', () => r()))
  s.pause()
  s.write(`<ClickToCall>${'x'.repeat(70_000)}`)
  await until(() => xml.connections === 1, 2000)
  const freed = await until(() => xml.connections === 0, 6000)
  t.equal(xml.connections, 0, `too-large close completes without the client's FIN (${freed} ms)`)
  const c = await XmlClient.connect(server.xmlPort)
  t.teardown(() => c.close())
  c.write(GARBAGE)
  await c.until((r) => r.length >= 1, 3000)
  t.equal(c.results[0]?.code, 400)
})

t.test('addressKey: what counts as one address', async (t) => {
  t.equal(addressKey('192.0.2.7'), '192.0.2.7')
  t.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7', 'IPv4-mapped is the IPv4 address')
  t.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64', 'the same /64')
  t.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64')
  t.not(addressKey('2001:db8:1:3::1'), addressKey('2001:db8:1:2::1'), 'another /64')
  t.equal(addressKey('::1'), '0:0:0:0::/64')
})
