/** Command-line parsing: our long options, and the original's `-name value` settings. */
export interface CliArgs {
  command: 'run' | 'check-config' | 'translate' | 'help' | 'version' | 'demo'
  config: string | undefined
  logLevel: string | undefined
  address: string | undefined
  /** `-name value` settings that override the file, as the original takes them */
  settings: Array<[string, string]>
}

export class UsageError extends Error {}

/** the original's short forms */
const SHORT: Record<string, string> = {
  a: 'IPAddress',
  d: 'DNSServers',
  ci: 'ClickToCallIdentity',
  sp: 'UDPTCPPort',
  tp: 'TLSPort',
  td: 'TLSDomain',
  op: 'OutboundProxy',
  l: 'LogLevel',
}

export function parseArgs(argv: string[]): CliArgs {
  const out: CliArgs = { command: 'run', config: undefined, logLevel: undefined, address: undefined, settings: [] }
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const value = (): string => {
      const eq = a.indexOf('=')
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1)
      const v = argv[++i]
      if (v === undefined) throw new UsageError(`${a} needs a value`)
      return v
    }
    const name = a.startsWith('--') && a.includes('=') ? a.slice(0, a.indexOf('=')) : a
    switch (name) {
      case '-h':
      case '--help':
        out.command = 'help'
        break
      case '-V':
      case '--version':
        out.command = 'version'
        break
      case '-c':
      case '--config':
        out.config = value()
        break
      case '--log-level':
        out.logLevel = value()
        break
      case '--check-config':
        out.command = 'check-config'
        break
      case '-nk':
        out.settings.push(['KeepAlives', 'false'])
        break
      default:
        if (/^--?[A-Za-z]/.test(a)) {
          const key = a.replace(/^--?/, '')
          out.settings.push([SHORT[key] ?? key, value()])
        } else {
          rest.push(a)
        }
    }
  }
  if (rest.length > 0) {
    if (rest[0] === 'translate') {
      if (out.command === 'run') out.command = 'translate'
      out.address = rest[1]
      if (out.command === 'translate' && out.address === undefined) throw new UsageError('translate needs an ADDRESS')
      if (rest.length > 2) throw new UsageError(`unexpected argument "${rest[2]}"`)
    } else if (rest[0] === 'demo') {
      out.command = 'demo'
    } else if (rest[0] === 'check-config') {
      if (out.command === 'run') out.command = 'check-config'
    } else {
      throw new UsageError(`unknown command "${rest[0]}"`)
    }
  }
  return out
}

export const HELP = `Usage: clicktocall [options]              run the server
       clicktocall --check-config [options] check the configuration and exit
       clicktocall translate ADDRESS [opts]  show how ADDRESS is translated
       clicktocall demo                      place two calls between simulated phones
       clicktocall cdr [--since 1h] [--format text|csv|json]   call detail records
                                             (clicktocall cdr --help)

Options:
  -c, --config FILE      configuration file (default: ./clicktocall.config,
                         then /etc/clicktocall/clicktocall.config)
      --log-level LEVEL  NONE|CRIT|ERR|WARNING|INFO|DEBUG|STACK (overrides LogLevel)
  -NAME VALUE            any setting of the file, as the original takes it
                         (e.g. -xmlrpcport 0, -l DEBUG, -sp 5070; -nk: no keepalives)
  -h, --help             this text
  -V, --version          the version

Signals: SIGTERM/SIGINT stop gracefully; SIGHUP re-reads the configuration (rules,
         passwords, allow-lists, limits, timers; ports and bind addresses need a restart).
Exit codes: 0 ok, 64 usage, 66 configuration missing, 78 configuration invalid,
            69 a port could not be opened, 1 internal error.
`
