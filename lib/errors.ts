/**
 * Stable error classes with codes, in one place (as undici does). Every code
 * is documented in docs/errors.md. Append new codes here; never rename one.
 */
export class ClickToCallError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'ClickToCallError'
  }
}

/** A configuration file or value is wrong. `file` and `line` locate it when known. */
export class ConfigError extends ClickToCallError {
  readonly file: string | undefined
  readonly line: number | undefined
  constructor(message: string, file?: string, line?: number, code = 'CTC_ERR_CONFIG') {
    super(code, file !== undefined ? `${file}${line !== undefined ? `:${line}` : ''}: ${message}` : message)
    this.name = 'ConfigError'
    this.file = file
    this.line = line
  }
}

/** A listening socket could not be opened (port taken, address not local...). */
export class BindError extends ClickToCallError {
  constructor(what: string, address: string, port: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    super('CTC_ERR_BIND', `cannot listen for ${what} on ${address || '*'}:${port}: ${reason}`, { cause })
    this.name = 'BindError'
  }
}

/** Process exit codes, distinct per failure class (documented in docs/errors.md). */
export const ExitCode = {
  OK: 0,
  /** unexpected internal error */
  INTERNAL: 1,
  /** command-line usage error */
  USAGE: 64,
  /** configuration file missing or unreadable */
  CONFIG_MISSING: 66,
  /** configuration file has an invalid value */
  CONFIG_INVALID: 78,
  /** a listening socket could not be opened */
  BIND: 69,
} as const
