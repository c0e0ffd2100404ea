/** Kinesis shard ids: `shardId-` and the shard's index as 12 digits. */
const SHARD_ID_RE = /^shardId-(\d{12})$/
const MAX_SHARD_ID_INDEX = 999_999_999_999

export function shardIdFor(index: number): string {
  // A negative or fractional index would still pad to a plausible-looking id ("shardId-0000000000-1").
  if (!Number.isInteger(index) || index < 0 || index > MAX_SHARD_ID_INDEX) {
    throw new RangeError(`shard index out of range: ${index}`)
  }
  return `shardId-${String(index).padStart(12, '0')}`
}

/** The index of an id in exactly the Kinesis form; null for anything else. */
export function parseShardId(shardId: string): number | null {
  const match = SHARD_ID_RE.exec(shardId)
  return match ? Number(match[1]) : null
}
