/** Declarations for the parts of the npm `sip` package (0.0.6) that clicktocall uses. */
declare module 'sip' {
  export interface SipUri {
    schema: string
    user?: string
    password?: string
    host: string
    port?: number
    params: Record<string, string | null>
    headers: Record<string, string>
  }
  export interface NameAddrHeader {
    name?: string
    uri: string
    params: Record<string, string | null>
  }
  export interface ViaHeader {
    version?: string
    protocol: string
    host: string
    port?: number
    params: Record<string, string | null>
  }
  export interface SipMessage {
    method?: string
    uri?: string
    status?: number
    reason?: string
    version?: string
    headers: Record<string, any>
    content?: string
  }
  export interface Address {
    protocol: string
    address: string
    port: number
  }
  export interface TransactionConnection {
    send(message: SipMessage): void
    protocol: string
    release(): void
  }
  export interface ClientTransaction {
    message(message: SipMessage, remote?: unknown): void
    shutdown(): void
  }
  export interface ServerTransaction {
    send(message: SipMessage): void
    message(message: SipMessage): void
    shutdown(): void
  }
  export interface TransactionLayer {
    createServerTransaction(rq: SipMessage, cn: TransactionConnection): ServerTransaction
    createClientTransaction(
      cn: TransactionConnection,
      rq: SipMessage,
      callback: (rs: SipMessage) => void,
    ): ClientTransaction
    getServer(m: SipMessage): ServerTransaction | undefined
    getClient(m: SipMessage): ClientTransaction | undefined
    destroy(): void
  }
  export function parse(s: string | Buffer): SipMessage | undefined
  export function stringify(m: SipMessage): string
  export function parseUri(s: string): SipUri | undefined
  export function stringifyUri(u: SipUri | string): string
  export function makeResponse(
    rq: SipMessage,
    status: number,
    reason?: string,
    extension?: { headers?: Record<string, unknown>; content?: string },
  ): SipMessage
  export function makeTransactionLayer(options: Record<string, unknown>, transport: unknown): TransactionLayer
  export function resolve(uri: SipUri, action: (addresses: Address[]) => void): void
}
