import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { freePort, isAlive, startProcess } from '../src/index.js'

/** A node one-liner HTTP server on `port` that answers `status` (may be an expression) with 'ok'. */
function httpServer(port: number, status = '200', prelude = ''): string[] {
  return [
    '-e',
    `${prelude}; require('http').createServer((q, s) => { s.statusCode = ${status}; s.end('ok') })` +
      `.listen(${port}, '127.0.0.1', () => console.log('listening on ${port}'))`,
  ]
}

async function fetchStatus(url: string, timeoutMs = 1000): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  await res.arrayBuffer()
  return res.status
}

describe('startProcess', () => {
  it('waits until readyUrl answers 200, keeps the output, and reports a SIGKILL', async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}/`
    // 503 for the first 300 ms after start: a readiness check that took any answer would return early.
    const child = await startProcess({
      command: process.execPath,
      args: httpServer(port, 'Date.now() - t0 < 300 ? 503 : 200', 'const t0 = Date.now()'),
      readyUrl: url,
    })
    assert.equal(await fetchStatus(url), 200)
    assert.match(child.output(), new RegExp(`listening on ${port}`))
    assert.equal(await child.kill('SIGKILL'), null)
    assert.deepEqual(await child.exited, { code: null, signal: 'SIGKILL' })
    assert.equal(isAlive(child.pid), false)
  })

  it('kill() resolves with the exit code the process chose', async () => {
    const port = await freePort()
    const child = await startProcess({
      command: process.execPath,
      args: httpServer(port, '200', "process.on('SIGTERM', () => { console.log('draining'); process.exit(7) })"),
      readyUrl: `http://127.0.0.1:${port}/`,
    })
    assert.equal(await child.kill('SIGTERM'), 7)
    assert.deepEqual(await child.exited, { code: 7, signal: null })
    assert.match(child.output(), /draining/) // output written just before exit is not lost
    assert.equal(await child.kill(), 7) // killing an exited process just reports how it ended
  })

  it('passes env and cwd, and does not leak the test runner marker', async () => {
    const child = await startProcess({
      command: process.execPath,
      args: ['-e', 'console.log(JSON.stringify({ v: process.env.SLUICE_X, cwd: process.cwd(), t: process.env.NODE_TEST_CONTEXT ?? null }))'],
      env: { SLUICE_X: 'forty-two' },
      cwd: '/tmp',
    })
    assert.deepEqual(await child.exited, { code: 0, signal: null })
    assert.deepEqual(JSON.parse(child.output()), { v: 'forty-two', cwd: '/tmp', t: null })
  })

  it('stop() freezes it, resume() thaws it, and kill() works on a frozen process', async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}/`
    const child = await startProcess({ command: process.execPath, args: httpServer(port), readyUrl: url })
    child.stop()
    await assert.rejects(fetchStatus(url, 300))
    child.resume()
    assert.equal(await fetchStatus(url), 200)
    child.stop()
    assert.equal(await child.kill('SIGTERM'), null)
    assert.equal((await child.exited).signal, 'SIGTERM')
  })

  it('rejects at once, with the output, when the process exits before it is ready', async () => {
    const began = Date.now()
    await assert.rejects(
      startProcess({
        command: process.execPath,
        args: ['-e', 'console.error("boom: no config"); process.exit(3)'],
        readyUrl: `http://127.0.0.1:${await freePort()}/`,
      }),
      /exited \(code 3\) before it was ready:\n[\s\S]*boom: no config/,
    )
    assert.ok(Date.now() - began < 5000, 'did not wait for the ready deadline')
  })

  it('kills a process that is not ready in time and says so', async () => {
    let pid = 0
    await assert.rejects(
      startProcess({
        // A shell, not node: it prints within the 300 ms even on a loaded machine (node may not start that fast).
        command: 'sh',
        args: ['-c', 'echo pid $$; exec sleep 60'],
        readyUrl: `http://127.0.0.1:${await freePort()}/`,
        readyTimeoutMs: 300,
      }),
      (err: Error) => {
        assert.match(err.message, /timed out after 300 ms waiting for .* to answer 200 at http:\/\/127\.0\.0\.1:\d+\//)
        assert.match(err.message, /--- its output ---\npid \d+/)
        pid = Number(/pid (\d+)/.exec(err.message)?.[1])
        return true
      },
    )
    assert.equal(isAlive(pid), false)
  })

  it('rejects a command that does not exist', async () => {
    await assert.rejects(startProcess({ command: 'sluice-no-such-command', args: [] }), /could not start sluice-no-such-command: .*ENOENT/)
  })
})
