/** What this user agent says of itself in Allow and Supported (RFC 3261 §20.5, §20.37). */
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY'
export const SUPPORTED = 'replaces, norefersub'
