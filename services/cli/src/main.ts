#!/usr/bin/env node
/**
 * The `sluice` executable. It always ends itself once the command is done: stdout and stderr are
 * flushed, then process.exit — an idle keep-alive socket or a timer of a library must never keep a
 * finished command (or a script waiting for it) hanging.
 */
import { runCli } from './program.js'
import { Output } from './output.js'

const interrupted = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // A second Ctrl-C while the first is being handled: stop at once.
    if (interrupted.signal.aborted) process.exit(130)
    interrupted.abort()
  })
}

const out = new Output(process.stdout)
const code = await runCli(process.argv.slice(2), out, interrupted.signal)
await out.flush()
await new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, 2000)
  timer.unref()
  process.stderr.write('', () => {
    clearTimeout(timer)
    resolve()
  })
})
process.exit(code)
