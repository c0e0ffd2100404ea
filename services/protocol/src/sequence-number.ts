/**
 * Sequence numbers are decimal strings of one fixed width (42 digits), built from the record's Redis
 * stream entry id `<ms>-<seq>` and its shard index:
 *
 *   "1" + ms (15 digits) + seq (20 digits, the whole u64 range) + shard index (6 digits)
 *
 * so string order is numeric order, either form maps to the other without a lookup, no two shards of
 * a stream share one, and each is a valid Kinesis SequenceNumber (0|([1-9]\d{0,128})).
 * 15 digits of milliseconds last until the year 33658.
 */
export const SEQUENCE_NUMBER_LENGTH = 42
const MS_DIGITS = 15
const SEQ_DIGITS = 20
const SHARD_DIGITS = 6
const MAX_SHARD_INDEX = 999_999
const U64_MAX_TEXT = '18446744073709551615'
const U64_MAX = BigInt(U64_MAX_TEXT)

export interface EntryPosition {
  entryId: string
  shardIndex: number
}

const ZEROS = '0'.repeat(SEQ_DIGITS)

function pad(digits: string, width: number): string {
  return digits.length >= width ? digits : ZEROS.slice(0, width - digits.length) + digits
}

/** 1..maxDigits ASCII digits and nothing else (a loop, not a regex: this is on the per-record path). */
function isDigits(text: string, maxDigits: number): boolean {
  const n = text.length
  if (n === 0 || n > maxDigits) return false
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/**
 * Redis' own spelling of a u64 (no leading zero). A padded or out-of-range id would encode to a
 * sequence number that decodes to a different id, so it is refused rather than normalised.
 */
function isCanonicalU64(text: string, maxDigits: number): boolean {
  if (!isDigits(text, maxDigits)) return false
  if (text.length > 1 && text.charCodeAt(0) === 48) return false
  // Same length, digits only: string order is numeric order.
  return text.length < U64_MAX_TEXT.length || text <= U64_MAX_TEXT
}

// Entry ids come from Redis, so a bad one is a bug on our side: throw, never guess.
function notAnEntryId(entryId: string): RangeError {
  return new RangeError(`not a Redis stream entry id that fits a sequence number: ${JSON.stringify(entryId)}`)
}

function shardDigits(shardIndex: number): string {
  if (!Number.isInteger(shardIndex) || shardIndex < 0 || shardIndex > MAX_SHARD_INDEX) {
    throw new RangeError(`shard index out of range: ${shardIndex}`)
  }
  return pad(String(shardIndex), SHARD_DIGITS)
}

/** Hot path (once per record read or written): string operations only. */
export function sequenceNumberFromEntryId(entryId: string, shardIndex: number): string {
  const dash = entryId.indexOf('-')
  const ms = entryId.slice(0, dash)
  const seq = entryId.slice(dash + 1)
  if (dash < 1 || !isCanonicalU64(ms, MS_DIGITS) || !isCanonicalU64(seq, SEQ_DIGITS)) throw notAnEntryId(entryId)
  return '1' + pad(ms, MS_DIGITS) + pad(seq, SEQ_DIGITS) + shardDigits(shardIndex)
}

/**
 * sequenceNumberFromEntryId for many entries of one shard in a row (an archive object's records):
 * the shard's digits are made once, and the milliseconds' once per millisecond. Same result, same
 * checks.
 */
export class ShardSequenceNumbers {
  private readonly shard: string
  /** the last id's milliseconds, and "1" + them padded */
  private ms = ''
  private head = ''

  constructor(shardIndex: number) {
    this.shard = shardDigits(shardIndex)
  }

  of(entryId: string): string {
    const dash = entryId.indexOf('-')
    if (dash < 1) throw notAnEntryId(entryId)
    if (dash !== this.ms.length || !entryId.startsWith(this.ms)) {
      const ms = entryId.slice(0, dash)
      if (!isCanonicalU64(ms, MS_DIGITS)) throw notAnEntryId(entryId)
      this.ms = ms
      this.head = '1' + pad(ms, MS_DIGITS)
    }
    const seq = entryId.slice(dash + 1)
    if (!isCanonicalU64(seq, SEQ_DIGITS)) throw notAnEntryId(entryId)
    return this.head + pad(seq, SEQ_DIGITS) + this.shard
  }
}

const SEQUENCE_NUMBER_RE = /^1\d{41}$/

function stripLeadingZeros(digits: string): string {
  let i = 0
  while (i < digits.length - 1 && digits.charCodeAt(i) === 48) i++
  return i === 0 ? digits : digits.slice(i)
}

/** The entry id and shard of a sequence number; null if it is not one this service issues. */
export function entryIdFromSequenceNumber(sequenceNumber: string): EntryPosition | null {
  if (sequenceNumber.length !== SEQUENCE_NUMBER_LENGTH || !SEQUENCE_NUMBER_RE.test(sequenceNumber)) return null
  const ms = sequenceNumber.slice(1, 1 + MS_DIGITS)
  const seq = sequenceNumber.slice(1 + MS_DIGITS, 1 + MS_DIGITS + SEQ_DIGITS)
  if (seq > U64_MAX_TEXT) return null
  const shardIndex = Number(sequenceNumber.slice(1 + MS_DIGITS + SEQ_DIGITS))
  return { entryId: `${stripLeadingZeros(ms)}-${stripLeadingZeros(seq)}`, shardIndex }
}

/** The sequence number a shard created at createdAtMs starts from (DescribeStream's range start). */
export function firstSequenceNumberOfShard(createdAtMs: number, shardIndex: number): string {
  return sequenceNumberFromEntryId(`${createdAtMs}-0`, shardIndex)
}

/** Both halves of an entry id as u64 values; throws on anything Redis would not accept as an id. */
function entryIdParts(id: string): [ms: bigint, seq: bigint] {
  const dash = id.indexOf('-')
  const ms = id.slice(0, dash)
  const seq = id.slice(dash + 1)
  if (dash < 1 || !isDigits(ms, SEQ_DIGITS) || !isDigits(seq, SEQ_DIGITS)) {
    throw new RangeError(`not a Redis stream entry id: ${JSON.stringify(id)}`)
  }
  const msValue = BigInt(ms)
  const seqValue = BigInt(seq)
  if (msValue > U64_MAX || seqValue > U64_MAX) throw new RangeError(`entry id out of the u64 range: ${id}`)
  return [msValue, seqValue]
}

/** Numeric order of two entry ids (ms, then seq): -1, 0 or 1. */
export function compareEntryIds(a: string, b: string): number {
  const [aMs, aSeq] = entryIdParts(a)
  const [bMs, bSeq] = entryIdParts(b)
  if (aMs !== bMs) return aMs < bMs ? -1 : 1
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1
  return 0
}

/** The greatest entry id below `id`, or null below "0-0" (e.g. to turn "at" into an exclusive "after"). */
export function previousEntryId(id: string): string | null {
  const [ms, seq] = entryIdParts(id)
  if (seq > 0n) return `${ms}-${seq - 1n}`
  if (ms > 0n) return `${ms - 1n}-${U64_MAX}`
  return null
}

/** The least entry id above `id`. */
export function nextEntryId(id: string): string {
  const [ms, seq] = entryIdParts(id)
  if (seq < U64_MAX) return `${ms}-${seq + 1n}`
  if (ms < U64_MAX) return `${ms + 1n}-0`
  throw new RangeError(`no entry id follows ${id}`)
}
