/**
 * Poll until something is true, with a deadline: the alternative to sleep-then-check.
 *
 * Semantics: the probe is done when it returns (or resolves to) a truthy value, and waitFor resolves
 * with that value. A falsy value or a throw both mean "not yet"; the last throw (or the last falsy
 * value) is named in the timeout error, so a failed wait says what it was waiting for and why it was
 * still not there. The deadline holds even when a probe hangs (a request to a frozen server).
 */
import { inspect } from 'node:util'

export interface WaitOptions {
  /** Give up after this long (default 10,000 ms). */
  timeoutMs?: number
  /** Pause between probes (default 25 ms). */
  intervalMs?: number
  /** What is awaited, for the error: "timed out after … waiting for <message>". */
  message?: string
  /** Stops the wait early: waitFor rejects with the signal's reason. */
  signal?: AbortSignal
}

/** Thrown when the deadline passes; `cause` is the probe's last error, if it threw. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError'
}

const STILL_RUNNING = Symbol('still running')

type Outcome<T> = { value: T } | { error: unknown } | typeof STILL_RUNNING

/** Runs the probe, but stops waiting for it after `ms` or when `signal` aborts. */
function settle<T>(probe: () => T | Promise<T>, ms: number, signal: AbortSignal | undefined): Promise<Outcome<T>> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => finish(() => reject(signal?.reason))
    const timer = setTimeout(() => finish(() => resolve(STILL_RUNNING)), Math.max(ms, 0))
    let done = false
    function finish(then: () => void): void {
      if (done) return
      done = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      then()
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    // The probe may throw synchronously; Promise.resolve().then turns that into a rejection too.
    Promise.resolve()
      .then(probe)
      .then(
        (value) => finish(() => resolve({ value })),
        (error: unknown) => finish(() => resolve({ error })),
      )
  })
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function describeLast(last: Outcome<unknown> | undefined): string {
  if (last === undefined) return ''
  if (last === STILL_RUNNING) return ' (the last probe had not finished)'
  if ('error' in last) return ` (last error: ${last.error instanceof Error ? last.error.message : inspect(last.error)})`
  return ` (last value: ${inspect(last.value, { depth: 2, breakLength: Infinity })})`
}

/** What a truthy check lets through: `waitFor(() => map.get(k))` resolves with the value, not `V | undefined`. */
export type Truthy<T> = Exclude<T, null | undefined | false | 0 | 0n | ''>

export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions = {}): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const intervalMs = options.intervalMs ?? 25
  const { signal } = options
  const deadline = Date.now() + timeoutMs
  let last: Outcome<T> | undefined
  for (;;) {
    signal?.throwIfAborted()
    last = await settle(probe, deadline - Date.now(), signal)
    if (last !== STILL_RUNNING && 'value' in last && last.value) return last.value as Truthy<T>
    const remaining = deadline - Date.now()
    if (remaining <= 0) {
      const cause = last !== STILL_RUNNING && 'error' in last ? last.error : undefined
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${options.message ?? 'a condition'}${describeLast(last)}`, { cause })
    }
    await pause(Math.min(intervalMs, remaining), signal)
  }
}
