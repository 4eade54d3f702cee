/**
 * What the main thread and the XML thread say to each other (thread.ts,
 * thread-worker.ts). Plain data only: it crosses by structured clone.
 */
import type { TranslationRule } from '../config'
import type { XmlFrontEndOptions } from './server'

/** Int32 slots of the buffer both threads see */
export const Slot = {
  /** calls in progress (the call registry's size), written by the main thread */
  live: 0,
  /** MaxCalls */
  maxCalls: 1,
  /** 1 once the server is shutting down: new requests get 503 */
  closing: 2,
  /** the main logger's level (pino levelVal; 100 = silent) */
  level: 3,
  /** open XML connections, written by the XML thread */
  connections: 4,
} as const
export const SLOTS = 5

/** what the XML thread needs to translate and check a request before its 100 */
export interface AdmissionData {
  rules: TranslationRule[]
  allowUriHeaders: boolean
  maxCalls: number
}

export type ListenerOptions = Omit<XmlFrontEndOptions, 'calls' | 'logger' | 'onConnections'>

export interface ThreadData {
  options: ListenerOptions
  admission: AdmissionData
  shared: SharedArrayBuffer
  /** XmlRpcThreadNice: the thread's nice value; null = the one it started with */
  nice: number | null
}

/** XML thread -> main thread */
export type FromThread =
  | { t: 'ready'; port: number }
  | { t: 'failed'; kind: 'bind' | 'config' | 'other'; message: string }
  /**
   * The requests the thread admitted in one loop turn, flat, seven entries a
   * request: the thread's key for it, initiator, destination, anchor (1/0),
   * the client's address, and the translation its 100 carried (initiator,
   * destination). One message a turn, posted after the turn's 100s are written.
   */
  | { t: 'starts'; r: Array<number | string> }
  | { t: 'log'; level: LogLevelName; bindings: Record<string, unknown>; obj: Record<string, unknown> | undefined; msg: string | undefined }
  | { t: 'closed' }

/**
 * Main thread -> XML thread. `results` is flat, five entries a result:
 * key, code, leg ('' = none), text, final (1/0). Code 0 carries the call id
 * in the text.
 */
export type ToThread =
  | { t: 'results'; r: Array<number | string> }
  | { t: 'reconfigure'; limits: Partial<ListenerOptions>; admission?: AdmissionData; nice?: number | null }
  | { t: 'stop-accepting' }
  | { t: 'close' }

export type LogLevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'

export const LEVEL_VALUES: Record<LogLevelName, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }

/** the slot value for a pino levelVal (silent is Infinity) */
export function levelSlot(levelVal: number): number {
  return Number.isFinite(levelVal) ? levelVal : 100
}
