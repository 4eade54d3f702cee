/**
 * Request bodies: read up to a size limit (413 past it, the connection is
 * then closed), JSON only (415 otherwise), and a parse error says where.
 */
import type http from 'node:http'
import { jsonErrorOffset } from './json-position'
import { HttpProblem } from './problem'

export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0')
    if (declared > maxBytes) {
      reject(new HttpProblem('too-large', `the body is ${declared} bytes; at most ${maxBytes} (HttpMaxBodySize)`, { limit: maxBytes }))
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    const onData = (d: Buffer): void => {
      size += d.length
      if (size > maxBytes) {
        req.off('data', onData)
        req.pause()
        reject(new HttpProblem('too-large', `the body is more than ${maxBytes} bytes (HttpMaxBodySize)`, { limit: maxBytes }))
        return
      }
      chunks.push(d)
    }
    req.on('data', onData)
    req.once('end', () => resolve(Buffer.concat(chunks)))
    req.once('error', (err) => reject(new HttpProblem('bad-request', `reading the body failed: ${err.message}`)))
  })
}

/** the body as a JSON object; an empty body is `{}` */
export async function readJsonObject(req: http.IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const hasBody = Number(req.headers['content-length'] ?? '0') > 0 || req.headers['transfer-encoding'] !== undefined
  if (!hasBody) return {}
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]*\+json$/.test(type)) {
    throw new HttpProblem('unsupported-media-type', `Content-Type is ${type || 'missing'}; send application/json`, {}, { Accept: 'application/json' })
  }
  const buf = await readBody(req, maxBytes)
  const text = buf.toString('utf8')
  if (text.trim() === '') return {}
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    const at = jsonErrorOffset(text)
    const where = at >= 0 ? lineColumn(text, at) : undefined
    const msg = where ? `at line ${where.line}, column ${where.column}` : (err as Error).message
    throw new HttpProblem('invalid-body', `the body is not JSON: ${msg}`, where ? { position: at, line: where.line, column: where.column } : {})
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpProblem('invalid-body', 'the body must be a JSON object', { pointer: '' })
  }
  return value as Record<string, unknown>
}

function lineColumn(text: string, at: number): { line: number; column: number } {
  const before = text.slice(0, at)
  const line = before.split('\n').length
  return { line, column: at - before.lastIndexOf('\n') }
}
