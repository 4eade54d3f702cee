/**
 * The long waits of ended SIP state, without a timer each. After its final
 * response a transaction only waits, to absorb retransmissions, for 64*T1
 * (Timers J, L, M: 32 s) or T4 (Timers I, K: 5 s); an ended INVITE and its
 * dialog keep their ACK and late-2xx handling for 64*T1. A REFER call left
 * seven such timers behind for 32 s: 7 Timeout objects (with closures and
 * contexts) per call, ~11 KiB of heap per ended call in all at 500 calls/s
 * (docs/benchmarks.md, issue 16).
 *
 * Waits of one length end in the order they began, so each length is a
 * FIFO queue with one timer, armed for its head. An entry is not cancelled:
 * its owner ignores an `expire()` that comes after it ended otherwise.
 */

export interface Expiring {
  /** the wait is over (called once, from a timer; an owner that ended meanwhile does nothing) */
  expire(): void
}

/** one queue: the waits of one length, oldest first */
class Lane {
  private items: Array<Expiring | undefined> = []
  private deadlines: number[] = []
  private head = 0
  private timer: NodeJS.Timeout | undefined = undefined

  constructor(
    private readonly ms: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  get size(): number {
    return this.items.length - this.head
  }

  add(item: Expiring, now: number): void {
    this.items.push(item)
    this.deadlines.push(now + this.ms)
    if (this.timer === undefined) this.arm(now)
  }

  private arm(now: number): void {
    const wait = Math.max(0, this.deadlines[this.head]! - now)
    this.timer = setTimeout(runLane, wait, this)
    // a wait of ended state does not keep the process alive (the stack's close() clears it anyway)
    this.timer.unref()
  }

  run(): void {
    this.timer = undefined
    const now = performance.now()
    // those due now, at most all that are queued: an expire() that adds to this lane waits for the next run
    const end = this.items.length
    while (this.head < end && this.deadlines[this.head]! <= now) {
      const item = this.items[this.head]!
      this.items[this.head] = undefined
      this.head += 1
      try {
        item.expire()
      } catch (err) {
        // an owner's bug is reported and does not stop the others' waits
        this.onError(err)
      }
    }
    // drop the spent front once the lane is empty, or once it is most of the arrays
    if (this.head === this.items.length) {
      this.items = []
      this.deadlines = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.deadlines = this.deadlines.slice(this.head)
      this.head = 0
    }
    if (this.head < this.items.length) this.arm(now)
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.items = []
    this.deadlines = []
    this.head = 0
  }
}

/** setTimeout's extra argument instead of a closure per lane */
function runLane(lane: Lane): void {
  lane.run()
}

export class Waits {
  private readonly lanes = new Map<number, Lane>()

  /** `onError`: an `expire()` threw (a bug of its owner) */
  constructor(private readonly onError: (err: unknown) => void = () => undefined) {}

  /** `item.expire()` in `ms` milliseconds (rounded to whole ms: one lane per length) */
  after(ms: number, item: Expiring): void {
    const key = Math.max(0, Math.round(ms))
    let lane = this.lanes.get(key)
    if (lane === undefined) {
      lane = new Lane(key, this.onError)
      this.lanes.set(key, lane)
    }
    lane.add(item, performance.now())
  }

  /** waits pending, over all lengths */
  get size(): number {
    let n = 0
    for (const lane of this.lanes.values()) n += lane.size
    return n
  }

  /** forget every wait (the stack is closing) */
  clear(): void {
    for (const lane of this.lanes.values()) lane.clear()
    this.lanes.clear()
  }
}
