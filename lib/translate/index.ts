/**
 * Translation rules, with the original's semantics, on RE2 (linear time:
 * no pattern or address can stall the server).
 *
 * - A rule matches when its pattern is found anywhere in the address (an
 *   unanchored search, as PCRE's regexec did); patterns carry their own ^...$.
 * - The first matching rule, in file order, wins; no match = refused.
 * - In the output, `$1`..`$9` become the group's text (empty for a group that
 *   took no part); everything else is literal: `$0`, `$$`, `$&` stay as they are,
 *   and `$10` is group 1 followed by a literal `0` (one digit, as the original).
 */
import RE2 from 're2'
import { ConfigError } from '../errors'
import type { TranslationRule } from '../config'

export interface Translation {
  output: string
  rule: TranslationRule
}

export interface Translator {
  readonly rules: readonly TranslationRule[]
  translate(address: string): Translation | undefined
}

interface Compiled {
  rule: TranslationRule
  re: RE2
  /** output split into literal text and group numbers */
  parts: Array<string | number>
}

function splitOutput(output: string): Array<string | number> {
  const parts: Array<string | number> = []
  let literal = ''
  for (let i = 0; i < output.length; i++) {
    const c = output[i]!
    const d = output.charCodeAt(i + 1)
    if (c === '$' && d >= 49 && d <= 57) {
      if (literal) parts.push(literal)
      literal = ''
      parts.push(d - 48)
      i += 1
    } else {
      literal += c
    }
  }
  if (literal) parts.push(literal)
  return parts
}

export function compileRules(rules: readonly TranslationRule[]): Translator {
  const compiled: Compiled[] = rules.map((rule) => {
    let re: RE2
    try {
      re = new RE2(rule.pattern)
    } catch (err) {
      throw new ConfigError(
        `TranslationPattern "${rule.pattern}" is not accepted by RE2: ${(err as Error).message}`,
        rule.file,
        rule.line,
      )
    }
    return { rule, re, parts: splitOutput(rule.output) }
  })
  return {
    rules,
    translate(address: string): Translation | undefined {
      for (const c of compiled) {
        const m = c.re.exec(address)
        if (!m) continue
        let output = ''
        for (const p of c.parts) output += typeof p === 'number' ? (m[p] ?? '') : p
        return { output, rule: c.rule }
      }
      return undefined
    },
  }
}
