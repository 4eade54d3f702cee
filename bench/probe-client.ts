/**
 * The bench's second client (`latencyMs.firstDocumentProbe`): a process of
 * its own with nothing else to do, on one connection, one request at a
 * time, `rate` a second, each refused at once by the rules (`x` to `y`: no
 * rule, a 400): the XML thread's whole path to a first document (read,
 * frame, parse, translate, write) without a call. The load client's own
 * figure for the 100 includes the time its busy loop takes to read it; this
 * one does not. Usage: node probe-client.js PORT RATE; prints `connected`,
 * then, once stdin is closed, one JSON line.
 */
import net from 'node:net'

const [port, rate] = [Number(process.argv[2]), Number(process.argv[3] ?? 100)]
const REQUEST = '<ClickToCall><Request><Initiator>x</Initiator><Destination>y</Destination></Request></ClickToCall>'
const latencies: number[] = []
/** ticks skipped because the previous request was still unanswered */
let late = 0
let stopping = false

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! * 100) / 100
}

const socket = net.connect(port, '127.0.0.1')
socket.setNoDelay(true)
socket.setEncoding('utf8')
let buf = ''
let sentAt = 0
let waiting = false
socket.on('data', (d: string) => {
  const now = performance.now()
  buf += d
  for (let i = buf.indexOf('</ClickToCall>'); i >= 0; i = buf.indexOf('</ClickToCall>')) {
    buf = buf.slice(i + '</ClickToCall>'.length)
    if (waiting) latencies.push(now - sentAt)
    waiting = false
  }
})
socket.on('error', () => undefined)
const send = (): void => {
  if (stopping) return
  if (waiting) {
    late += 1 // one request at a time: its latency stays true, however long
    return
  }
  waiting = true
  sentAt = performance.now()
  socket.write(REQUEST)
}
socket.once('connect', () => {
  process.stdout.write('connected\n')
  const timer = setInterval(send, 1000 / rate)
  process.stdin.resume()
  process.stdin.on('end', () => {
    stopping = true
    clearInterval(timer)
    socket.destroy()
    const s = latencies.sort((a, b) => a - b)
    process.stdout.write(`${JSON.stringify({ n: s.length, late, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: pct(s, 100) })}\n`)
  })
})
setTimeout(() => process.exit(3), 10 * 60_000).unref()
