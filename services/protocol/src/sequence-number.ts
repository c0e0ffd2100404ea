/**
 * Sequence numbers are decimal strings of one fixed width (42 digits), built from the record's Redis
 * stream entry id `<ms>-<seq>` and its shard index:
 *
 *   "1" + ms (15 digits) + seq (20 digits, the whole u64 range) + shard index (6 digits)
 *
 * so string order is numeric order, either form maps to the other without a lookup, no two shards of
 * a stream share one, and each is a valid Kinesis SequenceNumber (no leading zero).
 */
export const SEQUENCE_NUMBER_LENGTH = 42
const MS_DIGITS = 15
const SEQ_DIGITS = 20
const SHARD_DIGITS = 6
const MAX_SHARD_INDEX = 999_999
const U64_MAX = '18446744073709551615'

export interface EntryPosition {
  entryId: string
  shardIndex: number
}

const ZEROS = '0'.repeat(SEQ_DIGITS)

function pad(digits: string, width: number): string {
  return digits.length >= width ? digits : ZEROS.slice(0, width - digits.length) + digits
}

/** Hot path (once per record read or written): string operations only. */
export function sequenceNumberFromEntryId(entryId: string, shardIndex: number): string {
  const dash = entryId.indexOf('-')
  const ms = entryId.slice(0, dash)
  const seq = entryId.slice(dash + 1)
  if (dash < 1 || ms.length > MS_DIGITS || seq.length === 0 || seq.length > SEQ_DIGITS) {
    throw new Error(`not a Redis stream entry id within range: ${entryId}`)
  }
  if (!Number.isInteger(shardIndex) || shardIndex < 0 || shardIndex > MAX_SHARD_INDEX) {
    throw new Error(`shard index out of range: ${shardIndex}`)
  }
  return '1' + pad(ms, MS_DIGITS) + pad(seq, SEQ_DIGITS) + pad(String(shardIndex), SHARD_DIGITS)
}

const SEQUENCE_NUMBER_RE = /^1\d{41}$/

function stripZeros(digits: string): string {
  const s = digits.replace(/^0+/, '')
  return s === '' ? '0' : s
}

/** The entry id and shard of a sequence number; null if it is not one this service issues. */
export function entryIdFromSequenceNumber(sequenceNumber: string): EntryPosition | null {
  if (!SEQUENCE_NUMBER_RE.test(sequenceNumber)) return null
  const ms = stripZeros(sequenceNumber.slice(1, 1 + MS_DIGITS))
  const seqPadded = sequenceNumber.slice(1 + MS_DIGITS, 1 + MS_DIGITS + SEQ_DIGITS)
  if (seqPadded > U64_MAX) return null
  const shardIndex = Number(sequenceNumber.slice(1 + MS_DIGITS + SEQ_DIGITS))
  return { entryId: `${ms}-${stripZeros(seqPadded)}`, shardIndex }
}

export function firstSequenceNumberOfShard(createdAtMs: number, shardIndex: number): string {
  return sequenceNumberFromEntryId(`${createdAtMs}-0`, shardIndex)
}

function parts(id: string): [bigint, bigint] {
  const dash = id.indexOf('-')
  return [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))]
}

/** Numeric order of two entry ids: -1, 0 or 1. */
export function compareEntryIds(a: string, b: string): number {
  const [am, as] = parts(a)
  const [bm, bs] = parts(b)
  if (am !== bm) return am < bm ? -1 : 1
  if (as !== bs) return as < bs ? -1 : 1
  return 0
}

const U64 = BigInt(U64_MAX)

export function previousEntryId(id: string): string | null {
  const [ms, seq] = parts(id)
  if (seq > 0n) return `${ms}-${seq - 1n}`
  if (ms > 0n) return `${ms - 1n}-${U64}`
  return null
}

export function nextEntryId(id: string): string {
  const [ms, seq] = parts(id)
  return seq < U64 ? `${ms}-${seq + 1n}` : `${ms + 1n}-0`
}
