/** The original's config format, read without loss; defaults; clear errors with file:line. */
import t from 'tap'
import { writeFileSync, mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseConfig, loadConfig, defaultConfig, applyOverrides } from '../lib/config'
import { ConfigError } from '../lib/errors'

const ORIGINAL_SAMPLE = [
  '########################################################',
  '# SIP settings',
  '########################################################',
  '',
  '# Local IP Address to bind SIP transports to.',
  'IPAddress = ',
  'DNSServers =',
  'ClickToCallIdentity = sip:click2call@sipdomain.com',
  'UDPTCPPort = 5072',
  'TLSPort = 5073',
  'TLSDomainName =',
  'KeepAlives = enable',
  'OutboundProxy =',
  'LogLevel = INFO',
  'LogFilename = clicktocall.log',
  'LogFileMaxLines = 50000',
  'XmlRpcPort = 5094',
  'HttpPort = 5090',
  'HttpAuth = enable',
  'HttpAuthPwd = admin',
  '',
  'TranslationPattern=^(.*)$',
  'TranslationOutput=sip:$1@sipdomain.com',
].join('\r\n')

t.test('the original\'s sample file loads unchanged (CRLF line ends)', async (t) => {
  const { config, warnings } = parseConfig(ORIGINAL_SAMPLE, 'clicktocall.config')
  t.same(warnings, [])
  t.equal(config.ipAddress, '')
  t.equal(config.clickToCallIdentity, 'sip:click2call@sipdomain.com')
  t.equal(config.httpPort, 5090)
  t.equal(config.httpAuth, true)
  t.equal(config.keepAlives, true)
  t.equal(config.logFilename, 'clicktocall.log')
  t.same(config.translationRules.map((r) => [r.pattern, r.output, r.line]), [['^(.*)$', 'sip:$1@sipdomain.com', 22]])
})

t.test('values keep ; and # and every other character (the ini traps)', async (t) => {
  const text = [
    'TranslationPattern = ^\\*(\\d+)#$',
    'TranslationOutput = sip:$1@gw;user=phone',
    '  # an indented comment',
    'translationpattern=^(\\d{4})$',
    'TRANSLATIONOUTPUT=sip:$1@pbx.example.com;transport=tcp',
    'TranslationPattern = ^(.*)$',
    'TranslationOutput = "sip:$1@quoted"  ',
    'HttpAuthPwd = p#ss;word=1',
  ].join('\n')
  const { config } = parseConfig(text, 'f')
  t.same(config.translationRules.map((r) => [r.pattern, r.output]), [
    ['^\\*(\\d+)#$', 'sip:$1@gw;user=phone'],
    ['^(\\d{4})$', 'sip:$1@pbx.example.com;transport=tcp'],
    ['^(.*)$', '"sip:$1@quoted"'],
  ])
  t.equal(config.httpAuthPwd, 'p#ss;word=1')
})

t.test('defaults are the original code\'s', async (t) => {
  const d = defaultConfig()
  t.same(
    [d.udpTcpPort, d.tlsPort, d.keepAlives, d.logLevel, d.logFilename, d.logFileMaxLines, d.xmlRpcPort, d.httpPort, d.httpAuth, d.httpAuthPwd],
    [5072, 5073, true, 'INFO', 'clicktocall.log', 50000, 5094, 5095, false, 'admin'],
  )
  t.equal(d.tlsDomain, os.hostname())
  t.equal(d.xmlRpcBindAddress, '127.0.0.1', 'safer than the original: loopback')
  t.same(d.xmlRpcAllow, ['127.0.0.0/8', '::1/128'])
})

t.test('TLSDomainName (the sample) and TLSDomain (the code) both work; names are case-insensitive', async (t) => {
  t.equal(parseConfig('TLSDomainName = a.example', 'f').config.tlsDomain, 'a.example')
  t.equal(parseConfig('tlsdomain = b.example', 'f').config.tlsDomain, 'b.example')
  t.equal(parseConfig('XMLRPCPORT=0', 'f').config.xmlRpcPort, 0)
  t.same(parseConfig('KeepAlives = off', 'f').config.keepAlives, false)
  t.same(['XmlRpcThreadNice = -5', 'XmlRpcThreadNice = +19', 'XmlRpcThreadNice ='].map((l) => parseConfig(l, 'f').config.xmlRpcThreadNice), [-5, 19, null], 'a nice value, or blank')
  t.same(parseConfig('InitiatorHeader = Call-Info: <sip:x>;answer-after=0', 'f').config.initiatorHeaders, [{ name: 'Call-Info', value: '<sip:x>;answer-after=0' }])
})

t.test('unknown settings and a pattern without output are warnings with file:line', async (t) => {
  const { warnings, config } = parseConfig('Foo = 1\nTranslationPattern = ^x$\n', 'my.conf')
  t.same(warnings.map((w) => `${w.file}:${w.line}`), ['my.conf:1', 'my.conf:2'])
  t.match(warnings[0]!.message, /unknown setting "Foo"/)
  t.equal(config.translationRules[0]!.output, '')
})

t.test('bad values stop with file:line: what is wrong', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['UDPTCPPort = 70000', /^c\.conf:1: UDPTCPPort: port 70000 is out of range/],
    ['XmlRpcPort = abc', /^c\.conf:1: XmlRpcPort: "abc" is not a port number/],
    ['ClickToCallIdentity = click2call', /^c\.conf:1: ClickToCallIdentity: "click2call" is not a SIP URI/],
    ['KeepAlives = maybe', /^c\.conf:1: KeepAlives: "maybe" is not a boolean/],
    ['XmlRpcThreadNice = 20', /^c\.conf:1: XmlRpcThreadNice: nice 20 is out of range \(-20\.\.19\)/],
    ['XmlRpcThreadNice = -21', /^c\.conf:1: XmlRpcThreadNice: nice -21 is out of range/],
    ['XmlRpcThreadNice = high', /^c\.conf:1: XmlRpcThreadNice: "high" is not a nice value/],
    ['TranslationOutput = sip:$1@x', /^c\.conf:1: TranslationOutput without a TranslationPattern/],
    ['# c\nHttpPort', /^c\.conf:2: "HttpPort" has no "="/],
    ['XmlRpcAllow = 10.0.0.0/33', /^c\.conf:1: XmlRpcAllow: .*prefix length/],
    ['LogLevel = LOUD', /^c\.conf:1: LogLevel: "LOUD" is not a log level/],
  ]
  for (const [text, re] of bad) {
    t.throws(() => parseConfig(text, 'c.conf'), re, text)
  }
  t.throws(() => parseConfig('UDPTCPPort = -1', 'c.conf'), ConfigError)
})

t.test('loadConfig reads a file; a missing file is its own error; overrides as the original\'s -name value', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ctc-conf-'))
  const file = path.join(dir, 'clicktocall.config')
  writeFileSync(file, 'XmlRpcPort = 6000\nLogLevel = DEBUG\n')
  const { config } = loadConfig(file)
  t.equal(config.file, file)
  t.equal(config.xmlRpcPort, 6000)
  t.throws(() => loadConfig(path.join(dir, 'missing')), { code: 'CTC_ERR_CONFIG_MISSING' })
  const o = applyOverrides(config, [['xmlrpcport', '0'], ['LogLevel', 'ERR']])
  t.same([o.xmlRpcPort, o.logLevel], [0, 'ERR'])
  t.throws(() => applyOverrides(config, [['nosuch', '1']]), /unknown setting "nosuch"/)
})
