/**
 * Logging: pino JSON lines to stdout or to LogFilename (written
 * synchronously, so the last lines survive an exit), rotated to `.old` after
 * LogFileMaxLines lines as the original does. Secrets are redacted.
 */
import fs from 'node:fs'
import path from 'node:path'
import pino, { type Logger, type DestinationStream } from 'pino'

export type { Logger }

/** The original's LogLevel names, mapped to pino's. */
const LEVELS: Record<string, pino.LevelWithSilent> = {
  NONE: 'silent',
  CRIT: 'fatal',
  ERR: 'error',
  WARNING: 'warn',
  INFO: 'info',
  DEBUG: 'debug',
  STACK: 'trace',
}

export function pinoLevel(level: string): pino.LevelWithSilent {
  const mapped = LEVELS[level.toUpperCase()]
  if (mapped) return mapped
  const lower = level.toLowerCase()
  if (['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(lower)) return lower as pino.LevelWithSilent
  throw new Error(`unknown log level "${level}"`)
}

export const REDACT_PATHS = [
  'password',
  'httpAuthPwd',
  'sipAuthPassword',
  '*.password',
  '*.httpAuthPwd',
  '*.sipAuthPassword',
  'config.httpAuthPwd',
  'config.sipAuthPassword',
  'jsonRpcToken',
  '*.jsonRpcToken',
  'config.jsonRpcToken',
  'token',
  '*.token',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'req.headers.authorization',
  'authorization',
  '["proxy-authorization"]',
]

/** A synchronous file destination that renames the file to `.old` after maxLines lines. */
export class RotatingFile implements DestinationStream {
  private fd: number
  private lines = 0

  constructor(
    private readonly file: string,
    private readonly maxLines: number,
  ) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
    this.fd = fs.openSync(file, 'a')
    if (maxLines > 0) {
      try {
        const existing = fs.readFileSync(file, 'utf8')
        for (let i = 0; i < existing.length; i++) if (existing.charCodeAt(i) === 10) this.lines++
      } catch {
        this.lines = 0
      }
    }
  }

  write(msg: string): void {
    if (this.maxLines > 0 && this.lines >= this.maxLines) this.rotate()
    fs.writeSync(this.fd, msg)
    this.lines++
  }

  private rotate(): void {
    fs.closeSync(this.fd)
    try {
      fs.renameSync(this.file, `${this.file}.old`)
    } catch {
      // keep writing to the same file if it cannot be renamed
    }
    this.fd = fs.openSync(this.file, 'a')
    this.lines = 0
  }

  flushSync(): void {
    fs.fsyncSync(this.fd)
  }

  end(): void {
    fs.closeSync(this.fd)
  }
}

export interface LoggerOptions {
  /** the original's name (INFO) or pino's (info) */
  level: string
  /** log file; undefined or '' = standard output */
  file?: string
  /** rotate after this many lines (0 = never) */
  maxLines?: number
}

export function createLogger(options: LoggerOptions): Logger {
  const level = pinoLevel(options.level)
  const destination: DestinationStream = options.file
    ? new RotatingFile(options.file, options.maxLines ?? 0)
    : pino.destination({ dest: 1, sync: true })
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  )
}

/** A logger that writes nothing (tests, --check-config). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
export { guardProcess, type ProcessGuard } from './process'
