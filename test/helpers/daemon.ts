/** A spawned `clicktocall` daemon on a config file, with its log captured; every wait bounded. */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'

const BIN = path.join(__dirname, '..', '..', 'bin', 'clicktocall')

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => resolve(p))
    })
  })
}

export interface Daemon {
  child: ChildProcess
  /** everything written to stdout and stderr so far */
  out(): string
  exit: Promise<number | null>
  /** wait until the output matches `re` (counting matches after `from` chars), or throw after `ms` */
  waitFor(re: RegExp, ms?: number, from?: number): Promise<void>
  /** SIGHUP, then wait for the reload's log line (reloaded or not); returns the output it added */
  reload(ms?: number): Promise<string>
  stop(): Promise<number | null>
}

export async function startDaemon(teardown: (fn: () => void) => void, conf: string): Promise<Daemon> {
  const child = spawn(process.execPath, [BIN, '--config', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
  teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
  const waitFor = async (re: RegExp, ms = 10_000, from = 0): Promise<void> => {
    const deadline = Date.now() + ms
    while (!re.test(out.slice(from))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}: ${out.slice(from, from + 2000)}`)
      if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}: ${out.slice(-2000)}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  await waitFor(/"msg":"ready"/, 15_000)
  return {
    child,
    out: () => out,
    exit,
    waitFor,
    async reload(ms = 10_000) {
      const from = out.length
      child.kill('SIGHUP')
      await waitFor(/configuration (?:not )?reloaded/, ms, from)
      return out.slice(from)
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
      return exit
    },
  }
}
