/**
 * Errors as AWS Kinesis answers them (JSON 1.1 protocol): `{"__type": "<Exception>", "message"}`,
 * HTTP 400 for client errors. The SDKs pick the exception class from `__type`, and retry
 * ProvisionedThroughputExceededException, 5xx and throttling by that name.
 */
import { ApiError } from '../errors.js'
import { StoreUnavailableError, classifyRedisError } from '@sluice/store'

export type KinesisErrorType =
  | 'ResourceNotFoundException'
  | 'ResourceInUseException'
  | 'ValidationException'
  | 'InvalidArgumentException'
  | 'LimitExceededException'
  | 'ExpiredIteratorException'
  | 'ProvisionedThroughputExceededException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'MissingAuthenticationTokenException'
  | 'UnrecognizedClientException'
  | 'IncompleteSignatureException'
  | 'InvalidSignatureException'
  | 'AccessDeniedException'
  | 'RequestEntityTooLargeException'
  | 'ServiceUnavailable'
  | 'InternalFailure'

const STATUS: Record<KinesisErrorType, number> = {
  ResourceNotFoundException: 400,
  ResourceInUseException: 400,
  ValidationException: 400,
  InvalidArgumentException: 400,
  LimitExceededException: 400,
  ExpiredIteratorException: 400,
  ProvisionedThroughputExceededException: 400,
  SerializationException: 400,
  UnknownOperationException: 400,
  MissingAuthenticationTokenException: 403,
  UnrecognizedClientException: 400,
  IncompleteSignatureException: 403,
  InvalidSignatureException: 400,
  AccessDeniedException: 400,
  // AWS answers an oversized request 413 before any operation runs.
  RequestEntityTooLargeException: 413,
  ServiceUnavailable: 503,
  InternalFailure: 500,
}

export class KinesisError extends Error {
  override readonly name = 'KinesisError'
  constructor(
    readonly type: KinesisErrorType,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
  get status(): number {
    return STATUS[this.type]
  }
  toBody(): { __type: KinesisErrorType; message: string } {
    return { __type: this.type, message: this.message }
  }
}

/** The account id in ARNs and messages: Sluice has no accounts, so it is AWS' all-zero placeholder. */
export const ACCOUNT_ID = '000000000000'

/**
 * AWS' validation message: "2 validation errors detected: Value 'x' at 'streamName' failed to satisfy
 * constraint: Member must ...; Value ..." — collected over the whole request, as AWS does.
 */
export class AwsValidation {
  private readonly problems: string[] = []

  add(value: unknown, member: string, constraint: string): void {
    const shown = value === undefined || value === null ? 'null' : String(value).slice(0, 256)
    this.problems.push(`Value '${shown}' at '${member}' failed to satisfy constraint: ${constraint}`)
  }

  throwIfAny(): void {
    const n = this.problems.length
    if (n === 0) return
    throw new KinesisError('ValidationException', `${n} validation error${n > 1 ? 's' : ''} detected: ${this.problems.join('; ')}`)
  }
}

/** Maps an error of the shared actions (REST codes) to the exception Kinesis would answer. */
export function toKinesisError(err: unknown, context: { stream?: string } = {}): { error: KinesisError; internal: boolean } {
  if (err instanceof KinesisError) return { error: err, internal: false }
  if (err instanceof ApiError) {
    const stream = context.stream ?? 'unknown'
    switch (err.code) {
      case 'StreamNotFound':
        return { error: new KinesisError('ResourceNotFoundException', `Stream ${stream} under account ${ACCOUNT_ID} not found.`, { cause: err }), internal: false }
      case 'ShardNotFound':
        return { error: new KinesisError('ResourceNotFoundException', err.message, { cause: err }), internal: false }
      case 'StreamExists':
        return { error: new KinesisError('ResourceInUseException', `Stream ${stream} under account ${ACCOUNT_ID} already exists.`, { cause: err }), internal: false }
      case 'ExpiredIterator':
        return { error: new KinesisError('ExpiredIteratorException', err.message.replace(/^iterator: /, 'Iterator '), { cause: err }), internal: false }
      case 'InvalidIterator':
        return { error: new KinesisError('InvalidArgumentException', `Invalid ShardIterator: ${err.message.replace(/^iterator: /, '')}`, { cause: err }), internal: false }
      case 'ProvisionedThroughputExceeded':
        return { error: new KinesisError('ProvisionedThroughputExceededException', `${err.message} under account ${ACCOUNT_ID}.`, { cause: err }), internal: false }
      case 'ValidationError':
        // A put's records over 5 MiB (the only problem put-records reports on `records` as a whole), in AWS' words.
        if (err.details?.some((d) => d.field === 'records')) {
          return { error: new KinesisError('InvalidArgumentException', 'Records size exceeds 5 MB limit', { cause: err }), internal: false }
        }
        return { error: new KinesisError('InvalidArgumentException', err.message, { cause: err }), internal: false }
      case 'PayloadTooLarge':
        return { error: new KinesisError('RequestEntityTooLargeException', err.message, { cause: err }), internal: false }
      case 'UnsupportedMediaType':
        return { error: new KinesisError('SerializationException', err.message, { cause: err }), internal: false }
      case 'ServiceUnavailable':
        return { error: new KinesisError('ServiceUnavailable', err.message, { cause: err }), internal: false }
      default:
        return { error: new KinesisError('InternalFailure', 'Internal service failure.', { cause: err }), internal: true }
    }
  }
  const store = err instanceof StoreUnavailableError ? err : classifyRedisError(err)
  if (store) return { error: new KinesisError('ServiceUnavailable', store.message, { cause: err }), internal: false }
  if (err instanceof SyntaxError) return { error: new KinesisError('SerializationException', 'Start of structure or map found where not expected.', { cause: err }), internal: false }
  const code = (err as { code?: string } | null)?.code
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { error: new KinesisError('RequestEntityTooLargeException', 'The request body is larger than this operation accepts.', { cause: err }), internal: false }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const message = 'Content-Type must be application/x-amz-json-1.1 (or 1.0), application/x-amz-cbor-1.1 or application/json.'
    return { error: new KinesisError('SerializationException', message, { cause: err }), internal: false }
  }
  if (code?.startsWith('FST_ERR_CTP_')) return { error: new KinesisError('SerializationException', (err as Error).message, { cause: err }), internal: false }
  // The client's fault, as fastify marks it: a body whose stream failed (the client went away mid-body).
  const status = (err as { statusCode?: unknown } | null)?.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { error: new KinesisError('SerializationException', `The request body could not be read (${(err as Error).message}).`, { cause: err }), internal: false }
  }
  return { error: new KinesisError('InternalFailure', 'Internal service failure.', { cause: err }), internal: true }
}
