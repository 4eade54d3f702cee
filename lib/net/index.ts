/** Peer addresses for every listener: allow-lists, loopback, per-address keys. Knows nothing else. */
export { addressKey, allowList, isAllowed, isLoopback, unmapped } from './address'
