/** Call identifiers: 16 hex digits from the system's CSPRNG (unguessable: they steer calls). */
import { randomBytes } from 'node:crypto'

export function randomId(): string {
  return randomBytes(8).toString('hex')
}
