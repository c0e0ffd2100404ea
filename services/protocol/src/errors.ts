/**
 * The one table of API error codes: each code's HTTP status and default message. Server and SDK
 * both read it, so a client can branch on `error.code` without parsing messages.
 */
export const API_ERRORS = {
  ValidationError: { status: 400, message: 'The request is not valid' },
  ExpiredIterator: { status: 400, message: 'The iterator has expired; get a new one' },
  InvalidIterator: { status: 400, message: 'The iterator is not one this service issued' },
  Unauthorized: { status: 401, message: 'A valid API key is required (Authorization: Bearer <key>)' },
  Forbidden: { status: 403, message: 'The API key has no scope for this' },
  NotFound: { status: 404, message: 'No such route' },
  StreamNotFound: { status: 404, message: 'No such stream' },
  ShardNotFound: { status: 404, message: 'No such shard' },
  GroupNotFound: { status: 404, message: 'No such consumer group' },
  KeyNotFound: { status: 404, message: 'No such API key' },
  StreamExists: { status: 409, message: 'A stream with this name already exists' },
  LeaseLost: { status: 409, message: 'This worker no longer holds the lease on the shard' },
  RequestTimeout: { status: 408, message: 'The request was not received in time' },
  PayloadTooLarge: { status: 413, message: 'The request body is too large' },
  UnsupportedMediaType: { status: 415, message: 'Content-Type must be application/json' },
  HeadersTooLarge: { status: 431, message: 'The request headers are too large' },
  ProvisionedThroughputExceeded: { status: 429, message: 'The shard is over its throughput limit; retry after the delay in Retry-After' },
  ServiceUnavailable: { status: 503, message: 'The service cannot reach its store right now; retry after the delay in Retry-After' },
  InternalError: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>

export type ApiErrorCode = keyof typeof API_ERRORS

/** Per-record outcome codes in a put answer (Kinesis' names, without the "Exception" suffix). */
export type RecordErrorCode = 'ProvisionedThroughputExceeded' | 'InternalFailure'

export interface ApiErrorDetail {
  /** Path of the offending member, e.g. `records[3].data`; absent for whole-request problems. */
  field?: string
  message: string
}

/** Every error answer has this body. */
export interface ApiErrorBody {
  error: {
    code: ApiErrorCode
    message: string
    field?: string
    details?: ApiErrorDetail[]
  }
}

export function statusForErrorCode(code: ApiErrorCode): number {
  return API_ERRORS[code].status
}

export function isApiErrorCode(value: unknown): value is ApiErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(API_ERRORS, value)
}
