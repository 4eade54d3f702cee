/**
 * The entry file of a worker thread (the CDR writer, the XML thread). Run
 * compiled, it is the .js beside the caller. Run from the sources (tests),
 * it is the compiled one in dist/ when that is as new as every source under
 * lib/ (it starts without the TypeScript loader), else the .ts itself (the
 * worker inherits the loader, and compiles its imports on start).
 */
import fs from 'node:fs'
import path from 'node:path'

const LIB = __dirname

function newestSource(dir: string): number {
  let m = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    m = Math.max(m, e.isDirectory() ? newestSource(p) : e.name.endsWith('.ts') ? fs.statSync(p).mtimeMs : 0)
  }
  return m
}

/** `dir` and `ext`: the caller's __dirname and extname(__filename); `name` without extension */
export function workerEntry(dir: string, name: string, ext: string): { file: string; execArgv?: string[] } {
  const own = path.join(dir, `${name}${ext}`)
  if (ext !== '.ts') return { file: own }
  const compiled = path.join(LIB, '..', 'dist', 'lib', path.relative(LIB, dir), `${name}.js`)
  try {
    if (newestSource(LIB) <= fs.statSync(compiled).mtimeMs) return { file: compiled, execArgv: [] }
  } catch {
    // not built: the sources
  }
  return { file: own }
}
