/**
 * Typed API errors and the one mapping from any thrown thing to the error body
 * `{"error": {"code", "message", "field"?, "details"?}}` and its status. A client's mistake is a 4xx
 * naming what is wrong; Redis trouble is a 503 with Retry-After; only a real fault is a 500, and its
 * answer carries no internals.
 */
import { API_ERRORS, type ApiErrorBody, type ApiErrorCode, type ApiErrorDetail } from '@sluice/protocol'
import { ArchiveUnavailableError, StoreUnavailableError, classifyRedisError } from '@sluice/store'

export interface ApiErrorOptions {
  field?: string
  details?: ApiErrorDetail[]
  /** Sent as Retry-After (whole seconds, at least 1) with 429 and 503. */
  retryAfterSeconds?: number
  cause?: unknown
}

export class ApiError extends Error {
  override readonly name = 'ApiError'
  readonly code: ApiErrorCode
  readonly field: string | undefined
  readonly details: ApiErrorDetail[] | undefined
  readonly retryAfterSeconds: number | undefined

  constructor(code: ApiErrorCode, message?: string, options: ApiErrorOptions = {}) {
    super(message ?? API_ERRORS[code].message, { cause: options.cause })
    this.code = code
    this.field = options.field
    this.details = options.details
    this.retryAfterSeconds = options.retryAfterSeconds
  }

  get status(): number {
    return API_ERRORS[this.code].status
  }

  toBody(): ApiErrorBody {
    const error: ApiErrorBody['error'] = { code: this.code, message: this.message }
    if (this.field !== undefined) error.field = this.field
    if (this.details !== undefined) error.details = this.details
    return { error }
  }
}

/** A validation error listing every problem found; the first one's field is the headline. */
export function validationError(details: ApiErrorDetail[]): ApiError {
  const shown = details.slice(0, 20)
  const more = details.length > shown.length ? ` (and ${details.length - shown.length} more)` : ''
  const message = shown.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message)).join('; ') + more
  const first = details[0]
  return new ApiError('ValidationError', message, { details: shown, ...(first?.field ? { field: first.field } : {}) })
}

export function retryAfterSecondsFromMs(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}

export function unavailable(err: StoreUnavailableError): ApiError {
  const message =
    err.outcome === 'unknown'
      ? `Redis did not confirm the operation (${err.message}); it may or may not have been applied — retry it`
      : `The store is unavailable: ${err.message}`
  return new ApiError('ServiceUnavailable', message, { retryAfterSeconds: 1, cause: err })
}

/** Fastify's own errors for bodies and content types, by code. */
const FASTIFY_CODES: Record<string, ApiErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PayloadTooLarge',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UnsupportedMediaType',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'ValidationError',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ValidationError',
  FST_ERR_CTP_INVALID_JSON_BODY: 'ValidationError',
  FST_ERR_CTP_EMPTY_TYPE: 'UnsupportedMediaType',
  FST_ERR_CTP_INVALID_TYPE: 'UnsupportedMediaType',
}

interface FastifyLikeError {
  code?: string
  statusCode?: number
  message?: string
}

/**
 * Maps anything thrown in a request to an ApiError; `internal` is true for real faults (log them).
 * `bodyLimit` is the route's, for the message of a 413.
 */
export function toApiError(err: unknown, request: { bodyLimit?: number } = {}): { error: ApiError; internal: boolean } {
  if (err instanceof ApiError) return { error: err, internal: false }
  if (err instanceof ArchiveUnavailableError) {
    return { error: new ApiError('ServiceUnavailable', `The S3 archive is unavailable: ${err.message}`, { retryAfterSeconds: 1, cause: err }), internal: false }
  }
  const store = classifyRedisError(err)
  if (store) return { error: unavailable(store), internal: false }
  const e = (typeof err === 'object' && err !== null ? err : {}) as FastifyLikeError
  const mapped = e.code ? FASTIFY_CODES[e.code] : undefined
  if (mapped === 'PayloadTooLarge') {
    const limit = request.bodyLimit === undefined ? 'the most this route accepts' : `${request.bodyLimit} bytes, the most this route accepts`
    return { error: new ApiError('PayloadTooLarge', `body: larger than ${limit}`, { field: 'body' }), internal: false }
  }
  if (mapped === 'UnsupportedMediaType') return { error: new ApiError('UnsupportedMediaType'), internal: false }
  if (mapped === 'ValidationError') return { error: new ApiError('ValidationError', `body: ${e.message ?? 'not valid JSON'}`, { field: 'body' }), internal: false }
  if (err instanceof SyntaxError) return { error: new ApiError('ValidationError', `body: not valid JSON (${err.message})`, { field: 'body' }), internal: false }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code: ApiErrorCode = e.statusCode === 413 ? 'PayloadTooLarge' : e.statusCode === 415 ? 'UnsupportedMediaType' : e.statusCode === 404 ? 'NotFound' : 'ValidationError'
    return { error: new ApiError(code, e.message), internal: false }
  }
  return { error: new ApiError('InternalError'), internal: true }
}
