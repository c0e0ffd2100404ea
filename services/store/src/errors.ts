/**
 * Redis failures that are the store's condition, not a bug: Redis unreachable, frozen, loading, out
 * of memory, busy. The HTTP layer answers them with 503 + Retry-After. `outcome` tells whether the
 * command certainly did not run ('not-applied': Redis refused it, or it never left this process) or
 * may have run ('unknown': it was sent and no answer came) — a put must not report records as
 * refused when they may have been written.
 */
export type StoreOutcome = 'not-applied' | 'unknown'

export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError'
  readonly outcome: StoreOutcome
  constructor(message: string, outcome: StoreOutcome, options?: { cause?: unknown }) {
    super(message, options)
    this.outcome = outcome
  }
}

const REFUSED_BY_REDIS: ReadonlyArray<[RegExp, string]> = [
  [/\bOOM\b/, 'Redis is out of memory (maxmemory reached with noeviction)'],
  [/^BUSY\b/, 'Redis is busy running a script'],
  [/^LOADING\b/, 'Redis is loading its data set'],
  [/^(READONLY|MASTERDOWN)\b/, 'Redis is not accepting writes (replica or master down)'],
  [/^(CLUSTERDOWN|TRYAGAIN)\b/, 'the Redis cluster is not serving this slot right now'],
  [/^MISCONF\b/, 'Redis cannot persist its data (MISCONF)'],
  [/isn't writeable and enableOfflineQueue/, 'not connected to Redis'],
]

const UNKNOWN_OUTCOME: ReadonlyArray<[RegExp, string]> = [
  [/^Command timed out$/, 'Redis did not answer in time'],
  [/^Connection is closed\.$/, 'the connection to Redis closed'],
  [/None of startup nodes is available|Failed to refresh slots cache/, 'no Redis cluster node is reachable'],
  [/\b(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTCONN)\b/, 'the connection to Redis failed'],
]

/** Turns an ioredis error into a StoreUnavailableError when it is an availability problem; null otherwise. */
export function classifyRedisError(err: unknown): StoreUnavailableError | null {
  if (err instanceof StoreUnavailableError) return err
  if (!(err instanceof Error)) return null
  const text = err.message
  if (err.name === 'MaxRetriesPerRequestError') return new StoreUnavailableError('the connection to Redis was lost', 'unknown', { cause: err })
  for (const [re, why] of REFUSED_BY_REDIS) if (re.test(text)) return new StoreUnavailableError(why, 'not-applied', { cause: err })
  for (const [re, why] of UNKNOWN_OUTCOME) if (re.test(text)) return new StoreUnavailableError(why, 'unknown', { cause: err })
  return null
}

/** Runs a store call and rethrows availability problems as StoreUnavailableError. */
export async function guarded<T>(call: Promise<T>): Promise<T> {
  try {
    return await call
  } catch (err) {
    throw classifyRedisError(err) ?? err
  }
}
