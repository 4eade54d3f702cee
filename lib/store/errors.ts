/** The store's coded errors (listed in docs/errors.md). */
import { ClickToCallError } from '../errors'

/** A CDR query argument is wrong: the API answers 400, the command line exits 64. */
export class CdrQueryError extends ClickToCallError {
  constructor(message: string) {
    super('CTC_ERR_CDR_QUERY', message)
    this.name = 'CdrQueryError'
  }
}

/** The CDR database cannot be opened or read (missing file, not a database, locked). */
export class CdrUnavailableError extends ClickToCallError {
  constructor(message: string, cause?: unknown) {
    super('CTC_ERR_CDR_UNAVAILABLE', message, { cause })
    this.name = 'CdrUnavailableError'
  }
}
