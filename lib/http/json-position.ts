/**
 * Where a JSON text first goes wrong (node's JSON.parse does not always
 * say): a small scanner of RFC 8259's grammar that returns the offset of
 * the first character that cannot belong there, or -1 when the text is
 * valid. Only run on a text JSON.parse refused; nesting is bounded.
 */
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const MAX_DEPTH = 256

export function jsonErrorOffset(text: string): number {
  let i = 0
  const fail = (): never => {
    throw new RangeError(String(i))
  }
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++
  }
  const str = (): void => {
    i++
    while (i < text.length) {
      const c = text.charCodeAt(i)
      if (c === 0x22) {
        i++
        return
      }
      if (c < 0x20) fail()
      if (c === 0x5c) {
        i++
        if ('"\\/bfnrt'.includes(text[i] ?? 'x')) i++
        else if (text[i] === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) i += 5
        else fail()
        continue
      }
      i++
    }
    fail()
  }
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) fail()
    ws()
    const c = text[i]
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']'
      i++
      ws()
      if (text[i] === close) {
        i++
        return
      }
      for (;;) {
        if (c === '{') {
          ws()
          if (text[i] !== '"') fail()
          str()
          ws()
          if (text[i] !== ':') fail()
          i++
        }
        value(depth + 1)
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === close) {
          i++
          return
        }
        fail()
      }
    }
    if (c === '"') return str()
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length
        return
      }
    }
    NUMBER.lastIndex = i
    if (NUMBER.test(text)) {
      i = NUMBER.lastIndex
      return
    }
    fail()
  }
  try {
    value(0)
    ws()
    if (i < text.length) fail()
    return -1
  } catch (err) {
    if (err instanceof RangeError && /^\d+$/.test(err.message)) return Number(err.message)
    throw err
  }
}
