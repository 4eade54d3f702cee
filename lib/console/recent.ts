/** The last calls that ended, newest first, in a fixed-size ring (the history when no CDR store answers). */
import type { CallSnapshot } from '../call'

export class RecentCalls {
  private readonly items: CallSnapshot[] = []

  constructor(private readonly size: number) {}

  add(snap: CallSnapshot): void {
    const i = this.items.findIndex((s) => s.id === snap.id)
    if (i >= 0) this.items.splice(i, 1)
    this.items.unshift(snap)
    if (this.items.length > this.size) this.items.length = this.size
  }

  list(): CallSnapshot[] {
    return [...this.items]
  }
}
