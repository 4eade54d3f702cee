/** Logging: the original's level names, file output with .old rotation, redaction. */
import t from 'tap'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
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
  const current = readFileSync(file, 'utf8').trim().split('\n')
  t.equal(current.length, 1, 'rotated: one line in the new file')
  t.ok(existsSync(`${file}.old`))
  const old = readFileSync(`${file}.old`, 'utf8')
  t.equal(old.trim().split('\n').length, 3)
  t.notMatch(old, /hunter2|Digest secret|x1/)
  t.match(old, /\[redacted\]/)
  t.notMatch(old, /not written/)
})
