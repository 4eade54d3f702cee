/**
 * A REST client for tests: curl with Digest, JSON bodies sent from a file
 * (`-d @file`, as scripts do), every answer recorded so that a test can
 * check them all against the OpenAPI document.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { curl } from './http-client'

export interface RestAnswer {
  method: string
  path: string
  status: number
  contentType: string
  headers: string
  body: string
}

export interface RestClient {
  /** every answer so far */
  readonly answers: RestAnswer[]
  request(method: string, target: string, body?: unknown, extra?: string[]): Promise<RestAnswer>
  /** the answer's body as JSON, typed by the caller */
  json<T>(a: RestAnswer): T
}

export function restClient(port: number, credentials?: string, shared?: RestAnswer[]): RestClient {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-rest-'))
  let n = 0
  const answers: RestAnswer[] = shared ?? []
  return {
    answers,
    async request(method, target, body, extra = []) {
      const args = [...(credentials ? ['--digest', '-u', credentials] : []), '-X', method, ...extra]
      if (body !== undefined) {
        const file = path.join(dir, `body-${++n}.json`)
        writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body))
        args.push('-H', 'Content-Type: application/json', '--data-binary', `@${file}`)
      }
      const r = await curl([...args, `http://127.0.0.1:${port}${target}`])
      const contentType = /^Content-Type: (.*)$/im.exec(r.headers)?.[1]?.trim() ?? ''
      const a = { method, path: target.split('?')[0]!, status: r.status, contentType, headers: r.headers, body: r.body }
      answers.push(a)
      return a
    },
    json<T>(a: RestAnswer): T {
      return JSON.parse(a.body) as T
    },
  }
}

export async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, boundMs = 10_000): Promise<T> {
  const t0 = Date.now()
  let v = await get()
  while (!ok(v)) {
    if (Date.now() - t0 > boundMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
    v = await get()
  }
  return v
}
