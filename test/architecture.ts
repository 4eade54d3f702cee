/**
 * The shape of lib/, checked: no import cycles among lib's files (type-only
 * imports included), and a folder is entered from outside
 * only through its index.ts.
 */
import tap from 'tap'
import fs from 'node:fs'
import path from 'node:path'

const t = tap
const LIB = path.join(__dirname, '..', 'lib')

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name)
    if (d.isDirectory()) return files(p)
    return d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [p] : []
  })
}

function resolveImport(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined
  const base = path.resolve(path.dirname(from), spec)
  for (const c of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(c)) return c
  return undefined
}

// type-only imports count too: a ring of types is still two files that cannot be read one without the other
const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'|import\('([^']+)'\)/gm

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(IMPORT)) {
    const target = resolveImport(file, m[1] ?? m[2] ?? m[3]!)
    if (target) out.push(target)
  }
  return out
}

const all = files(LIB)
const graph = new Map(all.map((f) => [f, importsOf(f)]))
const rel = (f: string): string => path.relative(LIB, f)

t.test('no import cycles in lib/ (type-only imports included)', async (t) => {
  const cycles: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (f: string): void => {
    state.set(f, 'open')
    stack.push(f)
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 'open') cycles.push([...stack.slice(stack.indexOf(g)), g].map(rel).join(' -> '))
      else if (!state.has(g)) visit(g)
    }
    stack.pop()
    state.set(f, 'done')
  }
  for (const f of all) if (!state.has(f)) visit(f)
  t.same(cycles, [], 'import rings')
})

t.test("a folder's door is its index.ts", async (t) => {
  const bad: string[] = []
  for (const [f, deps] of graph) {
    for (const d of deps) {
      const fromDir = path.dirname(f)
      const toDir = path.dirname(d)
      if (toDir === fromDir || toDir === LIB) continue
      if (path.basename(d) !== 'index.ts') bad.push(`${rel(f)} -> ${rel(d)}`)
    }
  }
  t.same(bad, [], 'imports into another folder that bypass its index.ts')
})
