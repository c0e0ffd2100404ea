import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { WaitTimeoutError, waitFor } from '../src/index.js'

describe('waitFor', () => {
  it('polls until the probe returns something truthy and resolves with it', async () => {
    let calls = 0
    assert.equal(await waitFor(() => ++calls >= 3 && `after ${calls}`, { intervalMs: 1 }), 'after 3')
    let asyncCalls = 0
    assert.deepEqual(await waitFor(async () => (++asyncCalls < 2 ? null : { ok: asyncCalls })), { ok: 2 })
  })

  it('treats a throw as "not yet"', async () => {
    let calls = 0
    const value = await waitFor(() => {
      if (++calls < 3) throw new Error('not yet')
      return calls
    })
    assert.equal(value, 3)
  })

  it('says what it waited for and the last error when the deadline passes', async () => {
    await assert.rejects(
      waitFor(
        () => {
          throw new Error('connection refused')
        },
        { timeoutMs: 100, message: 'the ingest service' },
      ),
      (err: unknown) => {
        assert.ok(err instanceof WaitTimeoutError)
        assert.equal(err.message, 'timed out after 100 ms waiting for the ingest service (last error: connection refused)')
        assert.ok(err.cause instanceof Error && err.cause.message === 'connection refused')
        return true
      },
    )
  })

  it('names the last falsy value', async () => {
    await assert.rejects(waitFor(() => 0, { timeoutMs: 50, message: 'a count' }), /waiting for a count \(last value: 0\)$/)
  })

  it('keeps its deadline when a probe never settles', async () => {
    const began = Date.now()
    await assert.rejects(
      waitFor(() => new Promise<boolean>(() => undefined), { timeoutMs: 100, message: 'a frozen server' }),
      /timed out after 100 ms waiting for a frozen server \(the last probe had not finished\)/,
    )
    assert.ok(Date.now() - began < 1000)
  })

  it('stops when its signal aborts', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('the process exited')), 20)
    await assert.rejects(waitFor(() => false, { timeoutMs: 10_000, signal: controller.signal }), /the process exited/)
  })
})
