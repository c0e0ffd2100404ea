/** The one place the SDK talks HTTP: JSON in, JSON out, errors as SluiceError. */
import { SluiceError, errorFromAnswer } from './errors.js'

export interface Answer<T> {
  status: number
  body: T
  retryAfterMs: number | undefined
}

export type Fetch = typeof fetch

export async function call<T>(
  fetchImpl: Fetch,
  endpoint: string,
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
  /** Statuses answered with a body the caller reads instead of an error (e.g. 429 of a put). */
  accept: readonly number[] = [],
): Promise<Answer<T>> {
  // A signal of its own per request, tied to the caller's for as long as the request runs: fetch
  // (undici) keeps its abort listener on the signal it is given until the response is collected, so a
  // long-lived signal (a consumer's lease, a producer's) passed to every request gathers listeners.
  const own = signal ? new AbortController() : undefined
  const onAbort = (): void => own?.abort(signal?.reason)
  if (signal?.aborted) onAbort()
  else signal?.addEventListener('abort', onAbort, { once: true })
  let res: Response
  let text: string
  try {
    try {
      res = await fetchImpl(endpoint.replace(/\/$/, '') + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(own ? { signal: own.signal } : {}),
      })
    } catch (err) {
      if (signal?.aborted) throw err
      throw new SluiceError(0, 'NetworkError', `cannot reach ${endpoint}: ${(err as Error).message}`, undefined, undefined, { cause: err })
    }
    try {
      text = await res.text()
    } catch (err) {
      // The answer was cut off on its way (a reset, a timeout): as unknown as if it never came.
      if (signal?.aborted) throw err
      throw new SluiceError(0, 'NetworkError', `the answer from ${endpoint} was cut off: ${(err as Error).message}`, undefined, undefined, { cause: err })
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
  let parsed: unknown
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {
    parsed = undefined
  }
  const retryAfter = res.headers.get('retry-after')
  const retryAfterMs = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined
  if (res.ok || accept.includes(res.status)) return { status: res.status, body: parsed as T, retryAfterMs }
  throw errorFromAnswer(res.status, parsed, retryAfter)
}

/** Exponential backoff with full jitter, at least what the service asked for. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, retryAfterMs?: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20))
  const jittered = Math.random() * exp
  return Math.max(retryAfterMs ?? 0, jittered)
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** A fetch that sends the API key (`Authorization: Bearer …`) with every request; `fetchImpl` as is without one. */
export function withApiKey(fetchImpl: Fetch, apiKey: string | undefined): Fetch {
  if (!apiKey) return fetchImpl
  return (input, init) => {
    const headers = new Headers(init?.headers)
    headers.set('authorization', `Bearer ${apiKey}`)
    return fetchImpl(input, { ...init, headers })
  }
}
