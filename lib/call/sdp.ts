/**
 * SDP passing for third-party call control (RFC 3725). The server never
 * touches media: it builds one held offer for the initiator's first INVITE
 * (as the original: c= the server, m=audio 8000 RTP/AVP 0, a=inactive) and
 * relays the phones' own offers and answers, keeping a consistent o= line
 * per leg (RFC 3264 §8: one origin per session, the version going up by one
 * on each change) so that strict phones accept the relayed SDP.
 */
import { randomInt } from 'node:crypto'

function addrType(host: string): 'IP4' | 'IP6' {
  return host.includes(':') ? 'IP6' : 'IP4'
}

/** Keeps the o= line this server presents to one phone. */
export class SdpOrigin {
  private readonly sessId: string
  private version: number

  constructor(private readonly host: string) {
    this.sessId = String(randomInt(1, 2 ** 47))
    this.version = randomInt(1, 2 ** 30)
  }

  private next(): string {
    const line = `o=clicktocall ${this.sessId} ${this.version} IN ${addrType(this.host)} ${this.host}`
    this.version += 1
    return line
  }

  /** The held offer of the initiator's first INVITE. */
  heldOffer(): string {
    const t = addrType(this.host)
    return [
      'v=0',
      this.next(),
      's=clicktocall',
      `c=IN ${t} ${this.host}`,
      't=0 0',
      'm=audio 8000 RTP/AVP 0',
      'a=rtpmap:0 PCMU/8000',
      'a=inactive',
      '',
    ].join('\r\n')
  }

  /** A phone's SDP re-stamped with this leg's origin (everything else unchanged). */
  restamp(sdp: string): string {
    const lines = sdp.split(/\r?\n/)
    let done = false
    const out = lines.map((line) => {
      if (!done && line.startsWith('o=')) {
        done = true
        return this.next()
      }
      return line
    })
    let text = out.join('\r\n')
    if (!text.endsWith('\r\n')) text += '\r\n'
    return text
  }
}

/**
 * An answer that refuses every stream of an offer (RFC 3264 §6: port 0),
 * for the ACK we owe a destination whose offer the initiator did not take.
 */
export function refusingAnswer(offer: string, origin: SdpOrigin): string {
  const lines = offer.split(/\r?\n/).filter((l) => l.length > 0)
  const out: string[] = []
  for (const line of lines) {
    if (line.startsWith('m=')) {
      const parts = line.split(' ')
      parts[1] = '0'
      out.push(parts.join(' '))
    } else if (/^[vostc]=/.test(line)) {
      out.push(line)
    }
  }
  return origin.restamp(out.join('\r\n'))
}

/** RFC 3264 §6.1 media directions. */
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'

const DIRECTION_LINE = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/

/**
 * The direction of the first media stream: its own attribute, else the
 * session-level one, else sendrecv (RFC 3264 §5.1).
 */
export function directionOf(sdp: string): Direction {
  let session: Direction | undefined
  let inMedia = false
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      if (inMedia) break
      inMedia = true
      continue
    }
    const m = DIRECTION_LINE.exec(line)
    if (!m) continue
    if (inMedia) return m[1] as Direction
    session = m[1] as Direction
  }
  return session ?? 'sendrecv'
}

/**
 * The same SDP with every stream set to `direction`: session-level direction
 * lines dropped, each m= section's own replaced or added (RFC 3264 §8.4).
 */
export function withDirection(sdp: string, direction: Direction): string {
  const out: string[] = []
  let inMedia = false
  let written = false
  const close = (): void => {
    if (inMedia && !written) out.push(`a=${direction}`)
  }
  for (const line of sdp.split(/\r?\n/)) {
    if (line.length === 0) continue
    if (line.startsWith('m=')) {
      close()
      inMedia = true
      written = false
      out.push(line)
      continue
    }
    if (DIRECTION_LINE.test(line)) {
      if (inMedia && !written) {
        out.push(`a=${direction}`)
        written = true
      }
      continue
    }
    out.push(line)
  }
  close()
  return out.join('\r\n') + '\r\n'
}

/**
 * The direction that puts the other side on hold (RFC 6337 §5.3): sendrecv
 * becomes sendonly, recvonly becomes inactive; sendonly and inactive stay.
 */
export function holdDirection(current: Direction): Direction {
  if (current === 'sendrecv') return 'sendonly'
  if (current === 'recvonly') return 'inactive'
  return current
}
