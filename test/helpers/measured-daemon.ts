/**
 * The real daemon in a child process (its own descriptors, its own limits),
 * for attacks measured from outside: start with a config text, read its
 * ports from the "ready" log line, sample its descriptors and RSS.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Teardown } from './raw-sip'

const BIN = path.join(__dirname, '..', '..', 'bin', 'clicktocall')

export interface Daemon {
  child: ChildProcess
  pid: number
  sipPort: number
  xmlPort: number
  httpPort: number
  /** everything it wrote so far */
  out(): string
  /** parsed JSON log lines so far */
  lines(): Array<Record<string, unknown>>
  /** open descriptors now */
  fds(): number
  /** resident set size now, KiB */
  rssKiB(): number
}

/**
 * Start the daemon on `conf` (its ports 0 = ephemeral). `ulimit`: an open
 * files limit set (soft and hard) before it starts.
 */
export async function startDaemon(t: Teardown, conf: string, options: { ulimit?: number } = {}): Promise<Daemon> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-daemon-'))
  const file = path.join(dir, 'clicktocall.conf')
  writeFileSync(file, conf)
  const args = [BIN, '--config', file]
  const child = options.ulimit
    ? spawn('/bin/sh', ['-c', `ulimit -n ${options.ulimit} && exec "$0" "$@"`, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const lines = (): Array<Record<string, unknown>> =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>
        } catch {
          return {}
        }
      })
  for (let i = 0; i < 200 && !/"msg":"ready"/.test(out) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100))
  const ready = lines().find((l) => l.msg === 'ready')
  if (!ready) throw new Error(`the daemon did not start: ${out}`)
  const pid = child.pid!
  return {
    child,
    pid,
    sipPort: Number(ready.sipPort),
    xmlPort: Number(ready.xmlRpcPort ?? 0),
    httpPort: Number(ready.httpPort ?? 0),
    out: () => out,
    lines,
    fds: () => readdirSync(`/proc/${pid}/fd`).length,
    rssKiB: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0),
  }
}
