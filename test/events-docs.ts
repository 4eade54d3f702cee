/**
 * docs/events.md and docs/cdr.md hold what the code does: the webhook body's
 * shape, the signature snippets (run in Node, Python and the shell against a
 * real signature), the action URL names, the CDR columns.
 */
import t from 'tap'
import { execFile, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { signatureValue, webhookPayload, auerswaldEvent } from '../lib/events'
import { COLUMNS } from '../lib/store'
import type { CallEvent } from '../lib/call'
import { ScriptedCalls } from './helpers/scripted-calls'

const DOCS = path.join(__dirname, '..', 'docs')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctc-evdocs-'))
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))

function example(file: string, name: string): string {
  const text = fs.readFileSync(path.join(DOCS, file), 'utf8')
  const at = text.indexOf(`<!-- example: ${name} -->`)
  if (at < 0) throw new Error(`${file}: no example ${name}`)
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(text.slice(at))
  if (!m) throw new Error(`${file}: example ${name} has no code block`)
  return m[1]!
}

function table(file: string, name: string): string[][] {
  const text = fs.readFileSync(path.join(DOCS, file), 'utf8')
  const at = text.indexOf(`<!-- example: ${name} -->`)
  if (at < 0) throw new Error(`${file}: no table ${name}`)
  const rows: string[][] = []
  for (const line of text.slice(at).split('\n').slice(1)) {
    if (!line.startsWith('|')) {
      if (rows.length) break
      continue
    }
    rows.push(line.split('|').slice(1, -1).map((c) => c.trim()))
  }
  return rows.slice(2)
}

/** every key path of a JSON value, e.g. legs.initiator.code */
function shape(v: unknown, prefix = ''): string[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [prefix]
  return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => shape(x, prefix ? `${prefix}.${k}` : k))
}

function sh(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: dir, timeout: 20_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

const has = (cmd: string, arg: string): boolean => spawnSync(cmd, [arg], { encoding: 'utf8' }).error === undefined

/** a real `ended` webhook body and its signature */
function realBody(): { body: string; header: string; t: number; v1: string; ended: CallEvent } {
  const calls = new ScriptedCalls()
  let ended: CallEvent | undefined
  calls.subscribe((e) => {
    if (e.type === 'ended') ended = e
  })
  const c = calls.completed({ initiator: '1001', destination: '2002', id: '4ed2fd511864ccfb' })
  const body = JSON.stringify(webhookPayload(ended!, calls.get(c.id)))
  const now = Math.floor(Date.now() / 1000)
  const header = signatureValue('s3cret', body, now)
  return { body, header, t: now, v1: header.split('v1=')[1]!, ended: ended! }
}

t.test('events.md: the webhook body example has exactly the real body\'s fields', async (t) => {
  const doc = JSON.parse(example('events.md', 'webhook body')) as unknown
  const real = JSON.parse(realBody().body) as unknown
  t.same(shape(doc).sort(), shape(real).sort())
})

t.test('events.md: the Node.js verification snippet accepts a real signature and refuses a tampered body', async (t) => {
  const file = path.join(dir, 'verify.js')
  fs.writeFileSync(file, `${example('events.md', 'verify node')}\nmodule.exports = verify\n`)
  const verify = require(file) as (secret: string, body: string | Buffer, header: string) => boolean
  const r = realBody()
  t.equal(verify('s3cret', Buffer.from(r.body), r.header), true)
  t.equal(verify('s3cret', r.body.replace('1001', '1002'), r.header), false)
  t.equal(verify('other', r.body, r.header), false)
  t.equal(verify('s3cret', r.body, `t=${r.t - 3600},v1=${r.v1}`), false, 'old timestamp')
  t.equal(verify('s3cret', r.body, 'garbage'), false)
})

t.test('events.md: the Python snippet', { skip: has('python3', '--version') ? false : 'python3 not installed' }, async (t) => {
  const r = realBody()
  fs.writeFileSync(path.join(dir, 'body.json'), r.body)
  const script = `${example('events.md', 'verify python')}\nimport sys\nbody = open('body.json', 'rb').read()\nprint(verify(b's3cret', body, sys.argv[1]), verify(b's3cret', body + b' ', sys.argv[1]))\n`
  fs.writeFileSync(path.join(dir, 'verify.py'), script)
  const out = await sh('python3', ['verify.py', r.header])
  t.equal(out.code, 0, out.stderr)
  t.equal(out.stdout.trim(), 'True False')
})

t.test('events.md: the shell (openssl) line prints v1', { skip: has('openssl', 'version') ? false : 'openssl not installed' }, async (t) => {
  const r = realBody()
  fs.writeFileSync(path.join(dir, 'body.json'), r.body)
  const line = example('events.md', 'verify shell').split('#')[0]!.trim()
  const out = await sh('bash', ['-c', line], { T: String(r.t), SECRET: 's3cret' })
  t.equal(out.code, 0, out.stderr)
  t.equal(out.stdout.trim(), r.v1)
})

t.test('events.md: the action URL names are the code\'s', async (t) => {
  const rows = table('events.md', 'action names')
  t.ok(rows.length >= 10)
  const base = { callId: 'c', setupId: null, seq: 1, at: 0 }
  const sample: Record<string, CallEvent> = {
    created: { ...base, type: 'created', initiator: '1', destination: '2', translatedInitiator: '1', translatedDestination: '2', anchor: true, origin: { frontEnd: 'xml', remoteAddress: '::1' } },
    bridged: { ...base, type: 'bridged' },
    resumed: { ...base, type: 'resumed', leg: 'initiator', by: 'api' },
    held: { ...base, type: 'held', leg: 'initiator', by: 'api' },
    transferring: { ...base, type: 'transferring', leg: 'initiator', target: 'x' },
    'transferred (ok)': { ...base, type: 'transferred', leg: 'initiator', target: 'x', ok: true, status: 200 },
    'transferred (failed)': { ...base, type: 'transferred', leg: 'initiator', target: 'x', ok: false, status: 486 },
    'joined (ok)': { ...base, type: 'joined', leg: 'initiator', otherCallId: 'o', otherLeg: 'initiator', ok: true, status: 200 },
    'joined (failed)': { ...base, type: 'joined', leg: 'initiator', otherCallId: 'o', otherLeg: 'initiator', ok: false, status: 481 },
    ended: { ...base, type: 'ended', cause: 'completed', endedBy: 'api', code: 200, reason: '', times: { createdAt: 0, initiatorAnsweredAt: null, destinationAnsweredAt: null, bridgedAt: null, endedAt: 0 } },
  }
  for (const [ev, name] of rows) {
    const key = ev!.replace(/`/g, '')
    t.ok(sample[key], `a sample for ${key}`)
    if (sample[key]) t.equal(auerswaldEvent(sample[key]!), name!.replace(/`/g, ''), key)
  }
  t.equal(auerswaldEvent({ ...base, type: 'ringing', leg: 'initiator', status: 180 }), undefined, 'ringing is not sent')
})

t.test('cdr.md: the columns table is the table\'s columns, in order', async (t) => {
  const rows = table('cdr.md', 'columns')
  t.same(
    rows.map((r) => [r[0]!.replace(/`/g, ''), r[1]!.replace(/`/g, '')]),
    COLUMNS.map(([field, col]) => [col, field]),
  )
})
