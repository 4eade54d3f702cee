/**
 * What a method handler is: it reads its params and either answers at once
 * (a query), refuses (a JSON-RPC error), or starts a command. A started
 * command is answered `{"event":"Started","cmd_id":..}` and then speaks
 * through notifications until its `Ended`, as call-api's commands do.
 */
import type { Logger } from 'pino'
import type { CallService } from '../call'
import type { RpcError } from './codec'
import type { Params } from './params'

/** The notifications of one started command. After end() or fail() nothing more is sent. */
export interface CommandOutput {
  event(name: string, data?: unknown): void
  /** `Error` (data: the reason) then `Ended` */
  fail(reason: string, extra?: Record<string, unknown>): void
  /** `Ended` (with optional data): the command is over and its listeners are removed */
  end(data?: unknown): void
  readonly over: boolean
}

export interface Started {
  kind: 'started'
  cmdId: string
  /** more fields of the response beside event and cmd_id */
  extra?: Record<string, unknown>
  /** runs right after the response is sent; returns what removes its listeners */
  run(out: CommandOutput): () => void
}

export type Outcome = Started | { kind: 'result'; result: Record<string, unknown> } | { kind: 'error'; error: RpcError }

export interface Context {
  readonly calls: CallService
  readonly remoteAddress: string
  readonly log: Logger
  /** the method name as the client wrote it (notifications carry it back) */
  readonly method: string
  /** the client's cmd_id, if it gave one */
  readonly cmdId: string | undefined
  /** end a command of this connection by cmd_id (Unsubscribe); false when none */
  cancel(cmdId: string): boolean
}

export type Handler = (params: Params, ctx: Context) => Outcome
