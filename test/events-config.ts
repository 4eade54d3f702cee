/** The event and CDR settings: repeatable URLs, checks at load and at --check-config, defaults. */
import t from 'tap'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseConfig, applyOverrides, defaultConfig } from '../lib/config'
import { checkEventSettings } from '../lib/server'

const BIN = path.join(__dirname, '..', 'bin', 'clicktocall')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctc-evconf-'))
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))

t.test('WebhookUrl and ActionUrl add up over several lines; a later file starts afresh', async (t) => {
  const text = [
    'WebhookUrl = https://crm.example.com/hooks',
    'webhookurl = http://127.0.0.1:8080/x?a=1;b=2#frag',
    'WebhookSecret = s3cret ; with # inside',
    'WebhookEvents = created, ended',
    'ActionUrl = http://crm/ev?event={event}&callId={callId}',
    'CdrDatabase = /var/lib/clicktocall/cdr.sqlite',
    'CdrRetentionDays = 0',
  ].join('\n')
  const { config, warnings } = parseConfig(text, 'f')
  t.same(warnings, [])
  t.same(config.webhookUrls, ['https://crm.example.com/hooks', 'http://127.0.0.1:8080/x?a=1;b=2#frag'])
  t.equal(config.webhookSecret, 's3cret ; with # inside')
  t.same(config.webhookEvents, ['created', 'ended'])
  t.same(config.actionUrls, ['http://crm/ev?event={event}&callId={callId}'])
  t.equal(config.cdrDatabase, '/var/lib/clicktocall/cdr.sqlite')
  t.equal(config.cdrRetentionDays, 0)
  const again = parseConfig('WebhookUrl = http://other/', 'g', config)
  t.same(again.config.webhookUrls, ['http://other/'], 'a re-read file replaces the list, does not append to the old one')
  t.same(applyOverrides(config, [['WebhookUrl', 'http://cli/']]).webhookUrls, ['http://cli/'], 'the command line replaces')
  t.same(parseConfig('WebhookUrl =', 'h').config.webhookUrls, [], 'blank: none')
})

t.test('defaults: no webhooks, CDR on in data/cdr.sqlite for 90 days', async (t) => {
  const d = defaultConfig()
  t.same([d.webhookUrls, d.actionUrls, d.webhookSecret, d.cdrDatabase, d.cdrRetentionDays], [[], [], '', 'data/cdr.sqlite', 90])
  t.same([d.webhookTimeout, d.webhookMaxAttempts, d.webhookQueueSize, d.webhookConcurrency], [5, 10, 10000, 4])
})

t.test('bad values are configuration errors with file:line', async (t) => {
  t.throws(() => parseConfig('\nWebhookUrl = ftp://x/', 'f'), /^f:2: WebhookUrl: "ftp:\/\/x\/" is not an http: or https: URL/)
  t.throws(() => parseConfig('ActionUrl = not a url', 'f'), /f:1: ActionUrl: "not a url" is not a URL/)
  t.throws(() => parseConfig('WebhookQueueSize = 0', 'f'), /f:1: WebhookQueueSize: must be greater than 0/)
  t.throws(() => parseConfig('CdrRetentionDays = -1', 'f'), /f:1: CdrRetentionDays/)
  const c = parseConfig('ActionUrl = http://x/?e={evnt}\nWebhookEvents = created, rang', 'f').config
  t.throws(() => checkEventSettings({ ...c, webhookEvents: [] }), { code: 'CTC_ERR_CONFIG', message: /ActionUrl: unknown placeholder \{evnt\}/ })
  t.throws(() => checkEventSettings({ ...c, actionUrls: [] }), /WebhookEvents: "rang" is not an event type/)
})

t.test('clicktocall --check-config reports a bad placeholder (78)', async (t) => {
  const f = path.join(dir, 'bad.conf')
  fs.writeFileSync(f, 'ActionUrl = http://127.0.0.1/ev?event={event}&who={caller}\n')
  const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile(process.execPath, [BIN, '--check-config', '--config', f], { cwd: dir, timeout: 20_000 }, (err, _o, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr }),
    ),
  )
  t.equal(r.code, 78)
  t.match(r.stderr, /ActionUrl: unknown placeholder \{caller\}/)
})
