/**
 * Kinesis routing: a record's hash key is the MD5 of its partition key (UTF-8), read as an unsigned
 * 128-bit big-endian integer, unless the producer gives an explicit hash key; the record goes to the
 * shard whose hash-key range holds it. Streams start with the key space split evenly, exactly as
 * Kinesis' CreateStream splits it, so a shard map taken from Kinesis routes the same here.
 */
// A namespace import, not `import { hash }`: a named import of an export the running Node lacks
// fails the whole module at link time, so the fallback below could never run.
import * as crypto from 'node:crypto'

export const MAX_HASH_KEY: bigint = (1n << 128n) - 1n

export interface HashKeyRange {
  start: bigint
  end: bigint
}

// crypto.hash (Node >= 20.12) is a one-shot without a Hash object per call: this runs up to 500
// times per put request. Both hash a string as its UTF-8 bytes.
const md5Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('md5', text, 'hex')
    : (text) => crypto.createHash('md5').update(text, 'utf8').digest('hex')

export function hashKeyForPartitionKey(partitionKey: string): bigint {
  return BigInt('0x' + md5Hex(partitionKey))
}

/** Kinesis' even split: size = floor(2^128 / n); the last shard also takes the remainder. */
export function evenHashKeyRanges(shardCount: number): HashKeyRange[] {
  if (!Number.isSafeInteger(shardCount) || shardCount < 1) {
    throw new RangeError(`shardCount must be a positive integer, got ${shardCount}`)
  }
  const n = BigInt(shardCount)
  const size = (MAX_HASH_KEY + 1n) / n
  const ranges: HashKeyRange[] = []
  for (let i = 0n; i < n; i++) {
    ranges.push({ start: i * size, end: i === n - 1n ? MAX_HASH_KEY : (i + 1n) * size - 1n })
  }
  return ranges
}

/**
 * Index of the range holding the key, or -1. Ranges must be sorted by start and must not overlap;
 * they need not be even (resharding splits and merges them), and a gap simply answers -1.
 */
export function shardIndexForHashKey(ranges: readonly HashKeyRange[], hashKey: bigint): number {
  let lo = 0
  let hi = ranges.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const range = ranges[mid]!
    if (hashKey < range.start) hi = mid - 1
    else if (hashKey > range.end) lo = mid + 1
    else return mid
  }
  return -1
}

// Kinesis' own pattern for ExplicitHashKey, anchored: 39 digits at most, no sign, no leading zero.
const EXPLICIT_HASH_KEY_RE = /^(?:0|[1-9][0-9]{0,38})$/

/** A decimal in 0..2^128-1 without sign or leading zeros; null otherwise (never a repaired value). */
export function parseExplicitHashKey(text: string): bigint | null {
  if (!EXPLICIT_HASH_KEY_RE.test(text)) return null
  const hashKey = BigInt(text)
  return hashKey <= MAX_HASH_KEY ? hashKey : null
}

export function hashKeyToString(k: bigint): string {
  return k.toString(10)
}
