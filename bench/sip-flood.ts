/**
 * `node dist/bench/sip-flood.js [--bin PATH] [--connections N] [--procs P] [--watch S] [--ulimit L] [--conf-extra 'A = b\n']`:
 * the attack of issue 12 item 1, measured. Starts the daemon at `--bin`
 * (default: this tree's; give an older build's to compare), opens N idle
 * TCP connections to its SIP port from 127.0.0.1 (from P client processes),
 * then places a call through the XML port to two in-process phones, asks the
 * HTTP port for a page, and watches for S seconds how many descriptors the
 * server holds. Prints one JSON line: descriptors and RSS before, during and
 * after, what the flood got, the call's result and latency, and the time
 * until the server's descriptors were back to the baseline (-1: not within S).
 * Everything it starts, it stops.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { createPhone } from '../lib/phone'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback
}

// ------------------------------------------------------------ client process

/** client mode: open `n` connections to `port`, report how many stay open every 500 ms, until killed */
async function client(port: number, n: number): Promise<void> {
  let open = 0
  let failed = 0
  for (let done = 0; done < n; ) {
    const batch = Math.min(250, n - done)
    await Promise.all(
      Array.from({ length: batch }, () => {
        const s = net.connect({ port, host: '127.0.0.1' })
        s.on('error', () => undefined)
        return new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 3000)
          s.once('connect', () => {
            open++
            s.once('close', () => open--)
            clearTimeout(timer)
            resolve()
          })
          s.once('close', () => {
            failed++
            clearTimeout(timer)
            resolve()
          })
        })
      }),
    )
    done += batch
  }
  process.send?.({ opened: true, open, failed })
  setInterval(() => process.send?.({ open, failed }), 500)
}

// ------------------------------------------------------------ measuring process

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => resolve(p))
    })
  })
}

function fds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return -1
  }
}

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? -1)
  } catch {
    return -1
  }
}

function httpStatus(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const rq = http.get({ host: '127.0.0.1', port, path: '/index.html', timeout: 5000 }, (rs) => {
      rs.resume()
      resolve(rs.statusCode ?? 0)
    })
    rq.on('timeout', () => rq.destroy(new Error('timeout')))
    rq.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message))
  })
}

/** one REFER call through the XML port: the final result and how long it took */
function xmlCall(port: number, initiator: string, destination: string): Promise<{ result: string; ms: number }> {
  const started = Date.now()
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    let buf = ''
    const done = (result: string): void => {
      clearTimeout(timer)
      s.destroy()
      resolve({ result, ms: Date.now() - started })
    }
    const timer = setTimeout(() => done('no final result in 30 s'), 30_000)
    s.on('error', (err: NodeJS.ErrnoException) => done(`connection error ${err.code ?? err.message}`))
    s.on('close', () => done(buf.includes('Result') ? 'closed' : 'closed without a result'))
    s.on('data', (d: Buffer) => {
      buf += d.toString()
      const finals = [...buf.matchAll(/<Result Code="(\d+)"(?: Leg="(\w+)")?>([^<]*)</g)].filter(
        (m) => Number(m[1]) >= 300 || (m[2] === 'Destination' && Number(m[1]) >= 200),
      )
      if (finals[0]) done(`${finals[0][1]} ${finals[0][2] ?? ''} ${finals[0][3]}`)
    })
    s.write(`<ClickToCall><Request><Initiator>${initiator}</Initiator><Destination>${destination}</Destination></Request></ClickToCall>`)
  })
}

async function measure(): Promise<void> {
  const bin = arg('bin', path.join(__dirname, '..', '..', 'bin', 'clicktocall'))
  const n = Number(arg('connections', '3000'))
  const procs = Number(arg('procs', String(Math.max(1, Math.ceil(n / 9000)))))
  const watchS = Number(arg('watch', '60'))
  const ulimit = arg('ulimit', '')
  const logger = pino({ level: 'silent' })
  const alice = await createPhone({ name: 'alice', behaviour: 'answer', followRefer: true, logger })
  const bob = await createPhone({ name: 'bob', behaviour: 'answer', logger })
  const [sipPort, xmlPort, httpPort] = [await freePort(), await freePort(), await freePort()]
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-flood-'))
  const conf = path.join(dir, 'c.conf')
  writeFileSync(
    conf,
    `IPAddress = 127.0.0.1\nUDPTCPPort = ${sipPort}\nXmlRpcPort = ${xmlPort}\nHttpPort = ${httpPort}\nLogFilename =\nLogLevel = WARNING\nCdrDatabase =\n` +
      `${arg('conf-extra', '').replace(/\\n/g, '\n')}TranslationPattern = ^(sip:.*)$\nTranslationOutput = $1\n`,
  )
  const args = [bin, '--config', conf]
  const server: ChildProcess = ulimit
    ? spawn('/bin/sh', ['-c', `ulimit -n ${ulimit} && exec "$0" "$@"`, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  server.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const clients: ChildProcess[] = []
  const stop = (): void => {
    for (const c of clients) c.kill('SIGKILL')
    server.kill('SIGKILL')
    void alice.close()
    void bob.close()
  }
  try {
    for (let i = 0; i < 100 && fds(server.pid!) >= 0; i++) {
      if (await new Promise<boolean>((r) => net.connect({ port: xmlPort, host: '127.0.0.1' }, function (this: net.Socket) { this.destroy(); r(true) }).on('error', () => r(false)))) break
      await sleep(100)
    }
    await sleep(300)
    const pid = server.pid!
    const before = { fds: fds(pid), rssKiB: rssKiB(pid) }
    const baselineCall = await xmlCall(xmlPort, alice.uri, bob.uri)
    await alice.hangUp()
    const started = Date.now()
    const states = new Map<number, { open: number; failed: number }>()
    let opened = 0
    for (let i = 0; i < procs; i++) {
      const share = Math.floor(n / procs) + (i < n % procs ? 1 : 0)
      const c = fork(__filename, ['--client', String(sipPort), String(share)], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] })
      clients.push(c)
      c.on('message', (m: { open: number; failed: number; opened?: boolean }) => {
        states.set(i, m)
        if (m.opened) opened++
      })
    }
    for (let i = 0; i < 1200 && opened < procs; i++) await sleep(100)
    const floodMs = Date.now() - started
    await sleep(1000)
    const sum = (): { open: number; failed: number } =>
      [...states.values()].reduce((a, b) => ({ open: a.open + b.open, failed: a.failed + b.failed }), { open: 0, failed: 0 })
    const during = { fds: fds(pid), rssKiB: rssKiB(pid), clientOpen: sum().open, clientRefused: sum().failed }
    const call = await xmlCall(xmlPort, alice.uri, bob.uri)
    await alice.hangUp()
    const page = await httpStatus(httpPort)
    let recoveredMs = -1
    const watchStart = Date.now()
    while (Date.now() - watchStart < watchS * 1000) {
      if (fds(pid) <= before.fds + 4) {
        recoveredMs = Date.now() - started
        break
      }
      await sleep(250)
    }
    await sleep(1000)
    const after = { fds: fds(pid), rssKiB: rssKiB(pid), clientOpen: sum().open }
    const afterCall = await xmlCall(xmlPort, alice.uri, bob.uri)
    await alice.hangUp()
    const warnings = out.split('\n').filter((l) => /"level":(40|50)/.test(l)).map((l) => (JSON.parse(l) as { msg: string }).msg)
    console.log(
      JSON.stringify({
        bin,
        connections: n,
        procs,
        ulimit: ulimit || undefined,
        floodMs,
        before: { ...before, call: baselineCall },
        during: { ...during, call, http: page },
        recoveredMs,
        watchedS: watchS,
        after: { ...after, call: afterCall },
        warnings: [...new Set(warnings)],
      }),
    )
  } finally {
    stop()
  }
}

if (process.argv[2] === '--client') void client(Number(process.argv[3]), Number(process.argv[4]))
else
  measure().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err)
      process.exit(1)
    },
  )
