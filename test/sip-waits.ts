/**
 * lib/sip/waits.ts: the long waits of ended SIP state, one FIFO queue and
 * one timer per length instead of a timer per wait.
 */
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Waits } from '../lib/sip/waits'

t.test('each wait ends after its length, in order, lengths mixed', async (t) => {
  const waits = new Waits()
  const start = performance.now()
  const ended: Array<{ name: string; at: number }> = []
  const item = (name: string) => ({ expire: () => ended.push({ name, at: performance.now() - start }) })
  waits.after(60, item('a60'))
  waits.after(20, item('b20'))
  waits.after(60, item('c60'))
  waits.after(20, item('d20'))
  t.equal(waits.size, 4)
  for (let i = 0; i < 100 && ended.length < 4; i++) await sleep(10)
  t.same(
    ended.map((e) => e.name),
    ['b20', 'd20', 'a60', 'c60'],
    'by deadline; one length in the order the waits began',
  )
  for (const e of ended) t.ok(e.at >= Number(e.name.slice(1)) - 1, `${e.name} not before its length (${e.at.toFixed(1)} ms)`)
  t.equal(waits.size, 0, 'none left')
})

t.test('a wait added later in the same lane ends later; the lane timer does not hold the process', async (t) => {
  const waits = new Waits()
  const ended: string[] = []
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const before = timers()
  waits.after(30, { expire: () => ended.push('first') })
  // the lane's timer is unref'd: an idle stack does not keep the process alive
  t.equal(timers(), before, 'a pending wait adds no ref-counted timer')
  await sleep(15)
  waits.after(30, { expire: () => ended.push('second') })
  await sleep(25)
  t.same(ended, ['first'], 'the first is over, the second, added 15 ms later, not yet')
  for (let i = 0; i < 50 && ended.length < 2; i++) await sleep(5)
  t.same(ended, ['first', 'second'])
})

t.test('thousands of waits: one lane, all end, the arrays do not keep the spent ones', async (t) => {
  const waits = new Waits()
  let n = 0
  for (let i = 0; i < 5000; i++) waits.after(10, { expire: () => (n += 1) })
  t.equal(waits.size, 5000)
  for (let i = 0; i < 100 && n < 5000; i++) await sleep(10)
  t.equal(n, 5000, 'every wait ended once')
  t.equal(waits.size, 0)
  const lane = (waits as unknown as { lanes: Map<number, { items: unknown[]; deadlines: number[] }> }).lanes.get(10)!
  t.equal(lane.items.length + lane.deadlines.length, 0, 'the spent entries were dropped from the arrays')
})

t.test('an expire() that throws is reported and does not stop the others', async (t) => {
  const errors: unknown[] = []
  const waits = new Waits((err) => errors.push(err))
  const ended: string[] = []
  waits.after(5, { expire: () => ended.push('before') })
  waits.after(5, {
    expire: () => {
      throw new Error('owner bug')
    },
  })
  waits.after(5, { expire: () => ended.push('after') })
  for (let i = 0; i < 50 && ended.length < 2; i++) await sleep(5)
  t.same(ended, ['before', 'after'])
  t.equal(errors.length, 1)
  t.match((errors[0] as Error).message, 'owner bug')
})

t.test('an expire() that adds a wait of the same length: it waits its whole length', async (t) => {
  const waits = new Waits()
  const at: number[] = []
  const start = performance.now()
  waits.after(20, {
    expire: () => {
      at.push(performance.now() - start)
      waits.after(20, { expire: () => at.push(performance.now() - start) })
    },
  })
  for (let i = 0; i < 50 && at.length < 2; i++) await sleep(5)
  t.equal(at.length, 2)
  t.ok(at[1]! - at[0]! >= 19, `the second ended ${(at[1]! - at[0]!).toFixed(1)} ms after the first`)
})

t.test('clear() forgets every wait', async (t) => {
  const waits = new Waits()
  let n = 0
  waits.after(10, { expire: () => (n += 1) })
  waits.after(20, { expire: () => (n += 1) })
  waits.clear()
  t.equal(waits.size, 0)
  await sleep(40)
  t.equal(n, 0, 'none ended')
})
