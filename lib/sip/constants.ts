/** What this user agent says of itself in Allow (RFC 3261 §20.5). */
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY'
// No Supported header (§20.37): the stack implements no option tag (no
// Replaces, no norefersub, no timer), and advertising one invites requests it
// cannot honour.
