import type { ApiErrorBody, ApiErrorCode } from '@sluice/protocol'

/** An error answer of the service: `code` is one of the API's codes (see @sluice/protocol). */
export class SluiceError extends Error {
  override readonly name = 'SluiceError'
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode | 'NetworkError',
    message: string,
    readonly field?: string,
    /** From Retry-After, when the service sent one. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }

  /** Worth retrying: throttling, an unavailable store, a network failure. */
  get retryable(): boolean {
    return this.status === 429 || this.status === 503 || this.status === 502 || this.status === 504 || this.code === 'NetworkError'
  }
}

export class ClosedError extends Error {
  override readonly name = 'ClosedError'
  constructor(what: string) {
    super(`${what} is closed`)
  }
}

export function errorFromAnswer(status: number, body: unknown, retryAfter: string | null): SluiceError {
  const e = (body as Partial<ApiErrorBody> | undefined)?.error
  const retryAfterMs = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined
  return new SluiceError(status, e?.code ?? 'InternalError', e?.message ?? `HTTP ${status}`, e?.field, retryAfterMs)
}
