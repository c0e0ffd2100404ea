/**
 * How `sluice tail` prints a record: one JSON object per line. `encoding` says how `data` is given:
 * "utf8" — the record's bytes as text (they are valid UTF-8), or "base64" — the bytes in base64 (they
 * are not, or `--encoding base64` asked for it). Nothing is lost either way.
 */
export type DataEncoding = 'auto' | 'base64'

export interface PrintedRecord {
  shardId: string
  sequenceNumber: string
  partitionKey: string
  approximateArrivalTimestamp: number
  encoding: 'utf8' | 'base64'
  data: string
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function formatRecord(
  shardId: string,
  r: { sequenceNumber: string; partitionKey: string; approximateArrivalTimestamp: number },
  bytes: Uint8Array,
  encoding: DataEncoding,
): string {
  let text: string | undefined
  if (encoding === 'auto') {
    try {
      text = strictUtf8.decode(bytes)
    } catch {
      text = undefined
    }
  }
  const printed: PrintedRecord = {
    shardId,
    sequenceNumber: r.sequenceNumber,
    partitionKey: r.partitionKey,
    approximateArrivalTimestamp: r.approximateArrivalTimestamp,
    encoding: text === undefined ? 'base64' : 'utf8',
    data: text ?? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
  }
  return JSON.stringify(printed)
}
