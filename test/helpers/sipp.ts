/**
 * Run a sipp phone for a test: bound to 127.0.0.1 on a free port, one call
 * (-m 1) unless told otherwise, bounded by -timeout with -timeout_error,
 * its own -mp media port, messages traced to a file; the caller kills it on
 * teardown (kill() is safe to call twice). Importing or running this file
 * does nothing by itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import dgram from 'node:dgram'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export function sippAvailable(): boolean {
  const r = spawnSync('sipp', ['-v'], { encoding: 'utf8' })
  return r.error === undefined && /SIPp/.test(`${r.stdout}${r.stderr}`)
}

async function freeUdpPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = 20000 + Math.floor(Math.random() * 20000) * 2 % 20000
    const ok = await Promise.all([port, port + 1, port + 2, port + 3].map(canBind))
    if (ok.every(Boolean)) return port
  }
  throw new Error('no free UDP port found')
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4')
    s.once('error', () => resolve(false))
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

export interface SippProcess {
  port: number
  mediaPort: number
  messageLog: string
  /** sipp's message trace so far ('' before the first message) */
  messages(): string
  /** sip:user@127.0.0.1:port */
  uri(user: string): string
  exit: Promise<{ code: number | null; stderr: string }>
  kill(): void
}

export interface SippOptions {
  scenario: string
  args?: string[]
  /** global -timeout in seconds (sipp fails after it) */
  timeoutSeconds?: number
  /** remote host:port for UAC scenarios */
  remote?: string
  /** number of calls (-m); default 1 */
  calls?: number
  /** local UDP port; default: a free one (its +2 is the media port) */
  port?: number
}

/** each phone's folder (its message trace), removed when the test process exits: thousands were left per CI run */
const folders = new Set<string>()
let cleanupHooked = false

function folderForPhone(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-sipp-'))
  folders.add(dir)
  if (!cleanupHooked) {
    cleanupHooked = true
    process.once('exit', () => {
      for (const d of folders) rmSync(d, { recursive: true, force: true })
    })
  }
  return dir
}

export async function startSipp(o: SippOptions): Promise<SippProcess> {
  const dir = folderForPhone()
  const messageLog = path.join(dir, 'messages.log')
  let lastErr: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = o.port ?? (await freeUdpPort())
    const mediaPort = port + 2
    const args = [
      '-sf', o.scenario,
      '-i', '127.0.0.1',
      '-p', String(port),
      '-mp', String(mediaPort),
      '-m', String(o.calls ?? 1),
      '-timeout', `${o.timeoutSeconds ?? 30}s`,
      '-timeout_error',
      '-nostdin',
      '-trace_msg', '-message_file', messageLog,
      ...(o.args ?? []),
      ...(o.remote ? [o.remote] : []),
    ]
    const child: ChildProcess = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => {
      child.on('exit', (code) => resolve({ code, stderr }))
      child.on('error', () => resolve({ code: -1, stderr }))
    })
    // a bind failure shows at once (exit 254); otherwise the phone is up
    const early = await Promise.race([exit, new Promise<undefined>((r) => setTimeout(() => r(undefined), 300))])
    if (early) {
      lastErr = new Error(`sipp exited at start (${early.code}): ${early.stderr}`)
      continue
    }
    return {
      port,
      mediaPort,
      messageLog,
      messages: () => (existsSync(messageLog) ? readFileSync(messageLog, 'utf8') : ''),
      uri: (user) => `sip:${user}@127.0.0.1:${port}`,
      exit,
      kill: () => {
        if (child.exitCode === null) child.kill('SIGKILL')
      },
    }
  }
  throw lastErr
}
