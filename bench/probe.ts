/**
 * Preloaded into the server under benchmark (`node -r`): measures the event
 * loop's delay and, on SIGUSR2, writes it (and memory) to CTC_PROBE_FILE.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { writeFileSync } from 'node:fs'
import { writeHeapSnapshot } from 'node:v8'

const file = process.env.CTC_PROBE_FILE
if (file) {
  // sampled every 1 ms; the histogram holds the time between samples, so the
  // delay is that minus the 1 ms interval
  const h = monitorEventLoopDelay({ resolution: 1 })
  h.enable()
  let snapshots = 0
  process.on('SIGUSR2', () => {
    // with --expose-gc (capacity mode) the heap is measured after a full collection
    const gc = (globalThis as { gc?: () => void }).gc
    if (gc) gc()
    const mem = process.memoryUsage()
    // CTC_HEAP_SNAPSHOT=prefix: also a heap snapshot per probe (prefix-1, -2 ...)
    // to see what the server retains; written before the answer, so that the
    // harness goes on (fills) only once it is done (slow: seconds at 10,000 calls)
    const snap = process.env.CTC_HEAP_SNAPSHOT
    if (snap) writeHeapSnapshot(`${snap}-${++snapshots}.heapsnapshot`)
    const ms = (ns: number): number => Math.max(0, Math.round((ns - 1e6) / 1e4) / 100)
    writeFileSync(
      file,
      JSON.stringify({ p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external }),
    )
    h.reset()
  })
}
