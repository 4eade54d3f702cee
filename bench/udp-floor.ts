/**
 * What Node itself costs per SIP-sized datagram on this machine, before any
 * parsing: a peer process receives a datagram and sends one back, n times,
 * and reports the CPU it spent (user + system) per pair. A REFER call is ~7.5
 * such pairs on the server (8 datagrams in, 7 out), an anchored one more: the
 * floor under the benchmark's CPU per call that no change to our code moves.
 * Part of `npm run bench -- --micro`.
 */
import { spawn } from 'node:child_process'
import dgram from 'node:dgram'

/** the peer: counts datagrams, answers each with `reply`, prints its CPU per pair after n */
const PEER = `
const dgram = require('node:dgram')
const n = Number(process.argv[1]), size = Number(process.argv[2])
const reply = Buffer.alloc(size, 0x41)
const s = dgram.createSocket('udp4')
let got = 0, c0
s.on('message', (m, r) => {
  if (got === 0) c0 = process.cpuUsage()
  got++
  s.send(reply, r.port, r.address)
  if (got === n) {
    const c = process.cpuUsage(c0)
    process.stdout.write(JSON.stringify({ got, userUs: c.user / n, sysUs: c.system / n }) + '\\n')
    s.close()
  }
})
s.bind(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: s.address().port }) + '\\n'))
setTimeout(() => process.exit(2), 30000).unref()
`

export interface UdpFloor {
  /** datagrams the peer received (and answered) */
  pairs: number
  /** the peer's CPU per datagram received and answered, microseconds */
  userUs: number
  sysUs: number
}

/** n pairs, `window` datagrams in flight, request and reply sizes like an INVITE and its 200 */
export function udpFloor(n = 50_000, window = 50, requestBytes = 620, replyBytes = 380): Promise<UdpFloor> {
  return new Promise((resolve, reject) => {
    const peer = spawn(process.execPath, ['-e', PEER, String(n), String(replyBytes)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const request = Buffer.alloc(requestBytes, 0x42)
    const s = dgram.createSocket('udp4')
    let out = ''
    let sent = 0
    let done = false
    const timer = setTimeout(() => finish(new Error('udp floor: no answer within 30 s')), 30_000)
    const finish = (err?: Error, r?: UdpFloor): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      s.close()
      peer.kill()
      if (err) reject(err)
      else resolve(r!)
    }
    peer.on('error', (err) => finish(err))
    // a peer gone before its figures ('close': after its output was read; after the figures, finish has run)
    peer.on('close', (code) => finish(new Error(`udp floor: the peer exited (${code}) before its figures`)))
    peer.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const lines = out.split('\n')
      out = lines.pop()!
      for (const line of lines) {
        const m = JSON.parse(line) as { port?: number; got?: number; userUs?: number; sysUs?: number }
        if (m.port !== undefined) {
          const port = m.port
          s.on('message', () => {
            if (sent < n) {
              sent++
              s.send(request, port, '127.0.0.1')
            }
          })
          s.bind(0, '127.0.0.1', () => {
            for (let i = 0; i < window && sent < n; i++, sent++) s.send(request, port, '127.0.0.1')
          })
        } else if (m.got !== undefined) {
          finish(undefined, { pairs: m.got, userUs: m.userUs!, sysUs: m.sysUs! })
        }
      }
    })
  })
}
