/**
 * The CBOR form of the Kinesis protocol (application/x-amz-cbor-1.1, what the Java SDK and the KCL
 * send): the same members as JSON 1.1, but blobs are CBOR byte strings and timestamps are CBOR tag 1
 * (epoch seconds). Requests are brought to the JSON form the actions read (base64 strings, seconds),
 * and answers are taken back (bytes, dates), so the actions know one form only.
 */
import { decode, encode } from 'cbor-x'

/** Answer members that are timestamps (JSON: epoch seconds). */
const TIMESTAMP_MEMBERS = new Set(['ApproximateArrivalTimestamp', 'StreamCreationTimestamp'])
/** Answer members that are blobs (JSON: base64). */
const BLOB_MEMBERS = new Set(['Data'])

function toJsonForm(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
  if (value instanceof Date) return value.getTime() / 1000
  if (Array.isArray(value)) return value.map(toJsonForm)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = toJsonForm(v)
    return out
  }
  return value
}

function toCborForm(value: unknown, member?: string): unknown {
  if (member !== undefined && BLOB_MEMBERS.has(member) && typeof value === 'string') return Buffer.from(value, 'base64')
  if (member !== undefined && TIMESTAMP_MEMBERS.has(member) && typeof value === 'number') return new Date(Math.round(value * 1000))
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
  return body.length === 0 ? {} : toJsonForm(decode(body))
}

export function encodeCborAnswer(answer: unknown): Buffer {
  return encode(toCborForm(answer))
}
