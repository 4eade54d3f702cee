/** The call layer's contract (lib/call/api.ts), as this front-end imports it: one place to point at. */
export type * from '../call/api'
