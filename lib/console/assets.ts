/**
 * The console's static files: the page and its style sheet from web/console,
 * the script compiled by `npm run build` (tsconfig.console.json) into
 * dist/web/console. Read once, kept in memory with a strong ETag; a file
 * missing at start (script not built yet) is looked for again on request.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

export interface Asset {
  body: Buffer
  type: string
  etag: string
}

/** URL path under /console/ -> where the file is, from the package root */
const FILES: Record<string, { file: string; type: string }> = {
  '/console/': { file: 'web/console/index.html', type: 'text/html; charset=utf-8' },
  '/console/console.css': { file: 'web/console/console.css', type: 'text/css; charset=utf-8' },
  '/console/console.js': { file: 'dist/web/console/console.js', type: 'text/javascript; charset=utf-8' },
}

/** the package root: the nearest folder above this file with web/console in it */
export function packageRoot(from = __dirname): string {
  let dir = from
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'web', 'console', 'index.html'))) return dir
    const up = path.dirname(dir)
    if (up === dir) break
    dir = up
  }
  return path.resolve(from, '..', '..')
}

export class Assets {
  private readonly cache = new Map<string, Asset>()

  constructor(private readonly root = packageRoot()) {}

  /** true when the path names one of the console's files */
  has(urlPath: string): boolean {
    return Object.hasOwn(FILES, urlPath)
  }

  /** the file, or undefined when it is not on disk (e.g. the script was not built) */
  get(urlPath: string): Asset | undefined {
    const known = this.cache.get(urlPath)
    if (known) return known
    const spec = FILES[urlPath]
    if (!spec) return undefined
    let body: Buffer
    try {
      body = fs.readFileSync(path.join(this.root, spec.file))
    } catch {
      return undefined
    }
    const asset = { body, type: spec.type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }
    this.cache.set(urlPath, asset)
    return asset
  }

  /** where a file is expected, for the error that says it is missing */
  where(urlPath: string): string {
    const spec = FILES[urlPath]
    return spec ? path.join(this.root, spec.file) : ''
  }
}
