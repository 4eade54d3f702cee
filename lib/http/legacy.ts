/**
 * The original's URLs: /index.html, /clicktocall.html (places a call; GET
 * only: HEAD never places one) and our JSON status /calls/<id>.
 */
import type { Route, RequestContext } from './route'
import { HttpProblem } from './problem'
import { clickToCallPage, indexPage, initiatingLine, requestLine, textLine } from './pages'

function clickToCall(ctx: RequestContext): void {
  const url = ctx.url
  const initiator = url.searchParams.get('initiator') ?? ''
  const destination = url.searchParams.get('destination') ?? ''
  const anchor = (url.searchParams.get('anchor') ?? '').toLowerCase() === 'true'
  const lines = [requestLine(initiator, destination, anchor)]
  if (!initiator || !destination) {
    lines.push(textLine('Missing initiator or destination URL parameters.'))
    ctx.send({ status: 400, body: clickToCallPage(lines) })
    return
  }
  if (!ctx.takeCallSlot()) throw new HttpProblem('too-many-requests', 'Too many calls from your address; try again later (HttpRateLimit).', {}, { 'Retry-After': '60' })
  const outcome = ctx.calls.start({ initiator, destination, anchor, origin: { frontEnd: 'http', remoteAddress: ctx.remote } })
  if (!outcome.ok) {
    lines.push(textLine(outcome.reason === 'no-translation' ? `${outcome.text}.` : outcome.text))
    ctx.send({ status: outcome.code, body: clickToCallPage(lines) })
    return
  }
  const call = outcome.call
  lines.push(initiatingLine(call.translatedInitiator, initiator, call.translatedDestination, destination, anchor))
  lines.push(`<p>Call id: <a href="/calls/${call.id}">${call.id}</a> (<a href="/console/#call=${call.id}">in the console</a>)</p>`)
  ctx.log.info({ callId: call.id, remote: ctx.remote }, 'HTTP request started a call')
  ctx.send({ status: 200, body: clickToCallPage(lines), headers: { 'X-Call-Id': call.id } })
}

export const legacyRoutes: Route[] = [
  { methods: ['GET', 'HEAD'], path: /^\/index\.html$/, auth: 'none', errors: 'html', handle: (ctx) => ctx.send({ status: 200, body: indexPage() }) },
  { methods: ['GET'], path: /^\/clicktocall\.html$/, auth: 'user', errors: 'html', handle: clickToCall },
  {
    methods: ['GET', 'HEAD'],
    path: /^\/calls\/(?<id>[0-9a-zA-Z-]{1,64})$/,
    auth: 'user',
    errors: 'text',
    handle: (ctx) => {
      const snap = ctx.calls.get(ctx.params.id!)
      if (!snap) ctx.send({ status: 404, body: JSON.stringify({ error: 'not found' }), type: 'application/json' })
      else ctx.send({ status: 200, body: JSON.stringify(snap), type: 'application/json' })
    },
  },
]
