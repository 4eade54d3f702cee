/** A handful of calls through the benchmark harness, so it cannot rot (the benchmark itself is `npm run bench`). */
import t from 'tap'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { sippAvailable } from './helpers/sipp'

const RUN = path.join(__dirname, '..', 'dist', 'bench', 'run.js')

if (!sippAvailable()) {
  if (process.env.CI === 'true') t.fail('sipp is required under CI')
  else t.plan(0, 'sipp is not installed')
} else {
  for (const mode of ['refer', 'anchored']) {
    t.test(`bench harness, ${mode}: 6 calls`, { timeout: 90000 }, async (t) => {
      const out = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, [RUN, '--mode', mode, '--calls', '6', '--concurrency', '3', '--connections', '2', '--json'], { timeout: 80000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
        ),
      )
      const r = JSON.parse(out.trim().split('\n').pop()!) as { completed: number; failed: number; latencyMs: { to200Destination: { p50: number } }; rssMiB: { peak: number } }
      t.equal(r.completed, 6, 'every call set up')
      t.equal(r.failed, 0)
      t.ok(r.latencyMs.to200Destination.p50 > 0)
      t.ok(r.rssMiB.peak > 0)
    })
  }
}
