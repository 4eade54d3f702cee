/**
 * JSON-RPC 2.0 framing: decode one WebSocket message into requests (or a
 * protocol error saying what is wrong), encode responses and notifications.
 * Pure: no sockets, no calls.
 */

/** JSON-RPC 2.0 error codes, and ours in the server range (-32000..-32099). */
export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** the call layer refused to start the call (no translation, invalid URI, overloaded) */
  CALL_REFUSED: -32000,
  /** `callid` names no live call */
  UNKNOWN_CALL: -32001,
  /** more commands per second than JsonRpcRateLimit */
  RATE_LIMITED: -32005,
  /** more commands in progress on this connection than allowed */
  TOO_MANY_COMMANDS: -32006,
} as const

export type RpcId = string | number | null

export interface RpcError {
  code: number
  message: string
  data?: unknown
}

export interface RpcRequest {
  /** undefined: a notification (no response is sent, as JSON-RPC 2.0 says) */
  id: RpcId | undefined
  method: string
  params: Record<string, unknown>
}

/**
 * One element of a message: a request, or why it is not one (answered with
 * `id`, unless it is a notification: JSON-RPC never answers those).
 */
export type DecodedItem = { ok: true; request: RpcRequest } | { ok: false; id: RpcId; error: RpcError; notification?: true }

export type Decoded =
  | { kind: 'single'; item: DecodedItem }
  | { kind: 'batch'; items: DecodedItem[] }
  | { kind: 'error'; error: RpcError }

export const MAX_BATCH = 32

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

function validId(x: unknown): x is RpcId {
  return x === null || typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x))
}

function item(x: unknown): DecodedItem {
  if (!isObject(x)) return { ok: false, id: null, error: invalid('a request must be a JSON object') }
  const hasId = Object.prototype.hasOwnProperty.call(x, 'id')
  if (hasId && !validId(x.id)) return { ok: false, id: null, error: invalid('"id" must be a string, a number or null') }
  const id: RpcId = hasId ? (x.id as RpcId) : null
  if (x.jsonrpc !== '2.0') return { ok: false, id, error: invalid('"jsonrpc" must be "2.0"') }
  if (typeof x.method !== 'string' || x.method === '') return { ok: false, id, error: invalid('"method" must be a non-empty string') }
  let params: Record<string, unknown> = {}
  if (x.params !== undefined) {
    if (!isObject(x.params)) {
      const error = { code: RpcErrorCode.INVALID_PARAMS, message: '"params" must be an object (parameters by name)' }
      return hasId ? { ok: false, id, error } : { ok: false, id, error, notification: true }
    }
    params = x.params
  }
  return { ok: true, request: { id: hasId ? id : undefined, method: x.method, params } }
}

function invalid(message: string): RpcError {
  return { code: RpcErrorCode.INVALID_REQUEST, message: `Invalid request: ${message}` }
}

/** Deepest nesting a message may have: a batch, a request, its params, a value in them, and some room. */
export const MAX_DEPTH = 16

/** the index of the quote that closes the string opened at `open`, or -1 */
function closingQuote(text: string, open: number): number {
  for (let j = text.indexOf('"', open + 1); j !== -1; j = text.indexOf('"', j + 1)) {
    let backslashes = 0
    for (let k = j - 1; text.charCodeAt(k) === 0x5c; k--) backslashes++
    if (backslashes % 2 === 0) return j
  }
  return -1
}

/**
 * true when arrays/objects nest deeper than `max` outside strings. Linear:
 * strings are skipped with indexOf, so their content costs nearly nothing.
 */
export function tooDeep(text: string, max = MAX_DEPTH): boolean {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      i = closingQuote(text, i)
      if (i < 0) return false // unterminated: JSON.parse says so
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}

/** Decode one text message. Never throws. */
export function decode(text: string): Decoded {
  // deep nesting costs JSON.parse time out of proportion to the message's size
  if (tooDeep(text)) return { kind: 'error', error: invalid(`nested deeper than ${MAX_DEPTH} levels`) }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return { kind: 'error', error: { code: RpcErrorCode.PARSE_ERROR, message: `Parse error: ${(err as Error).message}` } }
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return { kind: 'error', error: invalid('an empty batch') }
    if (value.length > MAX_BATCH) return { kind: 'error', error: invalid(`a batch of ${value.length} requests (at most ${MAX_BATCH})`) }
    return { kind: 'batch', items: value.map(item) }
  }
  return { kind: 'single', item: item(value) }
}

export interface RpcResponse {
  jsonrpc: '2.0'
  id: RpcId
  result?: unknown
  error?: RpcError
}

export function resultOf(id: RpcId, result: unknown): RpcResponse {
  return { jsonrpc: '2.0', id, result }
}

export function errorOf(id: RpcId, error: RpcError): RpcResponse {
  return { jsonrpc: '2.0', id, error }
}

/** call-api's notification: the command's method, its cmd_id, an event name and optional data. */
export function notification(method: string, cmdId: string, event: string, data?: unknown): string {
  const params: Record<string, unknown> = { cmd_id: cmdId, event }
  if (data !== undefined) params.data = data
  return JSON.stringify({ jsonrpc: '2.0', method, params })
}
