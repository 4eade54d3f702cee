/**
 * Preloaded into the server under benchmark (`node -r`; its worker threads
 * inherit it): measures the event loop's delay and, on SIGUSR2, writes it
 * (and memory) to CTC_PROBE_FILE. With CTC_ANSWER_FILE, on whichever thread
 * runs the XML port, it appends one line per request whose 100 was written:
 * the request's <Tag>, when its bytes were read, when the 100's write
 * returned (diagnostics channel `clicktocall:xml:answered`).
 */
import diagnostics from 'node:diagnostics_channel'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { appendFile, writeFileSync } from 'node:fs'
import { writeHeapSnapshot } from 'node:v8'
import { isMainThread } from 'node:worker_threads'

const answers = process.env.CTC_ANSWER_FILE
if (answers) {
  let lines: string[] = []
  let writing = false
  // written off the thread (libuv's pool), one append at a time: a synchronous write on the thread it
  // measures showed up in that thread's tail (maxima of 40-70 ms in a test series)
  const flush = (): void => {
    if (writing || lines.length === 0) return
    const text = `${lines.join('\n')}\n`
    lines = []
    writing = true
    appendFile(answers, text, () => (writing = false))
  }
  diagnostics.subscribe('clicktocall:xml:answered', (m) => {
    const { requests, readAt, writtenAt } = m as { requests: string[]; readAt: number; writtenAt: number }
    for (const r of requests) {
      const tag = /<Tag>(\d+)<\/Tag>/.exec(r)?.[1]
      if (tag) lines.push(`${tag} ${readAt.toFixed(3)} ${writtenAt.toFixed(3)}`)
    }
  })
  setInterval(flush, 200).unref()
}

const file = process.env.CTC_PROBE_FILE
// the delay and memory of the main thread (a worker has no signals)
if (file && isMainThread) {
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
