/** Request and answer bodies of the REST API (`/v1`), as JSON. openapi.yaml describes the same. */
import type { RecordErrorCode } from './errors.js'

export interface WriteLimits {
  recordsPerSecond: number
  bytesPerSecond: number
}

export interface CreateStreamRequest {
  name: string
  shardCount: number
  retentionHours?: number
  writeLimits?: Partial<WriteLimits>
}

export type StreamStatus = 'ACTIVE'

export interface ShardDescription {
  shardId: string
  hashKeyRange: { start: string; end: string }
  sequenceNumberRange: { start: string; end?: string }
}

export interface StreamDescription {
  name: string
  status: StreamStatus
  shardCount: number
  retentionHours: number
  /** ms since the epoch (Redis time). */
  createdAt: number
  writeLimits: WriteLimits
  shards: ShardDescription[]
}

export interface StreamSummary {
  name: string
  status: StreamStatus
  shardCount: number
  retentionHours: number
  createdAt: number
}

export interface ListStreamsResponse {
  streams: StreamSummary[]
  /** Pass as `next` to get the following page; absent on the last page. */
  next?: string
}

export interface PutRecordEntry {
  partitionKey: string
  /** base64 (standard alphabet, padded). */
  data: string
  explicitHashKey?: string
}

export interface PutRecordsRequest {
  records: PutRecordEntry[]
}

export type PutRecordResult =
  | { shardId: string; sequenceNumber: string }
  | { errorCode: RecordErrorCode; errorMessage: string }

export interface PutRecordsResponse {
  failedRecordCount: number
  records: PutRecordResult[]
}

export type StartingPosition =
  | 'TRIM_HORIZON'
  | 'LATEST'
  | 'AT_SEQUENCE_NUMBER'
  | 'AFTER_SEQUENCE_NUMBER'
  | 'AT_TIMESTAMP'

export const STARTING_POSITIONS: readonly StartingPosition[] = [
  'TRIM_HORIZON',
  'LATEST',
  'AT_SEQUENCE_NUMBER',
  'AFTER_SEQUENCE_NUMBER',
  'AT_TIMESTAMP',
]

export interface StreamRecord {
  sequenceNumber: string
  partitionKey: string
  /** base64 */
  data: string
  /** ms since the epoch, Redis time at the put. */
  approximateArrivalTimestamp: number
}

export interface GetRecordsResponse {
  records: StreamRecord[]
  nextIterator: string
  millisBehindLatest: number
}

export interface HeartbeatRequest {
  /** Lease TTL of the group, used when this heartbeat creates it (default 10,000 ms). */
  leaseTtlMs?: number
}

export interface OwnedShard {
  shardId: string
  /** Fencing token of this ownership: send it with every checkpoint. */
  leaseToken: string
  /** The group's checkpoint for the shard: continue after it (null: start from TRIM_HORIZON). */
  checkpoint: string | null
}

export interface HeartbeatResponse {
  group: string
  workerId: string
  leaseTtlMs: number
  shards: OwnedShard[]
}

export interface CheckpointRequest {
  sequenceNumber: string
  leaseToken: string
}

export interface GroupShardState {
  shardId: string
  owner: string | null
  leaseToken: string | null
  checkpoint: string | null
  lag: { records: number; millis: number }
}

export interface GroupDescription {
  stream: string
  group: string
  leaseTtlMs: number
  workers: Array<{ workerId: string; lastHeartbeat: number; shards: number }>
  shards: GroupShardState[]
}

/** POST /v1/keys: an API key with these scopes (`read|write|admin:<stream, prefix* or *>`). */
export interface CreateApiKeyRequest {
  scopes: string[]
  /** A label for people (who or what uses the key); default empty. */
  name?: string
}

/** An API key as listed: never its secret. */
export interface ApiKeyDescription {
  /** 16 hex digits; the token is `sluice_<id>_<secret>`. */
  id: string
  name: string
  scopes: string[]
  /** ms since the epoch */
  createdAt: number
}

/** The answer to POST /v1/keys: the only time the token is shown. */
export interface CreatedApiKey extends ApiKeyDescription {
  token: string
}

export interface ListApiKeysResponse {
  keys: ApiKeyDescription[]
}
