/**
 * The console's script: places calls through the REST API (/v1), shows the
 * live calls from the event stream (/console/events), steers them (hang up,
 * hold, resume, transfer) and lists the recent calls (/v1/cdr, or the calls
 * ended since the server started when no CDR store answers).
 *
 * Every value from the network goes into the page with textContent, never
 * as markup. No framework, nothing loaded from elsewhere.
 */
export {}

type LegRole = 'initiator' | 'destination'

interface Leg {
  role: LegRole
  uri: string
  status: 'idle' | 'calling' | 'ringing' | 'answered' | 'ended'
  held: boolean
  code: number | null
  answeredAt: number | null
  endedAt: number | null
}

interface Times {
  createdAt: number
  initiatorAnsweredAt: number | null
  destinationAnsweredAt: number | null
  bridgedAt: number | null
  endedAt: number | null
}

interface Call {
  id: string
  setupId: string | null
  state: string
  anchor: boolean
  mode: 'anchored' | 'refer' | 'refer-fallback'
  initiator: string
  destination: string
  translatedInitiator: string
  translatedDestination: string
  createdAt: number
  endedAt: number | null
  legs: { initiator: Leg; destination: Leg }
  times: Times
  holds: number
  transfers: number
  cause: string | null
  endedBy: string | null
  code: number | null
}

interface Hello {
  now: number
  heartbeatMs: number
  calls: Call[]
  liveTotal: number
  recent: Call[]
}

interface StreamEvent {
  type: string
  callId: string
  seq: number
  at: number
  leg?: LegRole
  target?: string
  ok?: boolean
  status?: number
  cause?: string
  reason?: string
}

interface CallMessage {
  event: StreamEvent
  call: Call | null
}

/** one line of the history, from a CDR record or from a call that ended */
interface HistoryRow {
  id: string
  initiator: string
  destination: string
  outcome: string
  code: number | null
  startedAt: number
  setupMs: number | null
  talkMs: number | null
  endedBy: string
}

// ---------------------------------------------------------------- helpers

function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id)
  if (!e) throw new Error(`console page lacks #${id}`)
  return e as T
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  if (className) e.className = className
  if (text) e.textContent = text
  return e
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`
}

function clock(ms: number): string {
  const d = new Date(ms)
  const today = new Date()
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  return d.toDateString() === today.toDateString() ? time : `${d.toLocaleDateString()} ${time}`
}

function toMs(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v
  if (typeof v === 'string') {
    const t = Date.parse(v)
    return Number.isFinite(t) ? t : null
  }
  return null
}

// ---------------------------------------------------------------- REST calls

interface ApiAnswer {
  status: number
  ok: boolean
  data: unknown
  /** the problem document's detail (or title), or a sentence when there is none */
  message: string
}

/**
 * One request at a time: a browser counts Digest nonce uses (nc) per
 * request, and the server refuses a count lower than one it has seen, which
 * requests overtaking each other on parallel connections would produce.
 */
let queue: Promise<unknown> = Promise.resolve()

function api(method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const run = async (): Promise<ApiAnswer> => {
    const init: RequestInit = { method, headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' }
    if (body !== undefined) {
      init.headers = { Accept: 'application/json', 'Content-Type': 'application/json' }
      init.body = JSON.stringify(body)
    }
    let res: Response
    try {
      res = await fetch(path, init)
    } catch {
      return { status: 0, ok: false, data: null, message: 'The server cannot be reached.' }
    }
    let data: unknown = null
    const type = res.headers.get('Content-Type') ?? ''
    if (/json/.test(type)) {
      try {
        data = await res.json()
      } catch {
        data = null
      }
    }
    let message = res.ok ? '' : `${res.status} ${res.statusText}`
    if (!res.ok && isObject(data)) {
      const detail = data.detail ?? data.title ?? data.error
      if (typeof detail === 'string' && detail) message = detail
    }
    return { status: res.status, ok: res.ok, data, message }
  }
  const p = queue.then(run, run)
  queue = p.catch(() => undefined)
  return p
}

// ---------------------------------------------------------------- state

const live = new Map<string, Call>()
/** calls with a blind transfer under way: the target */
const transferring = new Map<string, string>()
/** ended calls seen by this page (stream's `recent`, then each `ended`), newest first */
let ended: Call[] = []
/** server clock minus ours, from the stream */
let skewMs = 0
let focusId = ''

interface RowView {
  row: HTMLTableRowElement
  idCell: HTMLTableCellElement
  legs: Record<LegRole, { uri: HTMLElement; given: HTMLElement; badge: HTMLElement }>
  state: HTMLElement
  time: HTMLElement
  hangup: HTMLButtonElement
  hold: HTMLButtonElement
  transferLeg: HTMLSelectElement
  transferTarget: HTMLInputElement
  transferButton: HTMLButtonElement
  msg: HTMLElement
  busy: boolean
  removeTimer: number | undefined
}

const rows = new Map<string, RowView>()

// ---------------------------------------------------------------- what a call looks like

const anyHeld = (c: Call): boolean => c.legs.initiator.held || c.legs.destination.held

/** can the server still act on the call's media (hold, transfer)? */
const serverInCall = (c: Call): boolean => c.mode !== 'refer' || c.times.bridgedAt === null

function legLabel(c: Call, leg: Leg): { text: string; cls: string } {
  switch (leg.status) {
    case 'idle':
      return { text: 'waiting', cls: 'idle' }
    case 'calling':
      return { text: 'calling', cls: 'calling' }
    case 'ringing':
      return { text: 'ringing', cls: 'ringing' }
    case 'answered':
      if (leg.held) return { text: 'on hold', cls: 'held' }
      if (c.times.bridgedAt !== null) return { text: 'talking', cls: 'talking' }
      return { text: 'answered', cls: 'answered' }
    default:
      return { text: leg.code && leg.code >= 300 ? `ended (${leg.code})` : 'hung up', cls: 'ended' }
  }
}

/** one word or two for the state column; also the row's data-state */
function summary(c: Call): { text: string; key: string } {
  if (c.endedAt !== null) return { text: `ended: ${c.cause ?? 'done'}`, key: 'ended' }
  const target = transferring.get(c.id)
  if (target !== undefined) return { text: `transferring to ${target}`, key: 'transferring' }
  if (c.times.bridgedAt !== null) {
    if (!serverInCall(c)) return { text: 'connected (direct)', key: 'connected' }
    return anyHeld(c) ? { text: 'on hold', key: 'held' } : { text: 'connected', key: 'connected' }
  }
  const { initiator: i, destination: d } = c.legs
  if (d.status === 'ringing') return { text: 'ringing destination', key: 'ringing' }
  if (i.status === 'ringing') return { text: 'ringing initiator', key: 'ringing' }
  if (i.status === 'answered') return { text: 'calling destination', key: 'calling' }
  return { text: 'calling', key: 'calling' }
}

function timeText(c: Call, now: number): string {
  if (c.endedAt !== null) return duration(c.endedAt - (c.times.bridgedAt ?? c.createdAt))
  if (c.times.bridgedAt !== null) return duration(now - c.times.bridgedAt)
  return duration(now - c.createdAt)
}

// ---------------------------------------------------------------- live table

function legCell(): { td: HTMLTableCellElement; uri: HTMLElement; given: HTMLElement; badge: HTMLElement } {
  const td = el('td', 'leg')
  const badge = el('span', 'badge')
  const uri = el('span', 'uri')
  const given = el('span', 'given')
  td.append(badge, uri, given)
  return { td, uri, given, badge }
}

function makeRow(c: Call): RowView {
  const row = el('tr')
  row.dataset.callId = c.id
  const idCell = el('td', 'id')
  idCell.dataset.label = 'Call'
  const i = legCell()
  i.td.dataset.label = 'Initiator'
  const d = legCell()
  d.td.dataset.label = 'Destination'
  const state = el('td', 'state')
  state.dataset.label = 'State'
  const time = el('td', 'time')
  time.dataset.label = 'Time'
  const actions = el('td', 'actions')
  actions.dataset.label = 'Actions'

  const hangup = el('button', 'hangup danger', 'Hang up')
  hangup.type = 'button'
  const hold = el('button', 'hold', 'Hold')
  hold.type = 'button'
  const form = el('form', 'transfer')
  const transferLeg = el('select')
  transferLeg.setAttribute('aria-label', 'party to keep')
  for (const role of ['initiator', 'destination'] as const) {
    const o = el('option', '', role === 'initiator' ? 'initiator' : 'destination')
    o.value = role
    transferLeg.append(o)
  }
  transferLeg.title = 'the party kept: it is connected to the number, the other party is released'
  const transferTarget = el('input')
  transferTarget.placeholder = 'number'
  transferTarget.maxLength = 512
  transferTarget.required = true
  transferTarget.inputMode = 'tel'
  transferTarget.setAttribute('aria-label', 'transfer to number')
  const transferButton = el('button', '', 'Transfer')
  transferButton.type = 'submit'
  form.append(transferLeg, transferTarget, transferButton)
  const msg = el('p', 'msg')
  msg.setAttribute('role', 'status')
  actions.append(hangup, hold, form, msg)
  row.append(idCell, i.td, d.td, state, time, actions)

  const view: RowView = {
    row,
    idCell,
    legs: { initiator: i, destination: d },
    state,
    time,
    hangup,
    hold,
    transferLeg,
    transferTarget,
    transferButton,
    msg,
    busy: false,
    removeTimer: undefined,
  }
  hangup.addEventListener('click', () => void act(view, c.id, 'DELETE', '', undefined, 'Hanging up…'))
  hold.addEventListener('click', () => {
    const call = live.get(c.id)
    const resume = call !== undefined && anyHeld(call)
    void act(view, c.id, 'POST', resume ? '/unhold' : '/hold', {}, resume ? 'Resuming…' : 'Holding…')
  })
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const target = transferTarget.value.trim()
    if (!target) return
    void act(view, c.id, 'POST', '/transfer', { leg: transferLeg.value, target }, `Transferring to ${target}…`).then((ok) => {
      if (ok) transferTarget.value = ''
    })
  })
  return view
}

async function act(view: RowView, id: string, method: string, suffix: string, body: unknown, doing: string): Promise<boolean> {
  view.busy = true
  view.msg.textContent = doing
  view.msg.className = 'msg'
  const call = live.get(id)
  if (call) update(call)
  const r = await api(method, `/v1/calls/${encodeURIComponent(id)}${suffix}`, body)
  view.busy = false
  view.msg.textContent = r.ok ? '' : r.message
  view.msg.className = r.ok ? 'msg' : 'msg error'
  const now = live.get(id)
  if (now) update(now)
  return r.ok
}

function update(c: Call): void {
  let view = rows.get(c.id)
  if (!view) {
    view = makeRow(c)
    rows.set(c.id, view)
    byId('calls-body').prepend(view.row)
  }
  const s = summary(c)
  view.row.dataset.state = s.key
  view.row.classList.toggle('focus', c.id === focusId)
  view.idCell.textContent = c.id.slice(0, 8)
  view.idCell.title = c.id
  const mode = el('span', 'mode', c.mode === 'anchored' ? 'anchored' : c.mode === 'refer' ? 'REFER' : 'REFER, then anchored')
  view.idCell.append(mode)
  for (const role of ['initiator', 'destination'] as const) {
    const leg = c.legs[role]
    const parts = view.legs[role]
    const label = legLabel(c, leg)
    parts.badge.textContent = label.text
    parts.badge.className = `badge ${label.cls}`
    const placed = role === 'initiator' ? c.translatedInitiator : c.translatedDestination
    const uri = leg.uri || placed
    parts.uri.textContent = uri
    const given = role === 'initiator' ? c.initiator : c.destination
    // under the address: what was typed when it differs, or where a transfer came from
    parts.given.textContent = uri !== placed ? `transferred from ${given}` : given !== uri ? given : ''
  }
  view.state.textContent = s.text
  view.time.textContent = timeText(c, Date.now() + skewMs)
  const over = c.endedAt !== null
  const steerable = !over && serverInCall(c) && c.times.bridgedAt !== null && transferring.get(c.id) === undefined
  view.hangup.disabled = over || view.busy || (c.mode === 'refer' && c.times.bridgedAt !== null)
  view.hold.textContent = anyHeld(c) ? 'Resume' : 'Hold'
  view.hold.disabled = !steerable || view.busy
  view.transferButton.disabled = !steerable || view.busy
  view.transferTarget.disabled = !steerable
  view.transferLeg.disabled = !steerable
  if (!steerable && !over && c.mode === 'refer' && c.times.bridgedAt !== null) view.hold.title = 'a REFER call: the phones talk directly, the server is no longer in it'
}

function removeSoon(id: string): void {
  const view = rows.get(id)
  if (!view || view.removeTimer !== undefined) return
  view.removeTimer = window.setTimeout(() => {
    view.row.remove()
    rows.delete(id)
    live.delete(id)
    transferring.delete(id)
    counts()
  }, 4000)
}

function counts(): void {
  let n = 0
  for (const c of live.values()) if (c.endedAt === null) n++
  byId('live-count').textContent = String(n)
  byId('no-calls').hidden = rows.size > 0
}

function tick(): void {
  const now = Date.now() + skewMs
  for (const [id, view] of rows) {
    const c = live.get(id)
    if (c && c.endedAt === null) view.time.textContent = timeText(c, now)
  }
}

// ---------------------------------------------------------------- focus (#call=<id>)

function readFocus(): void {
  const m = /^#call=(.{1,128})$/.exec(location.hash)
  let id = ''
  if (m) {
    try {
      id = decodeURIComponent(m[1]!)
    } catch {
      id = ''
    }
  }
  focusId = id
  for (const [cid, view] of rows) view.row.classList.toggle('focus', cid === id)
  const note = byId('focus-note')
  note.hidden = true
  if (!id) return
  const view = rows.get(id)
  if (view) {
    view.row.scrollIntoView({ block: 'center' })
    return
  }
  void api('GET', `/v1/calls/${encodeURIComponent(id)}`).then((r) => {
    if (focusId !== id) return
    if (rows.has(id)) return
    note.hidden = false
    if (r.ok && isObject(r.data) && typeof r.data.id === 'string') {
      const c = r.data as unknown as Call
      note.textContent = c.endedAt !== null ? `Call ${id} has ended (${c.cause ?? 'done'}).` : `Call ${id}: ${summary(c).text}.`
    } else {
      note.textContent = `Call ${id} is not in progress${r.status === 404 ? ' and not known any more' : ''}.`
    }
  })
}

// ---------------------------------------------------------------- history

let historyFromCdr = false
let cdrRows: HistoryRow[] = []

function fromCall(c: Call): HistoryRow {
  const end = c.endedAt ?? c.times.endedAt ?? c.createdAt
  return {
    id: c.id,
    initiator: c.initiator,
    destination: c.destination,
    outcome: c.cause ?? 'ended',
    code: c.code,
    startedAt: c.createdAt,
    setupMs: (c.times.bridgedAt ?? end) - c.createdAt,
    talkMs: c.times.bridgedAt !== null ? end - c.times.bridgedAt : null,
    endedBy: c.endedBy ?? '',
  }
}

function fromRecord(r: Record<string, unknown>): HistoryRow | undefined {
  const id = r.callId ?? r.id
  if (typeof id !== 'string') return undefined
  const str = (v: unknown): string => (typeof v === 'string' ? v : '')
  const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)
  return {
    id,
    initiator: str(r.initiator),
    destination: str(r.destination),
    outcome: str(r.outcome),
    code: num(r.code),
    startedAt: toMs(r.createdAt) ?? 0,
    setupMs: num(r.setupMs),
    talkMs: num(r.talkMs),
    endedBy: str(r.endedBy),
  }
}

function renderHistory(): void {
  const limit = Number(byId<HTMLSelectElement>('history-limit').value) || 20
  const outcome = byId<HTMLSelectElement>('history-outcome').value
  const filter = byId<HTMLInputElement>('history-filter').value.trim().toLowerCase()
  const source = historyFromCdr ? cdrRows : ended.map(fromCall)
  const shown = source
    .filter((r) => !outcome || r.outcome === outcome)
    .filter((r) => !filter || [r.id, r.initiator, r.destination].some((v) => v.toLowerCase().includes(filter)))
    .slice(0, limit)
  const body = byId('history-body')
  body.replaceChildren()
  for (const r of shown) {
    const tr = el('tr')
    tr.dataset.callId = r.id
    tr.dataset.outcome = r.outcome
    const cells: Array<[string, string, string]> = [
      ['Started', clock(r.startedAt), 'started'],
      ['Initiator', r.initiator, 'uri'],
      ['Destination', r.destination, 'uri'],
      ['Outcome', r.code !== null && r.outcome !== 'completed' ? `${r.outcome} (${r.code})` : r.outcome, `outcome ${r.outcome}`],
      ['Setup', r.setupMs !== null ? duration(r.setupMs) : '', 'num'],
      ['Talk', r.talkMs !== null ? duration(r.talkMs) : '', 'num'],
      ['Ended by', r.endedBy, ''],
    ]
    for (const [label, text, cls] of cells) {
      const td = el('td', cls, text)
      td.dataset.label = label
      tr.append(td)
    }
    tr.title = r.id
    if (r.id === focusId) tr.classList.add('focus')
    body.append(tr)
  }
  byId('no-history').hidden = shown.length > 0
}

async function loadHistory(): Promise<void> {
  const limit = byId<HTMLSelectElement>('history-limit').value
  const outcome = byId<HTMLSelectElement>('history-outcome').value
  const q = new URLSearchParams({ limit, order: 'desc' })
  if (outcome) q.set('outcome', outcome)
  const r = await api('GET', `/v1/cdr?${q.toString()}`)
  const note = byId('history-note')
  const records = isObject(r.data) && Array.isArray(r.data.records) ? r.data.records : Array.isArray(r.data) ? r.data : undefined
  if (r.ok && records) {
    historyFromCdr = true
    cdrRows = records.filter(isObject).map(fromRecord).filter((x): x is HistoryRow => x !== undefined)
    note.textContent = 'From the call detail records.'
    note.className = 'note'
  } else {
    historyFromCdr = false
    const why = r.status === 404 || r.status === 503 ? `this server keeps no call detail records (GET /v1/cdr answered ${r.status})` : r.status === 0 ? 'the call detail records could not be reached' : `the call detail records are not available (${r.message})`
    note.textContent = `Showing the calls that ended since the server started: ${why}.`
    note.className = 'note warn'
  }
  renderHistory()
}

let historyTimer: number | undefined
function historySoon(): void {
  if (!historyFromCdr) {
    renderHistory()
    return
  }
  // the CDR store writes in batches: ask a moment later
  window.clearTimeout(historyTimer)
  historyTimer = window.setTimeout(() => void loadHistory(), 1500)
}

// ---------------------------------------------------------------- the event stream

let source: EventSource | null = null
let retryMs = 1000
let retryTimer: number | undefined
let watchdog: number | undefined
let heartbeatMs = 10_000
let everConnected = false

function setLink(state: 'live' | 'down' | 'connecting', text: string): void {
  const link = byId('link')
  link.className = `link ${state}`
  link.textContent = text
  document.body.dataset.stream = state
}

function armWatchdog(): void {
  window.clearTimeout(watchdog)
  // nothing (not even a heartbeat) for 2.5 periods: the connection is dead even if the socket is not
  watchdog = window.setTimeout(() => {
    source?.close()
    source = null
    reconnectLater('no news from the server')
  }, heartbeatMs * 2.5)
}

function reconnectLater(why: string): void {
  window.clearTimeout(retryTimer)
  window.clearTimeout(watchdog)
  const wait = retryMs
  retryMs = Math.min(retryMs * 2, 30_000)
  setLink('down', `Live updates lost (${why}): reconnecting in ${Math.round(wait / 1000)} s…`)
  retryTimer = window.setTimeout(connect, wait)
}

function onHello(h: Hello): void {
  skewMs = h.now - Date.now()
  heartbeatMs = h.heartbeatMs > 0 ? h.heartbeatMs : 10_000
  retryMs = 1000
  const fresh = new Set(h.calls.map((c) => c.id))
  // calls that ended while we were away
  for (const [id, view] of rows) {
    if (!fresh.has(id) && view.removeTimer === undefined) {
      view.row.remove()
      rows.delete(id)
      live.delete(id)
    }
  }
  for (const c of h.calls) {
    live.set(c.id, c)
    update(c)
  }
  const seen = new Set(ended.map((c) => c.id))
  ended = [...ended, ...h.recent.filter((c) => !seen.has(c.id))].sort((a, b) => b.createdAt - a.createdAt).slice(0, 200)
  counts()
  setLink('live', everConnected ? 'Live (reconnected)' : 'Live')
  everConnected = true
  if (h.liveTotal > h.calls.length) setLink('live', `Live: showing ${h.calls.length} of ${h.liveTotal} calls`)
  if (focusId) readFocus()
  historySoon()
  armWatchdog()
}

function onCall(m: CallMessage): void {
  armWatchdog()
  const e = m.event
  if (e.type === 'transferring' && typeof e.target === 'string') transferring.set(e.callId, e.target)
  if (e.type === 'transferred') {
    transferring.delete(e.callId)
    const view = rows.get(e.callId)
    if (view && e.ok === false) {
      view.msg.textContent = `Transfer to ${e.target ?? ''} failed (${e.status ?? ''}).`
      view.msg.className = 'msg error'
    }
  }
  const c = m.call
  if (!c) return
  live.set(c.id, c)
  update(c)
  if (e.type === 'ended') {
    ended = [c, ...ended.filter((x) => x.id !== c.id)].slice(0, 200)
    removeSoon(c.id)
    historySoon()
  }
  counts()
}

function parse<T>(ev: Event): T | undefined {
  try {
    return JSON.parse((ev as MessageEvent<string>).data) as T
  } catch {
    return undefined
  }
}

function connect(): void {
  window.clearTimeout(retryTimer)
  source?.close()
  setLink('connecting', everConnected ? 'Reconnecting…' : 'Connecting…')
  const es = new EventSource('events')
  source = es
  es.addEventListener('hello', (ev) => {
    const h = parse<Hello>(ev)
    if (h && Array.isArray(h.calls)) onHello(h)
  })
  es.addEventListener('call', (ev) => {
    const m = parse<CallMessage>(ev)
    if (m && isObject(m.event)) onCall(m)
  })
  es.addEventListener('ping', (ev) => {
    const now = Number((ev as MessageEvent<string>).data)
    if (Number.isFinite(now)) skewMs = now - Date.now()
    armWatchdog()
  })
  es.addEventListener('error', () => {
    if (source !== es) return
    if (es.readyState === EventSource.CLOSED) {
      // refused (503 over the stream cap, 401...): the browser gives up, we do not
      es.close()
      source = null
      reconnectLater('the server refused the stream')
    } else {
      // the browser retries by itself
      setLink('down', 'Live updates lost: reconnecting…')
    }
  })
}

// ---------------------------------------------------------------- placing a call

async function placeCall(ev: SubmitEvent): Promise<void> {
  ev.preventDefault()
  const initiator = byId<HTMLInputElement>('initiator').value.trim()
  const destination = byId<HTMLInputElement>('destination').value.trim()
  const anchor = byId<HTMLInputElement>('anchor').checked
  const msg = byId('form-msg')
  const button = byId<HTMLButtonElement>('place-button')
  if (!initiator || !destination) {
    msg.textContent = 'Give both numbers.'
    msg.className = 'msg error'
    return
  }
  button.disabled = true
  msg.textContent = 'Calling…'
  msg.className = 'msg'
  const r = await api('POST', '/v1/calls', { initiator, destination, anchor })
  button.disabled = false
  if (r.ok && isObject(r.data) && typeof r.data.id === 'string') {
    const c = r.data as unknown as Call
    msg.textContent = `Call ${c.id.slice(0, 8)} placed: ringing ${initiator} first.`
    msg.className = 'msg ok'
    if (!live.has(c.id) && c.endedAt === null && c.legs) {
      live.set(c.id, c)
      update(c)
      counts()
    }
  } else {
    msg.textContent = r.status === 404 ? 'This server has no REST API (/v1): calls cannot be placed from here.' : r.message
    msg.className = 'msg error'
  }
}

// ---------------------------------------------------------------- start

function start(): void {
  byId<HTMLFormElement>('call-form').addEventListener('submit', (ev) => void placeCall(ev))
  byId<HTMLFormElement>('history-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    void loadHistory()
  })
  byId('history-filter').addEventListener('input', renderHistory)
  byId('history-outcome').addEventListener('change', () => void loadHistory())
  byId('history-limit').addEventListener('change', () => void loadHistory())
  window.addEventListener('hashchange', readFocus)
  window.setInterval(tick, 1000)
  counts()
  readFocus()
  connect()
  void loadHistory()
}

start()
