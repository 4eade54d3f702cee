/** Logging: the original's level names, file output with .old rotation, redaction. */
import t from 'tap'
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { createLogger, pinoLevel } from '../lib/log'

t.test('level names', async (t) => {
  t.same(['NONE', 'CRIT', 'ERR', 'WARNING', 'INFO', 'DEBUG', 'STACK'].map(pinoLevel), ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'])
  t.equal(pinoLevel('debug'), 'debug')
  t.throws(() => pinoLevel('LOUD'))
})

t.test('file output, rotation after LogFileMaxLines, secrets redacted', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-log-'))
  const file = path.join(dir, 'clicktocall.log')
  const log = createLogger({ level: 'INFO', file, maxLines: 3 })
  log.info({ httpAuthPwd: 'hunter2', headers: { authorization: 'Digest secret' }, config: { sipAuthPassword: 'x1' } }, 'one')
  log.debug('not written at INFO')
  log.info('two')
  log.info('three')
  log.info('four')
  log.flush()
  const current = readFileSync(file, 'utf8').trim().split('\n')
  t.equal(current.length, 1, 'rotated: one line in the new file')
  t.ok(existsSync(`${file}.old`))
  const old = readFileSync(`${file}.old`, 'utf8')
  t.equal(old.trim().split('\n').length, 3)
  t.notMatch(old, /hunter2|Digest secret|x1/)
  t.match(old, /\[redacted\]/)
  t.notMatch(old, /not written/)
})

t.test('lines are written in batches: at the end of the loop turn, at once for an error, and at exit', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-log-'))
  const file = path.join(dir, 'clicktocall.log')
  const log = createLogger({ level: 'INFO', file })
  const lines = (): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean)
  log.info('one')
  log.info('two')
  t.equal(lines().length, 0, 'gathered, not yet written')
  await new Promise((r) => setImmediate(r))
  await new Promise((r) => setImmediate(r))
  t.same(lines().map((l) => JSON.parse(l).msg), ['one', 'two'], 'written after the loop turn, in order')
  log.info('three')
  log.error('bad')
  t.same(lines().map((l) => JSON.parse(l).msg), ['one', 'two', 'three', 'bad'], 'an error line is written at once with what was pending')

  // a process that logs and then dies at once: the exit hook writes the lines
  const child = path.join(dir, 'child.js')
  const lib = path.join(__dirname, '..', 'dist', 'lib', 'log', 'index.js')
  const exitFile = path.join(dir, 'exit.log')
  const throwFile = path.join(dir, 'throw.log')
  writeFileSync(
    child,
    `const { createLogger } = require(${JSON.stringify(lib)})\n` +
      `const log = createLogger({ level: 'INFO', file: process.argv[2] })\n` +
      `for (let i = 0; i < 5; i++) log.info({ i }, 'line')\n` +
      `if (process.argv[3] === 'throw') setTimeout(() => { log.info('last'); throw new Error('boom') }, 1)\n` +
      `else process.exit(3)\n`,
  )
  const exit = spawnSync(process.execPath, [child, exitFile], { timeout: 10000 })
  t.equal(exit.status, 3)
  t.equal(readFileSync(exitFile, 'utf8').split('\n').filter(Boolean).length, 5, 'process.exit(): every line written')
  const thrown = spawnSync(process.execPath, [child, throwFile, 'throw'], { timeout: 10000 })
  t.not(thrown.status, 0)
  t.same(readFileSync(throwFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).msg).slice(-1), ['last'], 'an uncaught exception: every line written')
})
