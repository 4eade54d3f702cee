/**
 * The `clicktocall` command: run the server, check a config, or show a
 * translation. Returns the exit code (see HELP and lib/errors.ts ExitCode).
 */
import { ExitCode, ConfigError, BindError } from '../errors'
import { applyOverrides, findConfigFile, loadConfig, type Config } from '../config'
import { compileRules } from '../translate'
import { createLogger, guardProcess } from '../log'
import { startServer, validateConfig } from '../server'
import { version } from '../version'
import { HELP, UsageError, parseArgs, type CliArgs } from './args'
import { isCdrCommand, runCdr } from './cdr'

type Out = (line: string) => void

function load(args: CliArgs, err: Out): { config: Config; warnings: string[] } {
  const file = findConfigFile(args.config)
  if (!file) {
    throw new ConfigError(
      'no configuration file: give --config FILE, or create ./clicktocall.config or /etc/clicktocall/clicktocall.config',
      undefined,
      undefined,
      'CTC_ERR_CONFIG_MISSING',
    )
  }
  const { config, warnings } = loadConfig(file)
  let merged = applyOverrides(config, args.settings)
  if (args.logLevel) merged = applyOverrides(merged, [['LogLevel', args.logLevel]])
  // the same check as start-up and SIGHUP: a rule RE2 refuses, HttpAuth without a password, unreadable TLS files...
  const checked = validateConfig(merged)
  void err
  return {
    config: merged,
    warnings: [
      ...warnings.map((w) => `${w.file}:${w.line}: warning: ${w.message}`),
      ...checked.warnings.map((w) => `${merged.file ?? 'config'}: warning: ${w}`),
    ],
  }
}

export async function main(argv: string[], out: Out = (l) => process.stdout.write(`${l}\n`), err: Out = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  if (isCdrCommand(argv)) return runCdr(argv, out, err)
  let args: CliArgs
  try {
    args = parseArgs(argv)
  } catch (e) {
    err(`clicktocall: ${(e as Error).message}`)
    err('Try clicktocall --help')
    return ExitCode.USAGE
  }
  if (args.command === 'help') {
    out(HELP)
    return ExitCode.OK
  }
  if (args.command === 'version') {
    out(`clicktocall ${version}`)
    return ExitCode.OK
  }
  if (args.command === 'demo') {
    const { runDemo } = await import('../demo')
    return runDemo(out)
  }
  let loaded: { config: Config; warnings: string[] }
  try {
    loaded = load(args, err)
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`clicktocall: ${e.message}`)
      return e.code === 'CTC_ERR_CONFIG_MISSING' ? ExitCode.CONFIG_MISSING : ExitCode.CONFIG_INVALID
    }
    if (e instanceof UsageError) {
      err(`clicktocall: ${e.message}`)
      return ExitCode.USAGE
    }
    throw e
  }
  const { config, warnings } = loaded
  for (const w of warnings) err(w)

  if (args.command === 'check-config') {
    out(`${config.file}: OK (${config.translationRules.length} translation rules)`)
    return ExitCode.OK
  }
  if (args.command === 'translate') {
    const t = compileRules(config.translationRules).translate(args.address!)
    if (!t) {
      out(`${args.address}: no translation rule matches (${config.translationRules.length} rules tried)`)
      return ExitCode.CONFIG_INVALID
    }
    out(`${args.address} -> ${t.output}`)
    out(`  rule ${t.rule.file}:${t.rule.line}: TranslationPattern=${t.rule.pattern} TranslationOutput=${t.rule.output}`)
    return ExitCode.OK
  }
  return run(config, args, err)
}

async function run(config: Config, args: CliArgs, err: Out): Promise<number> {
  const logger = createLogger({ level: config.logLevel, file: config.logFilename, maxLines: config.logFileMaxLines })
  guardProcess(logger)
  let server: Awaited<ReturnType<typeof startServer>>
  try {
    server = await startServer(config, logger)
  } catch (e) {
    if (e instanceof BindError) {
      logger.fatal({ err: e.message }, 'cannot start')
      err(`clicktocall: ${e.message}`)
      return ExitCode.BIND
    }
    if (e instanceof ConfigError) {
      err(`clicktocall: ${e.message}`)
      return ExitCode.CONFIG_INVALID
    }
    logger.fatal({ err: e }, 'cannot start')
    throw e
  }
  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) return
      stopping = true
      logger.info({ signal }, 'stopping')
      server.close(5000).then(
        () => {
          logger.flush?.()
          resolve(ExitCode.OK)
        },
        (e: unknown) => {
          logger.error({ err: e }, 'error while stopping')
          resolve(ExitCode.INTERNAL)
        },
      )
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
    process.on('SIGHUP', () => {
      try {
        const next = load(args, err)
        for (const w of next.warnings) logger.warn(w)
        server.reload(next.config)
      } catch (e) {
        logger.error({ err: (e as Error).message }, 'configuration not reloaded: the running configuration stays in force')
      }
    })
  })
}
