/**
 * The CBOR form of the Kinesis protocol (application/x-amz-cbor-1.1, what the Java SDK and the KCL
 * send): the same members as JSON 1.1, but blobs are CBOR byte strings and timestamps are CBOR tag 1
 * holding epoch *milliseconds* as an integer. That is the AWS SDKs' convention for this content type
 * (the Java SDK writes `tag(1) instant.toEpochMilli()` and reads payload timestamps as epoch millis),
 * not RFC 8949's epoch seconds. Requests are brought to the JSON form the actions read (base64
 * strings, epoch seconds), and answers are taken back (bytes, tag 1 with milliseconds), so the
 * actions know one form only.
 */
import { Decoder, Encoder, Tag, type Options } from 'cbor-x'

/** Members that are timestamps, in requests and answers (JSON: epoch seconds). */
const TIMESTAMP_MEMBERS = new Set(['ApproximateArrivalTimestamp', 'StreamCreationTimestamp', 'Timestamp'])
/** Answer members that are blobs (JSON: base64). */
const BLOB_MEMBERS = new Set(['Data'])

// Integers of 8 bytes (a timestamp in milliseconds is one) as numbers, not BigInts: the members that
// hold them are checked as numbers, and a BigInt would fail as "not a number". (cbor-x reads
// int64AsNumber, but its typings do not list it; the CBOR timestamp test fails without it.)
const decoderOptions: Options & { int64AsNumber: boolean } = { useRecords: false, mapsAsObjects: true, int64AsNumber: true }
const decoder = new Decoder(decoderOptions)
const encoder = new Encoder({ useRecords: false })

/**
 * A tag-1 value as the client wrote it. cbor-x turns tag 1 into a Date reading the number as
 * seconds (RFC 8949), i.e. new Date(round(n * 1000)); the number is recovered from that Date, exactly
 * for any integer below 2^53 / 1000 (year 2255). Beyond, the Date is invalid and so is the value.
 */
function tagOneValue(d: Date): number {
  return d.getTime() / 1000
}

function toJsonForm(value: unknown, member?: string): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
  // Tag 1 holds epoch milliseconds; an untagged number in a timestamp member is read the same way.
  if (value instanceof Date) return tagOneValue(value) / 1000
  if (member !== undefined && TIMESTAMP_MEMBERS.has(member) && typeof value === 'number') return value / 1000
  if (Array.isArray(value)) return value.map((v) => toJsonForm(v))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = toJsonForm(v, k)
    return out
  }
  return value
}

function toCborForm(value: unknown, member?: string): unknown {
  if (member !== undefined && BLOB_MEMBERS.has(member) && typeof value === 'string') return Buffer.from(value, 'base64')
  // A BigInt, so that cbor-x writes an integer (it writes numbers past 32 bits as floats, which the
  // Java SDK cannot read as epoch millis).
  if (member !== undefined && TIMESTAMP_MEMBERS.has(member) && typeof value === 'number') return new Tag(BigInt(Math.round(value * 1000)), 1)
  if (Array.isArray(value)) return value.map((v) => toCborForm(v))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = toCborForm(v, k)
    return out
  }
  return value
}

/** Decodes a CBOR request body into the JSON form; throws on bytes that are not CBOR. */
export function decodeCborRequest(body: Buffer): unknown {
  return body.length === 0 ? {} : toJsonForm(decoder.decode(body))
}

export function encodeCborAnswer(answer: unknown): Buffer {
  return encoder.encode(toCborForm(answer))
}
