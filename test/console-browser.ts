/**
 * The web console in a real browser: Debian's chromium, headless, driven
 * over the DevTools protocol by puppeteer-core (no browser download). It
 * logs in with HTTP Digest, places an anchored call between two sipp phones
 * from the form, sees it ringing then connected, holds and resumes it,
 * transfers it to a third phone, hangs it up and finds it in the history; a destination carrying markup shows as
 * text; the page says so when the event stream drops and comes back; the
 * layout holds at phone width; #call=<id> points at a call. Assertions on
 * the DOM; a screenshot of each step in a temporary folder (printed).
 *
 * The same run in Debian's Firefox ESR (puppeteer-core over WebDriver BiDi)
 * where it is installed. Each skips with the reason when its browser, sipp,
 * puppeteer-core or the REST API (/v1, issue 14) is missing; `.ci/run`
 * installs chromium.
 */
/// <reference lib="dom" />
import tap, { type Test } from 'tap'
import { existsSync, mkdtempSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { Browser, Page } from 'puppeteer-core'
import { startTestServer, type TestServer } from './helpers/server'
import { sippAvailable, startSipp, type SippProcess } from './helpers/sipp'

const t = tap
const PW = 'browser pw'
const SIPP = path.join(__dirname, 'sipp')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

function puppeteerInstalled(): boolean {
  try {
    require.resolve('puppeteer-core')
    return true
  } catch {
    return false
  }
}

const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr'

function skipFor(name: string, file: string, hint: string): string | false {
  if (!existsSync(file)) return `${name} not found at ${file} (${hint})`
  if (!sippAvailable()) return 'sipp not installed'
  if (!puppeteerInstalled()) return 'puppeteer-core not installed (npm install)'
  return false
}

/** status of an unauthenticated-by-design document, to see whether the REST API is in this build */
function status(port: number, target: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: target }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', () => resolve(0))
    req.setTimeout(5000, () => req.destroy())
  })
}

/**
 * A TCP relay in front of the server whose connections the test can cut, as
 * a network drop would. It listens on 127.0.0.2 with the server's port, so
 * the page's origin has the port the server sees (its same-site check).
 */
async function relay(t: Test, port: number): Promise<{ base: string; cut(): number }> {
  const pairs = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1')
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.pipe(b)
      a.on('error', () => b.destroy())
      a.on('close', () => b.destroy())
    }
    pairs.add(client)
    client.on('close', () => pairs.delete(client))
  })
  await new Promise<void>((r) => server.listen(port, '127.0.0.2', r))
  t.teardown(() => {
    for (const c of pairs) c.destroy()
    server.close()
  })
  return {
    base: `http://127.0.0.2:${port}`,
    cut: () => {
      const n = pairs.size
      for (const c of pairs) c.destroy()
      return n
    },
  }
}

type Engine = 'chrome' | 'firefox'

async function drive(t: Test, engine: Engine, executablePath: string): Promise<void> {
  const shots = mkdtempSync(path.join(os.tmpdir(), `ctc-console-shots-${engine}-`))
  t.comment(`screenshots in ${shots}`)
  let step = 0
  const shot = async (page: Page, name: string): Promise<void> => {
    step += 1
    await page.screenshot({ path: path.join(shots, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true })
  }

  const s: TestServer = await startTestServer(
    {
      httpAuth: true,
      httpAuthPwd: PW,
      httpPort: 5095,
      httpBindAddress: '127.0.0.1',
      resultCacheTime: 60,
      // the history comes from the call detail records, as on a real server
      cdrDatabase: path.join(shots, 'cdr.sqlite'),
      translationRules: [
        { pattern: '^(sips?:.*)$', output: '$1', file: 'test', line: 1 },
        // a destination with markup after a port number: the translated URI is clean, the given text is not
        { pattern: '^xss(\\d+)<.*$', output: 'sip:xss@127.0.0.1:$1', file: 'test', line: 2 },
        { pattern: '^(\\d+)$', output: 'sip:$1@127.0.0.1:9', file: 'test', line: 3 },
      ],
    },
    { maxAuthFailures: 1000 },
  )
  t.teardown(() => s.close())
  if ((await status(s.httpPort, '/v1/openapi.json')) !== 200) {
    t.plan(0, 'the REST API (/v1, issue 14) is not in this build: the console places and steers calls through it')
    return
  }

  const phones: SippProcess[] = []
  t.teardown(() => phones.forEach((p) => p.kill()))
  const phone = async (): Promise<SippProcess> => {
    const p = await startSipp({ scenario: path.join(SIPP, 'destination.xml'), args: ['-d', '3600000'], timeoutSeconds: 90 })
    phones.push(p)
    return p
  }
  const [alice, bob, carol] = await Promise.all([phone(), phone(), phone()])

  // the browser talks to the server through a relay the test can cut
  const proxy = await relay(t, s.httpPort)
  const base = proxy.base

  const { default: puppeteer } = await import('puppeteer-core')
  const browser: Browser = await puppeteer.launch(
    engine === 'chrome'
      ? {
          executablePath,
          headless: true,
          args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-background-networking'],
        }
      : { browser: 'firefox', executablePath, headless: true },
  )
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${String(err)}`))
  page.on('console', (m) => {
    // failed loads are the network's doing (401 before Digest, the connections the test cuts), not the script's
    if (m.type() === 'error' && !/^Failed to load resource: (net::ERR_|the server responded with a status of 401)/.test(m.text())) problems.push(`console: ${m.text()}`)
  })
  const external: string[] = []
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) external.push(r.url())
  })
  await page.setViewport({ width: 1180, height: 900 })
  await page.authenticate({ username: 'admin', password: PW })

  // ---- the page, logged in with Digest, live
  const first = await page.goto(`${base}/console/`, { waitUntil: 'load' })
  t.equal(first?.status(), 200, 'the page, after the Digest challenge')
  await page.waitForFunction(() => document.getElementById('link')?.textContent?.startsWith('Live'), { timeout: 10_000 })
  t.equal(await page.$eval('#live-count', (e) => e.textContent), '0')
  await page.waitForFunction(() => (document.getElementById('history-note')?.textContent ?? '') !== '', { timeout: 10_000 })
  const note = await page.$eval('#history-note', (e) => e.textContent ?? '')
  t.match(note, /call detail records|ended since the server started/, `history source said: ${note}`)
  await shot(page, 'loaded')

  // ---- place a call from the form
  await page.type('#initiator', alice.uri('alice'))
  await page.type('#destination', bob.uri('bob'))
  t.ok(await page.$eval('#anchor', (e) => (e as HTMLInputElement).checked), 'anchored by default')
  await page.click('#place-button')
  await page.waitForFunction(() => /placed/.test(document.getElementById('form-msg')?.textContent ?? ''), { timeout: 10_000 })
  const id = await page.$eval('#calls-body tr', (e) => (e as HTMLElement).dataset.callId ?? '')
  t.match(id, /^[\w-]{6,}$/, 'a row for the call')
  const row = `#calls-body tr[data-call-id="${id}"]`
  await page.waitForSelector(`${row}[data-state="ringing"]`, { timeout: 10_000 })
  t.match(await page.$eval(`${row} td.state`, (e) => e.textContent), /^ringing (initiator|destination)$/)
  await shot(page, 'ringing')

  await page.waitForSelector(`${row}[data-state="connected"]`, { timeout: 15_000 })
  const badges = await page.$$eval(`${row} td.leg .badge`, (es) => es.map((e) => e.textContent))
  t.same(badges, ['talking', 'talking'], 'both parties talking')
  t.equal(await page.$eval(`${row} td.state`, (e) => e.textContent), 'connected')
  t.equal(await page.$eval('#live-count', (e) => e.textContent), '1')
  const legs = await page.$$eval(`${row} td.leg .uri`, (es) => es.map((e) => e.textContent))
  t.same(legs, [alice.uri('alice'), bob.uri('bob')])
  const t1 = await page.$eval(`${row} td.time`, (e) => e.textContent)
  await new Promise((r) => setTimeout(r, 2100))
  const t2 = await page.$eval(`${row} td.time`, (e) => e.textContent)
  t.not(t1, t2, `the talk time ticks (${t1} -> ${t2})`)
  t.match(t2, /^0:0[1-9]$/)
  await shot(page, 'connected')
  // the README's picture (docs/console.png) is made here: CTC_README_SCREENSHOT=docs/console.png
  if (process.env.CTC_README_SCREENSHOT) {
    const box = await page.$eval('#live', (e) => e.getBoundingClientRect().bottom)
    await page.screenshot({ path: process.env.CTC_README_SCREENSHOT, clip: { x: 0, y: 0, width: 1180, height: Math.ceil(box) + 12 } })
  }

  // ---- hold, resume
  await page.click(`${row} button.hold`)
  await page.waitForSelector(`${row}[data-state="held"]`, { timeout: 10_000 })
  t.equal(await page.$eval(`${row} button.hold`, (e) => e.textContent), 'Resume')
  t.same(await page.$$eval(`${row} td.leg .badge`, (es) => es.map((e) => e.textContent)), ['on hold', 'on hold'])
  t.ok(/a=(sendonly|inactive)/.test(alice.messages()), 'the initiator phone got a hold offer')
  await shot(page, 'held')
  await page.click(`${row} button.hold`)
  await page.waitForSelector(`${row}[data-state="connected"]`, { timeout: 10_000 })
  t.equal(await page.$eval(`${row} button.hold`, (e) => e.textContent), 'Hold')
  await shot(page, 'resumed')

  // ---- #call=<id> marks the call
  await page.evaluate((callId) => {
    location.hash = `#call=${encodeURIComponent(callId)}`
  }, id)
  await page.waitForSelector(`${row}.focus`, { timeout: 5000 })

  // ---- the stream drops and comes back; the page says so
  const cut = proxy.cut()
  t.ok(cut >= 1, `${cut} connection(s) cut between the browser and the server`)
  await page.waitForFunction(() => document.body.dataset.stream === 'down', { timeout: 10_000 })
  const lost = await page.$eval('#link', (e) => e.textContent ?? '')
  t.match(lost, /^Live updates lost/, `the page says the stream dropped: ${lost}`)
  await shot(page, 'stream-lost')
  await page.waitForFunction(() => document.getElementById('link')?.textContent === 'Live (reconnected)', { timeout: 20_000 })
  t.pass('reconnected, and says so')
  await page.waitForSelector(`${row}[data-state="connected"]`, { timeout: 5000 })
  t.equal(await page.$eval('#live-count', (e) => e.textContent), '1', 'the call is still listed after the new hello')

  // ---- transfer: alice keeps talking, now to carol; bob is released
  await page.select(`${row} form.transfer select`, 'initiator')
  await page.type(`${row} form.transfer input`, carol.uri('carol'))
  await page.click(`${row} form.transfer button`)
  await page.waitForFunction(
    (sel, uri) => document.querySelector(`${sel} td.leg:nth-of-type(3) .uri`)?.textContent === uri && document.querySelector(sel)?.getAttribute('data-state') === 'connected',
    { timeout: 15_000 },
    row,
    carol.uri('carol'),
  )
  t.same(await page.$$eval(`${row} td.leg .badge`, (es) => es.map((e) => e.textContent)), ['talking', 'talking'], 'talking again, to the new party')
  t.equal(await page.$eval(`${row} .msg`, (e) => e.textContent), '', 'no error shown')
  t.equal((await bob.exit).code, 0, 'bob was released (BYE) and his phone ended cleanly')
  await shot(page, 'transferred')

  // ---- hang up; then it is in the history
  await page.click(`${row} button.hangup`)
  await page.waitForSelector(`${row}[data-state="ended"]`, { timeout: 10_000 })
  t.equal(await page.$eval(`${row} td.state`, (e) => e.textContent), 'ended: completed')
  await page.waitForSelector(`#history-body tr[data-call-id="${id}"]`, { timeout: 15_000 })
  const hist = await page.$$eval(`#history-body tr[data-call-id="${id}"] td`, (es) => es.map((e) => e.textContent ?? ''))
  t.equal(hist[1], alice.uri('alice'))
  t.equal(hist[2], bob.uri('bob'))
  t.equal(hist[3], 'completed')
  t.match(hist[5], /^0:\d\d$/, 'a talk time')
  t.equal(hist[6], 'api', 'ended by the API (the console)')
  await page.waitForSelector(row, { hidden: true, timeout: 10_000 })
  t.equal(await page.$eval('#live-count', (e) => e.textContent), '0')
  await shot(page, 'history')

  // the history filter
  await page.type('#history-filter', 'nomatch-zzz')
  await page.waitForSelector(`#history-body tr[data-call-id="${id}"]`, { hidden: true, timeout: 5000 })
  t.equal(await page.$eval('#no-history', (e) => (e as HTMLElement).hidden), false, 'nothing matches: says so')
  await page.$eval('#history-filter', (e) => {
    ;(e as HTMLInputElement).value = ''
  })
  await page.type('#history-filter', `${bob.port}`)
  await page.waitForSelector(`#history-body tr[data-call-id="${id}"]`, { timeout: 5000 })
  t.pass('the filter finds the call by its destination')

  // ---- markup in a destination shows as text
  const evil = `xss${bob.port}<img src=x onerror="document.title='pwned'"><b id=bold>`
  await page.$eval('#destination', (e) => {
    ;(e as HTMLInputElement).value = ''
  })
  await page.$eval('#initiator', (e) => {
    ;(e as HTMLInputElement).value = ''
  })
  await page.type('#initiator', 'sip:nobody@127.0.0.1:9')
  await page.type('#destination', evil)
  await page.click('#place-button')
  await page.waitForFunction(() => /placed/.test(document.getElementById('form-msg')?.textContent ?? ''), { timeout: 10_000 })
  const xid = await page.$eval('#calls-body tr', (e) => (e as HTMLElement).dataset.callId ?? '')
  const xrow = `#calls-body tr[data-call-id="${xid}"]`
  await page.waitForSelector(xrow, { timeout: 5000 })
  t.equal(await page.$eval(`${xrow} td.leg:nth-of-type(3) .given`, (e) => e.textContent), evil, 'the destination as typed, as text')
  t.equal(await page.$$eval('img, #bold', (es) => es.length), 0, 'no element made from the data')
  t.not(await page.title(), 'pwned')
  await shot(page, 'markup-as-text')
  await page.click(`${xrow} button.hangup`)
  await page.waitForSelector(`#history-body tr[data-call-id="${xid}"]`, { timeout: 15_000 })
  t.equal(await page.$eval(`#history-body tr[data-call-id="${xid}"] td:nth-child(3)`, (e) => e.textContent), evil, 'in the history too, as text')
  t.equal(await page.$$eval('img, #bold', (es) => es.length), 0)

  // ---- phone width
  await page.setViewport(engine === 'chrome' ? { width: 390, height: 844, isMobile: true, hasTouch: true } : { width: 390, height: 844 })
  if (engine === 'firefox') await page.reload()
  // (a mobile viewport reloads the page: the history comes back from the stream's hello)
  await page.waitForFunction(() => document.getElementById('link')?.textContent?.startsWith('Live'), { timeout: 10_000 })
  await page.waitForSelector(`#history-body tr[data-call-id="${xid}"]`, { timeout: 10_000 })
  await page.evaluate(() => window.scrollTo(0, 0))
  const layout = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    row: getComputedStyle(document.querySelector('#history-body tr')!).display,
    input: document.getElementById('initiator')!.getBoundingClientRect().width,
  }))
  t.ok(layout.scroll <= 391, `no sideways scrolling at 390 px (page is ${layout.scroll} px wide)`)
  t.equal(layout.row, 'block', 'table rows become cards')
  t.ok(layout.input > 300, 'the form fills the width')
  await shot(page, 'phone')

  // ---- nothing from elsewhere, no script error
  t.same(external, [], 'every request went to the server itself')
  t.same(problems, [], 'no script error')
}

t.test('the console in headless chromium', { skip: skipFor('chromium', CHROMIUM, 'apt-get install chromium, or set CHROMIUM_PATH'), timeout: 120_000 }, (t) => drive(t, 'chrome', CHROMIUM))

t.test('the console in headless Firefox', { skip: skipFor('firefox', FIREFOX, 'apt-get install firefox-esr, or set FIREFOX_PATH'), timeout: 120_000 }, (t) => drive(t, 'firefox', FIREFOX))
