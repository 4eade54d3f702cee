/** Small HTTP clients for tests: curl (a real client, run asynchronously) and node's http with chosen headers. */
import { execFile } from 'node:child_process'
import http from 'node:http'

export interface CurlResult {
  status: number
  headers: string
  body: string
}

/** curl -i; with --digest curl prints the 401 and then the final response: the last is returned */
export async function curl(args: string[]): Promise<CurlResult> {
  const out = await new Promise<string>((resolve, reject) =>
    execFile('curl', ['-s', '-S', '-i', '--max-time', '10', ...args], { encoding: 'utf8' }, (err, stdout) => (err && !stdout ? reject(err) : resolve(stdout))),
  )
  const parts = out.split(/\r\n\r\n(?=HTTP\/)/)
  const last = parts[parts.length - 1]!
  const sep = last.indexOf('\r\n\r\n')
  const headers = sep < 0 ? last : last.slice(0, sep)
  const body = sep < 0 ? '' : last.slice(sep + 4)
  return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(headers)?.[1] ?? 0), headers, body }
}

export interface NodeResult {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

export function request(
  port: number,
  target: string,
  o: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {},
): Promise<NodeResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: target, method: o.method ?? 'GET', headers: o.headers ?? {}, agent: false, ...(o.localAddress ? { localAddress: o.localAddress } : {}) },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.setTimeout(5000, () => req.destroy(new Error('timeout')))
    req.end(o.body)
  })
}
