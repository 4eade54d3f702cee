/**
 * XmlRpcThreadNice: the XML thread's own scheduling priority (issue 16).
 * When every core is busy, a request's 100 waits for the thread to get a
 * core (docs/benchmarks.md, sixth stop: the thread waited about as long as
 * it ran); a lower nice value lets the kernel run it first. Linux keeps a
 * nice value per thread: setpriority(2) on the thread's own id changes
 * that thread alone. A value below the one the process started with needs
 * CAP_SYS_NICE (or RLIMIT_NICE); without it the thread keeps its value and
 * the caller is told why.
 */
import { readlinkSync } from 'node:fs'
import os from 'node:os'

/** the kernel's id of the calling thread (Linux), from /proc/thread-self -> "<pid>/task/<tid>" */
export function currentThreadId(): number | undefined {
  try {
    const m = /\/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

export type NiceOutcome =
  | { ok: true; nice: number; changed: boolean }
  | { ok: false; nice: number | undefined; wanted: number; reason: string }

/** One thread's nice value, set and reset by the setting (null = the value the thread started with). */
export class ThreadNice {
  /** the value the thread started with: what a blank setting goes back to */
  readonly initial: number | undefined

  constructor(private readonly tid: number | undefined = currentThreadId()) {
    this.initial = tid === undefined ? undefined : niceOf(tid)
  }

  /** the thread's nice value now (undefined: not Linux) */
  get current(): number | undefined {
    return this.tid === undefined ? undefined : niceOf(this.tid)
  }

  apply(wanted: number | null): NiceOutcome | undefined {
    const target = wanted ?? this.initial
    if (this.tid === undefined || target === undefined) {
      return wanted === null ? undefined : { ok: false, nice: undefined, wanted, reason: 'a priority of the thread\'s own needs Linux (/proc/thread-self)' }
    }
    const before = niceOf(this.tid)
    if (before === target) return { ok: true, nice: target, changed: false }
    try {
      os.setPriority(this.tid, target)
    } catch (err) {
      // a SystemError: the errno's name is in .info.code (.code is ERR_SYSTEM_ERROR)
      const e = err as Error & { info?: { code?: string }; code?: string }
      const code = e.info?.code ?? e.code ?? e.message
      const reason = code === 'EACCES' || code === 'EPERM' ? `${code}: a nice value below the process's needs CAP_SYS_NICE` : code
      return { ok: false, nice: before, wanted: target, reason }
    }
    return { ok: true, nice: niceOf(this.tid) ?? target, changed: true }
  }
}

function niceOf(tid: number): number | undefined {
  try {
    return os.getPriority(tid)
  } catch {
    return undefined
  }
}
