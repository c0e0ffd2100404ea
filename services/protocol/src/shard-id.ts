/** Kinesis shard ids: `shardId-` and the shard's index as 12 digits. */
const SHARD_ID_RE = /^shardId-(\d{12})$/

export function shardIdFor(index: number): string {
  return `shardId-${String(index).padStart(12, '0')}`
}

export function parseShardId(shardId: string): number | null {
  const m = SHARD_ID_RE.exec(shardId)
  return m ? Number(m[1]) : null
}
