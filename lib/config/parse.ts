/**
 * The original's config format, read line by line (why not `ini`: see the
 * README's design notes): `Name = Value`; `#` starts a comment only as the
 * first non-blank character; the name ends at the first `=`, space or tab;
 * names are case-insensitive; values may be blank and keep every inner
 * character (`sip:$1@gw;user=phone`, `^\*(\d+)#$`); trailing white space
 * (and a CR) is trimmed. `TranslationPattern` starts a rule that the next
 * `TranslationOutput` completes; rules keep file order.
 */
import { readFileSync } from 'node:fs'
import { ConfigError } from '../errors'
import type { Config, ConfigWarning } from './types'
import { SETTINGS_BY_NAME, defaultConfig } from './settings'
import { header } from './values'

export interface LoadedConfig {
  config: Config
  warnings: ConfigWarning[]
}

const MAX_FILE_BYTES = 4 * 1024 * 1024

export function parseConfig(text: string, file: string, base: Config = defaultConfig()): LoadedConfig {
  const config: Config = { ...base, file, translationRules: [], initiatorHeaders: [] }
  const warnings: ConfigWarning[] = []
  let pendingPattern = false
  /** repeatable settings seen in this file: later lines add to the list */
  const repeated = new Set<string>()
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1
    const line = lines[i]!.replace(/^[ \t]+/, '').replace(/[ \t\r]+$/, '')
    if (line === '' || line.startsWith('#')) continue
    const nameEnd = line.search(/[= \t]/)
    const name = nameEnd < 0 ? line : line.slice(0, nameEnd)
    const rest = nameEnd < 0 ? '' : line.slice(nameEnd).replace(/^[ \t]*/, '')
    if (!rest.startsWith('=')) throw new ConfigError(`"${name}" has no "=" (expected ${name} = value)`, file, lineNo)
    const value = rest.slice(1).replace(/^[ \t]+/, '')
    const key = name.toLowerCase()
    if (key === 'translationpattern') {
      if (pendingPattern) {
        const last = config.translationRules.at(-1)!
        warnings.push({ file, line: last.line, message: `TranslationPattern "${last.pattern}" has no TranslationOutput: its output is empty` })
      }
      config.translationRules.push({ pattern: value, output: '', file, line: lineNo })
      pendingPattern = true
      continue
    }
    if (key === 'translationoutput') {
      if (!pendingPattern) throw new ConfigError('TranslationOutput without a TranslationPattern before it', file, lineNo)
      config.translationRules.at(-1)!.output = value
      pendingPattern = false
      continue
    }
    if (key === 'initiatorheader') {
      try {
        config.initiatorHeaders.push(header(value))
      } catch (err) {
        throw new ConfigError(`InitiatorHeader: ${(err as Error).message}`, file, lineNo)
      }
      continue
    }
    const setting = SETTINGS_BY_NAME.get(key)
    if (!setting) {
      warnings.push({ file, line: lineNo, message: `unknown setting "${name}" ignored` })
      continue
    }
    try {
      const parsed = setting.parse(value)
      const fields = config as unknown as Record<string, unknown>
      if (setting.repeat && repeated.has(setting.field)) fields[setting.field] = [...(fields[setting.field] as unknown[]), ...(parsed as unknown[])]
      else fields[setting.field] = parsed
      if (setting.repeat) repeated.add(setting.field)
    } catch (err) {
      throw new ConfigError(`${setting.name}: ${(err as Error).message}`, file, lineNo)
    }
  }
  if (pendingPattern) {
    const last = config.translationRules.at(-1)!
    warnings.push({ file, line: last.line, message: `TranslationPattern "${last.pattern}" has no TranslationOutput: its output is empty` })
  }
  return { config, warnings }
}

export function loadConfig(path: string): LoadedConfig {
  let text: string
  try {
    const buf = readFileSync(path)
    if (buf.length > MAX_FILE_BYTES) throw new ConfigError(`file is larger than ${MAX_FILE_BYTES} bytes`, path)
    text = buf.toString('utf8')
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError(`cannot read the configuration: ${(err as Error).message}`, path, undefined, 'CTC_ERR_CONFIG_MISSING')
  }
  return parseConfig(text, path)
}

/**
 * Command-line settings as the original takes them (`-xmlrpcport 0`,
 * `--LogLevel DEBUG`): they override the file.
 */
export function applyOverrides(config: Config, overrides: Array<[string, string]>): Config {
  const out: Config = { ...config }
  for (const [name, value] of overrides) {
    const setting = SETTINGS_BY_NAME.get(name.toLowerCase())
    if (!setting) throw new ConfigError(`unknown setting "${name}" on the command line`, 'command line')
    try {
      ;(out as unknown as Record<string, unknown>)[setting.field] = setting.parse(value)
    } catch (err) {
      throw new ConfigError(`${setting.name}: ${(err as Error).message}`, 'command line')
    }
  }
  return out
}
