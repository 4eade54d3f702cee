/**
 * A receiver URL from the configuration: http(s) only; credentials in it
 * (`https://user:pass@host/...`) become a Basic Authorization header (fetch
 * refuses URLs with credentials); `display` is what logs show: no
 * credentials, no query (action URLs carry tokens there).
 */
export interface Target {
  url: URL
  display: string
  headers: Record<string, string>
}

export function parseTarget(text: string): Target {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new Error(`"${text}" is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${url.protocol}" URLs are not supported (http: or https:)`)
  const headers: Record<string, string> = {}
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username)
    const pass = decodeURIComponent(url.password)
    headers.Authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
    url.username = ''
    url.password = ''
  }
  return { url, display: `${url.origin}${url.pathname}`, headers }
}
