/** The package version, read once from package.json (works from lib/ and dist/lib/). */
import { readFileSync } from 'node:fs'
import path from 'node:path'

function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(__dirname, rel), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'clicktocall' && pkg.version) return pkg.version
    } catch {
      // try the next place
    }
  }
  return '0.0.0'
}

export const version: string = readVersion()
