/**
 * Limits of the public API. Kinesis' own numbers wherever Kinesis has one, so that code written
 * against Kinesis meets the same walls here.
 */
export const MAX_RECORDS_PER_PUT = 500
export const MAX_RECORD_DATA_BYTES = 1024 * 1024
export const MAX_PARTITION_KEY_LENGTH = 256
/** Data plus partition keys of one put request. */
export const MAX_PUT_PAYLOAD_BYTES = 5 * 1024 * 1024
/** Base64 length of the largest record: 4 * ceil(1 MiB / 3). */
export const MAX_RECORD_DATA_BASE64_LENGTH = 4 * Math.ceil(MAX_RECORD_DATA_BYTES / 3)

/**
 * Names of streams (and of consumer groups and workers): Kinesis' characters, but not "." or "..",
 * which sit in URL paths here and would be removed as dot segments by every HTTP client on the way.
 */
export const STREAM_NAME_PATTERN = '^(?!\\.\\.?$)[a-zA-Z0-9_.-]{1,128}$'
export const STREAM_NAME_RE = new RegExp(STREAM_NAME_PATTERN)
/** An API key's scope: `read|write|admin:<stream, prefix ending in * or *>` (JSON-Schema pattern). */
export const SCOPE_PATTERN = '^(read|write|admin):(\\*|[a-zA-Z0-9_.-]{1,128}\\*?)$'
/** An API key's id: 16 hex digits (the token is `sluice_<id>_<secret>`). */
export const API_KEY_ID_PATTERN = '^[0-9a-f]{16}$'
export const MIN_RETENTION_HOURS = 24
export const MAX_RETENTION_HOURS = 8760
export const DEFAULT_RETENTION_HOURS = 24
export const DEFAULT_MAX_SHARDS = 1000

export const DEFAULT_READ_LIMIT = 1000
export const MAX_READ_LIMIT = 10_000
export const MAX_READ_RESPONSE_BYTES = 10 * 1024 * 1024

export const DEFAULT_LIST_LIMIT = 100
export const MAX_LIST_LIMIT = 1000

/** Kinesis' per-shard limits: the defaults for every new stream unless overridden. */
export const DEFAULT_SHARD_WRITE_RECORDS_PER_SECOND = 1000
export const DEFAULT_SHARD_WRITE_BYTES_PER_SECOND = 1024 * 1024
export const DEFAULT_SHARD_READS_PER_SECOND = 5
export const DEFAULT_SHARD_READ_BYTES_PER_SECOND = 2 * 1024 * 1024
/** Bounds for configured limits: high enough for benchmarks, low enough to stay exact in Lua doubles. */
export const MAX_CONFIGURED_RECORDS_PER_SECOND = 1_000_000_000
export const MAX_CONFIGURED_BYTES_PER_SECOND = 1_000_000_000_000

/** Characters of the standard, padded base64 of `bytes` bytes. */
export function base64EncodedLength(bytes: number): number {
  return 4 * Math.ceil(bytes / 3)
}

/** Number of bytes a standard, padded base64 string decodes to (the string is assumed valid). */
export function base64DecodedLength(b64: string): number {
  const n = b64.length
  if (n === 0) return 0
  let pad = 0
  if (b64.charCodeAt(n - 1) === 61 /* = */) pad = b64.charCodeAt(n - 2) === 61 ? 2 : 1
  return (n / 4) * 3 - pad
}

// Node's base64 decoder (C++) skips characters outside the alphabet, so a string of standard,
// padded base64 is exactly one that decodes to (length / 4) * 3 - padding bytes, once three traps
// are closed: it also accepts the URL-safe "-" and "_", it reads only the low byte of a two-byte
// character ("\u0141" decodes like "A"), and "=" must be padding only. Decoding into a reused
// buffer is about 3x faster than a regular-expression scan, and this runs over every byte of every put.
const scratch = Buffer.allocUnsafe(MAX_RECORD_DATA_BYTES + 3)
const NOT_BASE64_CHAR = /[^A-Za-z0-9+/=]/

/** Standard, padded base64 (what Kinesis and every base64 library produce by default). */
export function isBase64(text: string): boolean {
  const n = text.length
  if (n % 4 !== 0) return false
  // "=" only as padding: one or two, at the very end.
  const eq = text.indexOf('=')
  if (eq !== -1 && !(eq >= n - 2 && (eq === n - 1 || text.charCodeAt(n - 1) === 61))) return false
  const expected = base64DecodedLength(text)
  // Longer than any record may be: the exact (slower) scan, so the size check can name the real problem.
  if (expected > scratch.length) return !NOT_BASE64_CHAR.test(text)
  return (
    Buffer.byteLength(text, 'utf8') === n && // ASCII only
    text.indexOf('-') === -1 &&
    text.indexOf('_') === -1 &&
    scratch.write(text, 0, 'base64') === expected
  )
}
