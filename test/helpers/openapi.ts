/**
 * Checks an HTTP answer against an OpenAPI 3.1 document: the path and
 * method exist, the status is documented, the content type matches, and
 * the body validates against the schema (the JSON Schema subset the
 * document uses: $ref, type, required, properties, additionalProperties,
 * items, enum, pattern, minimum, maximum, maxLength).
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type Schema = { [k: string]: Json }

function resolve(doc: Schema, s: Schema): Schema {
  let cur = s
  for (let i = 0; i < 10 && typeof cur.$ref === 'string'; i++) {
    const parts = (cur.$ref as string).replace(/^#\//, '').split('/')
    let node: Json = doc
    for (const p of parts) node = (node as Schema)[p] ?? null
    cur = node as Schema
  }
  return cur
}

function typeOf(v: Json): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number'
  return typeof v
}

export function validate(doc: Schema, schema: Schema, value: Json, at = ''): string[] {
  const s = resolve(doc, schema)
  if (Array.isArray(s.oneOf)) {
    const fits = (s.oneOf as Schema[]).filter((branch) => validate(doc, branch, value, at).length === 0).length
    return fits === 1 ? [] : [`${at || '/'}: fits ${fits} of the oneOf branches, not exactly one`]
  }
  const errors: string[] = []
  const t = typeOf(value)
  if (s.type !== undefined) {
    const types = (Array.isArray(s.type) ? s.type : [s.type]) as string[]
    const ok = types.includes(t) || (t === 'integer' && types.includes('number'))
    if (!ok) return [`${at || '/'}: ${t} is not ${types.join('|')}`]
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => e === value)) errors.push(`${at || '/'}: ${JSON.stringify(value)} not in enum`)
  if (typeof value === 'string') {
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern).test(value)) errors.push(`${at}: does not match ${s.pattern}`)
    if (typeof s.maxLength === 'number' && value.length > s.maxLength) errors.push(`${at}: longer than ${s.maxLength}`)
  }
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) errors.push(`${at}: < ${s.minimum}`)
    if (typeof s.maximum === 'number' && value > s.maximum) errors.push(`${at}: > ${s.maximum}`)
  }
  if (t === 'object' && value !== null && !Array.isArray(value) && typeof value === 'object') {
    const obj = value as { [k: string]: Json }
    for (const r of (s.required ?? []) as string[]) if (!(r in obj)) errors.push(`${at}/${r}: required`)
    const props = (s.properties ?? {}) as { [k: string]: Schema }
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errors.push(...validate(doc, props[k]!, v, `${at}/${k}`))
      else if (s.additionalProperties === false) errors.push(`${at}/${k}: not allowed`)
    }
  }
  if (Array.isArray(value) && s.items) value.forEach((v, i) => errors.push(...validate(doc, s.items as Schema, v, `${at}/${i}`)))
  return errors
}

/** the documented operation for a concrete path ('/v1/calls/abc' matches '/v1/calls/{id}') */
export function operation(doc: Schema, path: string, method: string): Schema | undefined {
  const paths = doc.paths as { [k: string]: Schema }
  for (const [template, item] of Object.entries(paths)) {
    const re = new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`)
    if (re.test(path)) return item[method.toLowerCase()] as Schema | undefined
  }
  return undefined
}

/** every problem with this answer, [] when it conforms */
export function checkAnswer(doc: Schema, method: string, path: string, status: number, contentType: string, body: string): string[] {
  const op = operation(doc, path, method)
  if (!op) return [`${method} ${path}: not in the document`]
  const responses = op.responses as { [k: string]: Schema }
  const r = responses[String(status)]
  if (!r) return [`${method} ${path}: status ${status} not documented`]
  const content = r.content as { [k: string]: Schema } | undefined
  if (!content) return body === '' ? [] : [`${method} ${path} ${status}: a body where none is documented`]
  const type = contentType.split(';')[0]!.trim()
  const media = content[type]
  if (!media) return [`${method} ${path} ${status}: content type ${type} not documented (${Object.keys(content).join(', ')})`]
  let value: Json
  try {
    value = JSON.parse(body) as Json
  } catch {
    return [`${method} ${path} ${status}: body is not JSON`]
  }
  return validate(doc, media.schema as Schema, value).map((e) => `${method} ${path} ${status}: ${e}`)
}
