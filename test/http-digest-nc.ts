/**
 * Digest nonce counts: each count is taken once per nonce, but counts may
 * arrive out of order (a browser's parallel requests), within 32 of the
 * highest seen.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { DigestAuth } from '../lib/http'

const PW = 'secret'
const auth = new DigestAuth({ realm: 'r', username: 'admin', password: PW, nonceTtlMs: 60_000, algorithms: ['SHA-256'] })
const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

function header(nonce: string, nc: number, uri = '/x'): string {
  const ncHex = nc.toString(16).padStart(8, '0')
  const ha1 = sha(`admin:r:${PW}`)
  const ha2 = sha(`GET:${uri}`)
  const response = sha(`${ha1}:${nonce}:${ncHex}:abc:auth:${ha2}`)
  return `Digest username="admin", realm="r", nonce="${nonce}", uri="${uri}", algorithm=SHA-256, qop=auth, nc=${ncHex}, cnonce="abc", response="${response}"`
}

t.test('counts out of order are taken once each', async (t) => {
  const nonce = auth.newNonce()
  const ok = (nc: number): boolean => auth.verify(header(nonce, nc), 'GET', '/x').ok
  t.ok(ok(3), 'nc 3 first')
  t.ok(ok(1), 'nc 1 after 3 (out of order)')
  t.ok(ok(2), 'nc 2 after 3')
  t.notOk(ok(2), 'nc 2 again: replay')
  t.notOk(ok(3), 'nc 3 again: replay')
  t.ok(ok(40), 'a jump ahead')
  t.ok(ok(39), 'just below the highest')
  t.ok(ok(8), 'the oldest count still in the window (32 below 40)')
  t.notOk(ok(7), 'older than the window: refused')
  t.notOk(ok(39), 'replay below the highest')
  t.notOk(ok(1), 'a count used before the jump stays refused')
  const other = auth.newNonce()
  t.ok(auth.verify(header(other, 1), 'GET', '/x').ok, 'each nonce counts on its own')
})
