/**
 * What a failing test leaves behind: a test process that starts a redis-server and a child and then
 * fails (throws), forgets to clean up (returns), or is killed (SIGTERM) must end, and take its
 * servers, children and temporary directories with it.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { isAlive, startProcess, waitFor, type ExitStatus } from '../src/index.js'

const testkit = new URL('../src/index.js', import.meta.url).href

const script = `
import { startProcess, startRedis } from ${JSON.stringify(testkit)}
const redis = await startRedis()
const child = await startProcess({ command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] })
// Hold here until the test has seen everything running (SIGUSR2), then end the way the test asks.
const go = new Promise((resolve) => {
  const hold = setInterval(() => {}, 1000)
  process.once('SIGUSR2', () => resolve(clearInterval(hold)))
})
console.log(JSON.stringify({ redisPid: redis.pid, dir: redis.dir, childPid: child.pid }))
await go
const mode = process.argv[1]
if (mode === 'throw') throw new Error('a failed assertion')
if (mode === 'signal') setInterval(() => {}, 1000)
`

interface Started {
  redisPid: number
  dir: string
  childPid: number
}

const cases: { mode: string; end: ExitStatus }[] = [
  { mode: 'throw', end: { code: 1, signal: null } },
  { mode: 'return', end: { code: 0, signal: null } },
  { mode: 'signal', end: { code: null, signal: 'SIGTERM' } },
]

describe('cleanup when the test process ends', () => {
  for (const { mode, end } of cases) {
    it(`${mode}: redis-server, children and the temporary directory are gone`, async () => {
      const testProcess = await startProcess({ command: process.execPath, args: ['--input-type=module', '-e', script, mode] })
      let status: ExitStatus | undefined
      void testProcess.exited.then((s) => (status = s))
      const started = await waitFor(
        () => {
          const line = /^\{.*\}$/m.exec(testProcess.output())?.[0]
          return line ? (JSON.parse(line) as Started) : undefined
        },
        { timeoutMs: 15_000, message: `the ${mode} script to start its servers` },
      )
      assert.ok(isAlive(started.redisPid) && isAlive(started.childPid))
      assert.ok(existsSync(started.dir))
      testProcess.signal('SIGUSR2')
      if (mode === 'signal') await testProcess.kill('SIGTERM')
      await waitFor(() => status, { timeoutMs: 10_000, message: `the ${mode} script to exit by itself` })
      assert.deepEqual(status, end, testProcess.output())
      // SIGKILL is delivered asynchronously: poll, with a deadline.
      await waitFor(() => !isAlive(started.redisPid) && !isAlive(started.childPid), { timeoutMs: 5000, message: 'its processes to be gone' })
      assert.equal(existsSync(started.dir), false)
    })
  }
})
