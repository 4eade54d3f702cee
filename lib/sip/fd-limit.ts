/**
 * The process's limit on open files, and the share of it inbound SIP
 * connections may take, so that a flood of them leaves descriptors for the
 * XML and HTTP ports, outbound SIP, the log and the UDP sockets.
 */
import { readFileSync } from 'node:fs'

/** at most this share of the descriptors goes to inbound SIP connections */
export const INBOUND_FD_SHARE = 0.5

/**
 * The soft limit on open files (`ulimit -n`; Node raises it to the hard limit
 * at start), from /proc/self/limits; undefined where that cannot be read
 * (not Linux) or says "unlimited".
 */
export function openFileLimit(procLimits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(procLimits, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = line ? /^Max open files\s+(\d+)/.exec(line)?.[1] : undefined
    return soft ? Number(soft) : undefined
  } catch {
    return undefined
  }
}

/** The inbound connection cap: the configured one, lowered to a share of the descriptor limit. */
export function inboundCap(configured: number, fdLimit: number | undefined): number {
  if (fdLimit === undefined) return configured
  return Math.max(1, Math.min(configured, Math.floor(fdLimit * INBOUND_FD_SHARE)))
}
