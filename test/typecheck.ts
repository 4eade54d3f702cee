/**
 * The tests are type-checked: `npm test` runs `tsc -p tsconfig.test.json` (noEmit,
 * strict, test/ included) before tap, and no test file escapes the checker with `any`.
 */
import t from 'tap'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

const ROOT = path.join(__dirname, '..')

function tsFiles(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name)
    if (statSync(p).isDirectory()) out.push(...tsFiles(p))
    else if (name.endsWith('.ts')) out.push(p)
  }
  return out
}

t.test('npm test type-checks test/ before running it', async (t) => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  t.match(pkg.scripts.pretest, /npm run build/, 'pretest builds')
  t.match(pkg.scripts.pretest, /npm run typecheck/, 'pretest type-checks')
  t.equal(pkg.scripts.typecheck, 'tsc -p tsconfig.test.json')
  const cfg = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.test.json'), 'utf8')) as { extends: string; compilerOptions: { noEmit?: boolean }; include: string[] }
  t.equal(cfg.extends, './tsconfig.json')
  t.equal(cfg.compilerOptions.noEmit, true)
  t.ok(cfg.include.includes('test/**/*.ts'), 'test/ is included')
})

t.test('no `any` in the tests', async (t) => {
  // this file is left out: its patterns would find themselves
  const files = tsFiles(path.join(ROOT, 'test')).filter((f) => f !== __filename)
  t.ok(files.length > 10, `${files.length} test files scanned`)
  const offenders: string[] = []
  for (const f of files) {
    readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '')
      if (/(:\s*any\b|\bas\s+any\b|<any>|\bany\[\])/.test(code) || /@ts-(ignore|nocheck)/.test(line)) offenders.push(`${path.relative(ROOT, f)}:${i + 1}: ${line.trim()}`)
    })
  }
  t.same(offenders, [], 'typed helpers and tests (use `Test` from tap for a test handle)')
})
