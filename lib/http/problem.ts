/**
 * Errors as RFC 9457 problem details (application/problem+json), one
 * stable `type` per kind of error (urn:clicktocall:problem:<slug>), listed
 * here and in docs/rest.md. The same errors, for the original's URLs, are
 * written as its XHTML page or as plain text.
 */
import type { Answer } from './respond'
import { clickToCallPage, textLine } from './pages'
import { processingStatus } from './sipxrest-xml'

export const PROBLEMS = {
  'bad-request': { status: 400, title: 'The request is not valid' },
  'invalid-body': { status: 400, title: 'The JSON body is not valid' },
  'no-translation': { status: 400, title: 'No translation rule matches' },
  'invalid-uri': { status: 400, title: 'Invalid URI format' },
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Cross-site request refused' },
  'identity-not-allowed': { status: 403, title: 'Naming the calling identity is not allowed' },
  'no-token': { status: 403, title: 'The command URL has no token configured' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'call-ended': { status: 409, title: 'The call has ended' },
  'not-in-call': { status: 409, title: 'The server is no longer in the call' },
  'leg-not-answered': { status: 409, title: 'The leg has not answered' },
  'bad-state': { status: 409, title: 'The call is not in a state where this applies' },
  'too-large': { status: 413, title: 'The request body is too large' },
  'unsupported-media-type': { status: 415, title: 'The body must be application/json' },
  'misdirected-request': { status: 421, title: 'Host does not name this server' },
  'too-many-requests': { status: 429, title: 'Too many requests' },
  'sip-failed': { status: 502, title: 'The phone refused' },
  overloaded: { status: 503, title: 'The server is at its call limit' },
} as const

export type ProblemSlug = keyof typeof PROBLEMS

export const PROBLEM_TYPE_PREFIX = 'urn:clicktocall:problem:'

export class HttpProblem extends Error {
  readonly status: number
  constructor(
    readonly slug: ProblemSlug,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string | string[]> = {},
  ) {
    super(detail)
    this.name = 'HttpProblem'
    this.status = PROBLEMS[slug].status
  }
}

export function problemAnswer(p: HttpProblem, instance?: string): Answer {
  const body = {
    type: `${PROBLEM_TYPE_PREFIX}${p.slug}`,
    title: PROBLEMS[p.slug].title,
    status: p.status,
    detail: p.detail,
    ...(instance !== undefined ? { instance } : {}),
    ...p.extra,
  }
  return { status: p.status, body: JSON.stringify(body), type: 'application/problem+json', headers: p.headers }
}

/** the same error in the style of the URL family */
export function errorAnswer(style: 'html' | 'problem' | 'text' | 'sipxrest', p: HttpProblem, instance?: string): Answer {
  if (style === 'problem') return problemAnswer(p, instance)
  if (style === 'sipxrest') return { status: p.status, body: processingStatus(true, p.status, p.detail), type: 'text/xml; charset=utf-8', headers: p.headers }
  if (style === 'text') return { status: p.status, body: `${p.detail}\n`, type: 'text/plain; charset=utf-8', headers: p.headers }
  return { status: p.status, body: clickToCallPage([textLine(p.detail)]), headers: p.headers }
}
