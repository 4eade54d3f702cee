/**
 * V8 settings of the `clicktocall` command (not of the library: a program
 * that embeds the server keeps its own). Measured in docs/benchmarks.md,
 * "Issue 16, seventh stop".
 *
 * One setting: the optimizing compiler inlines at most 300 bytes of
 * bytecode into one function instead of V8's 920. A server that has just
 * started compiles its hot paths on V8's helper threads; with the smaller
 * budget those threads spent a fifth less CPU in the benchmark's cold runs,
 * and warm calls cost the same (no measurable difference in the main
 * thread's CPU per call). A value on node's command line wins.
 */
import { setFlagsFromString } from 'node:v8'

export const INLINE_BUDGET_FLAG = '--max-inlined-bytecode-size-cumulative'
export const INLINE_BUDGET = 300

/** the flags to set, given node's own arguments: none that the operator set already */
export function v8Flags(execArgv: readonly string[]): string[] {
  // node takes --a_b as --a-b
  const given = (flag: string): boolean => execArgv.some((a) => {
    const name = a.split('=')[0]!.replace(/_/g, '-')
    return name === flag
  })
  return given(INLINE_BUDGET_FLAG) ? [] : [`${INLINE_BUDGET_FLAG}=${INLINE_BUDGET}`]
}

/** set them, before the server runs (V8 reads the budget at each compilation) */
export function tuneV8(execArgv: readonly string[] = process.execArgv): string[] {
  const flags = v8Flags(execArgv)
  for (const f of flags) setFlagsFromString(f)
  return flags
}
