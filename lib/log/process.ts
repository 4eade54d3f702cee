/**
 * The process's last line of defence: a promise rejection that no code
 * handled is logged and counted instead of ending the process (Node's
 * default), which would drop every call in progress. Each one is a bug;
 * the count is in the log line so an operator can alert on it.
 */
import type { Logger } from 'pino'

export interface ProcessGuard {
  /** unhandled rejections seen since start */
  readonly unhandledRejections: number
  remove(): void
}

export function guardProcess(logger: Logger): ProcessGuard {
  let count = 0
  const onRejection = (reason: unknown): void => {
    count += 1
    logger.error({ err: reason, unhandledRejections: count }, 'unhandled promise rejection (a bug; the server keeps running)')
  }
  process.on('unhandledRejection', onRejection)
  return {
    get unhandledRejections() {
      return count
    },
    remove() {
      process.off('unhandledRejection', onRejection)
    },
  }
}
