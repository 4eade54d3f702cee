/**
 * `clicktocall cdr`: print call detail records from the CdrDatabase the
 * server writes (opened read-only; safe while the server runs).
 */
import path from 'node:path'
import { ExitCode, ConfigError } from '../errors'
import { applyOverrides, defaultConfig, findConfigFile, loadConfig, type Config } from '../config'
import {
  CSV_HEADER,
  CdrQueryError,
  CdrUnavailableError,
  MAX_LIMIT,
  SqliteCdrStore,
  parseTime,
  queryFromParams,
  recordCsv,
  recordJson,
  type CdrRecord,
} from '../store'
import pino from 'pino'

type Out = (line: string) => void

export const CDR_HELP = `Usage: clicktocall cdr [options]    print call detail records, oldest first

  --since TIME         calls created at or after TIME (default 24h): ISO 8601
                       (2026-11-30T10:00:00Z, 2026-11-30), epoch ms, or back from
                       now: 90m, 1h, 7d
  --until TIME         calls created before TIME
  --initiator X        initiator as given or translated (* is a wildcard)
  --destination X      destination as given or translated (* is a wildcard)
  --outcome LIST       completed,busy,no-answer,rejected,failed,cancelled,joined
  --setup-id ID        the client's setup id
  --limit N            at most N records (default 1000; 0 = all)
  --format FMT         text (default), csv or json
  --database FILE      the SQLite file (default: CdrDatabase of the configuration)
  -c, --config FILE    configuration file, as for the server
  -NAME VALUE          any setting, as for the server
`

const FLAGS: Record<string, string> = {
  '--initiator': 'initiator',
  '--destination': 'destination',
  '--outcome': 'outcome',
  '--setup-id': 'setupId',
}

/** is `cdr` the command word of this command line (not an option's value)? */
export function isCdrCommand(argv: string[]): boolean {
  const noValue = new Set(['-h', '--help', '-V', '--version', '--check-config', '-nk'])
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (noValue.has(a) || /^--[^=]+=/.test(a)) continue
    if (a.startsWith('-') && a.length > 1) {
      i++
      continue
    }
    return a === 'cdr'
  }
  return false
}

function seconds(ms: number | null): string {
  return ms === null ? '-' : `${(ms / 1000).toFixed(1)}s`
}

function textLine(r: CdrRecord): string {
  const when = new Date(r.createdAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
  return [
    when,
    r.callId,
    `${r.initiator} -> ${r.destination}`,
    r.outcome,
    r.code ?? '-',
    `setup ${seconds(r.setupMs)}`,
    `talk ${seconds(r.talkMs)}`,
    `ended by ${r.endedBy}`,
    r.mode ?? '-',
  ].join('  ')
}

export async function runCdr(argv: string[], out: Out, err: Out): Promise<number> {
  const params = new URLSearchParams({ order: 'asc' })
  let format = 'text'
  let limit = 1000
  let database: string | undefined
  let configFile: string | undefined
  const settings: Array<[string, string]> = []
  let since: string | undefined = '24h'
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!
      if (a === 'cdr') continue
      if (a === '-h' || a === '--help') {
        out(CDR_HELP)
        return ExitCode.OK
      }
      const eq = a.startsWith('--') ? a.indexOf('=') : -1
      const name = eq > 0 ? a.slice(0, eq) : a
      if (!name.startsWith('-')) throw new CdrQueryError(`unexpected argument "${a}"`)
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i]
      if (value === undefined) throw new CdrQueryError(`${name} needs a value`)
      if (name === '--since') since = value
      else if (name === '--until') params.set('to', String(parseTime(value, '--until')))
      else if (FLAGS[name]) params.set(FLAGS[name]!, value)
      else if (name === '--format') {
        if (!['text', 'csv', 'json'].includes(value)) throw new CdrQueryError(`--format: text, csv or json, not "${value}"`)
        format = value
      } else if (name === '--limit') {
        if (!/^\d{1,9}$/.test(value)) throw new CdrQueryError(`--limit: a whole number, not "${value}"`)
        limit = Number(value)
      } else if (name === '--database') database = value
      else if (name === '-c' || name === '--config') configFile = value
      else settings.push([name.replace(/^--?/, ''), value])
    }
    if (since !== undefined) params.set('from', String(parseTime(since, '--since')))
    queryFromParams(params) // argument errors before the database is opened
  } catch (e) {
    if (e instanceof CdrQueryError) {
      err(`clicktocall cdr: ${e.message}`)
      err('Try clicktocall cdr --help')
      return ExitCode.USAGE
    }
    throw e
  }

  if (database === undefined) {
    let config: Config
    try {
      const file = findConfigFile(configFile)
      config = applyOverrides(file ? loadConfig(file).config : defaultConfig(), settings)
    } catch (e) {
      if (e instanceof ConfigError) {
        err(`clicktocall cdr: ${e.message}`)
        return e.code === 'CTC_ERR_CONFIG_MISSING' ? ExitCode.CONFIG_MISSING : ExitCode.CONFIG_INVALID
      }
      throw e
    }
    if (!config.cdrDatabase) {
      err('clicktocall cdr: CdrDatabase is blank in the configuration: no records are kept (or give --database FILE)')
      return ExitCode.CONFIG_INVALID
    }
    database = config.cdrDatabase
  }

  let store: SqliteCdrStore
  try {
    store = new SqliteCdrStore({ path: database, retentionDays: 0, readonly: true, logger: pino({ level: 'silent' }) })
  } catch (e) {
    if (e instanceof CdrUnavailableError) {
      err(`clicktocall cdr: ${e.message}`)
      err(`  (looked at ${path.resolve(database)}; a relative CdrDatabase is relative to the server's working directory, /var/lib/clicktocall under systemd: give --database FILE)`)
      return ExitCode.CONFIG_MISSING
    }
    throw e
  }
  try {
    let printed = 0
    if (format === 'csv') out(CSV_HEADER)
    if (format === 'json') out('[')
    let cursor: string | undefined
    for (;;) {
      const pageSize = limit === 0 ? MAX_LIMIT : Math.min(MAX_LIMIT, limit - printed)
      if (pageSize <= 0) break
      params.set('limit', String(pageSize))
      if (cursor) params.set('cursor', cursor)
      const page = store.query(queryFromParams(params))
      for (const r of page.records) {
        if (format === 'csv') out(recordCsv(r))
        else if (format === 'json') out(`${printed > 0 ? ',' : ''}${JSON.stringify(recordJson(r))}`)
        else out(textLine(r))
        printed++
      }
      if (!page.nextCursor) break
      cursor = page.nextCursor
    }
    if (format === 'json') out(']')
    if (format === 'text') err(`${printed} call${printed === 1 ? '' : 's'}`)
    return ExitCode.OK
  } catch (e) {
    if (e instanceof CdrUnavailableError) {
      err(`clicktocall cdr: ${e.message}`)
      return ExitCode.CONFIG_MISSING
    }
    throw e
  } finally {
    await store.close()
  }
}
