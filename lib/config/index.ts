/** Configuration: the original's file format, defaults and validation. Pure. */
import { existsSync } from 'node:fs'
export type { Config, ConfigWarning, TranslationRule } from './types'
export { parseConfig, loadConfig, applyOverrides, type LoadedConfig } from './parse'
export { defaultConfig, SETTINGS } from './settings'

/** The original reads ./clicktocall.config; we also look in /etc/clicktocall/. */
export const CONFIG_CANDIDATES = ['clicktocall.config', '/etc/clicktocall/clicktocall.config']

export function findConfigFile(explicit?: string): string | undefined {
  if (explicit) return explicit
  return CONFIG_CANDIDATES.find((p) => existsSync(p))
}
