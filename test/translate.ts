/** Translation rules: the original's semantics on RE2. */
import t from 'tap'
import { compileRules } from '../lib/translate'
import type { TranslationRule } from '../lib/config'

const rule = (pattern: string, output: string, line = 1): TranslationRule => ({ pattern, output, file: 't.conf', line })

t.test('the original\'s example', async (t) => {
  const tr = compileRules([rule('^(.*)$', 'sip:$1@sipdomain.com')])
  t.equal(tr.translate('9055551234')?.output, 'sip:9055551234@sipdomain.com')
})

t.test('first matching rule wins, in file order; no match is refused', async (t) => {
  const tr = compileRules([rule('^sip:(.*)$', 'sip:$1', 1), rule('^\\*(\\d+)#$', 'sip:$1@gw;user=phone', 2), rule('^(\\d{4})$', 'sip:$1@pbx', 3)])
  t.equal(tr.translate('sip:bob@example.com')?.output, 'sip:bob@example.com')
  t.equal(tr.translate('*123#')?.output, 'sip:123@gw;user=phone')
  t.equal(tr.translate('*123#')?.rule.line, 2)
  t.equal(tr.translate('1234')?.output, 'sip:1234@pbx')
  t.equal(tr.translate('12345'), undefined)
})

t.test('unanchored search, as PCRE regexec did', async (t) => {
  const tr = compileRules([rule('(\\d+)', 'sip:$1@gw')])
  t.equal(tr.translate('tel:+49-30-1234')?.output, 'sip:49@gw', 'found anywhere; first group')
})

t.test('$1..$9 only; $0, $$, $& stay literal; $10 is group 1 then 0; a group that took no part is empty', async (t) => {
  const tr = compileRules([rule('^(a)(b)?(c)?$', '[$1][$2][$3] $0 $$ $& $10 $9')])
  t.equal(tr.translate('a')?.output, '[a][][] $0 $$ $& a0 ')
  t.equal(tr.translate('abc')?.output, '[a][b][c] $0 $$ $& a0 ')
})

t.test('patterns RE2 refuses are config errors with file:line and the reason', async (t) => {
  t.throws(() => compileRules([rule('^(a)\\1$', 'x', 7)]), /^t\.conf:7: TranslationPattern "\^\(a\)\\1\$" is not accepted by RE2: /)
  t.throws(() => compileRules([rule('^(?=a)', 'x', 8)]), /^t\.conf:8: /)
})

t.test('a pathological pattern stays fast (RE2 is linear)', async (t) => {
  const tr = compileRules([rule('^(a+)+$', 'x')])
  const start = process.hrtime.bigint()
  t.equal(tr.translate(`${'a'.repeat(5000)}!`), undefined)
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  t.ok(ms < 500, `took ${ms.toFixed(2)} ms`)
})

t.test('throughput', async (t) => {
  const tr = compileRules([rule('^sip:(.*)$', 'sip:$1'), rule('^(\\d+)$', 'sip:$1@gw.example.com')])
  const rates: number[] = []
  for (let run = 0; run < 3; run++) {
    const n = 20000
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) tr.translate(String(9055550000 + i))
    rates.push(n / (Number(process.hrtime.bigint() - start) / 1e9))
  }
  rates.sort((a, b) => a - b)
  t.ok(rates[1]! > 1000, `median ${Math.round(rates[1]!)} translations/s`)
})
