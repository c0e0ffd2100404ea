/** What every action needs: the store, the stream directory, the iterator codec and the limits. */
import type { IteratorCodec } from '@sluice/protocol'
import type { ShardStore, StoreStreamCatalog } from './store-types.js'
import type { ApiKeys, ArchiveReader, ConsumerGroups } from '@sluice/store'
import type { StreamDirectory } from './stream-directory.js'
import type { IngestMetrics } from './metrics.js'

export interface ActionLimits {
  maxShards: number
  shardWriteRecordsPerSecond: number
  shardWriteBytesPerSecond: number
  shardReadsPerSecond: number
  shardReadBytesPerSecond: number
  /** A shard's bound on bytes not yet archived (0: archiving is off, no bound). */
  maxUnarchivedBytes: number
}

export interface ActionContext {
  catalog: StoreStreamCatalog
  shards: ShardStore
  groups: ConsumerGroups
  /** API keys: the same instance the auth hooks verify with, so a revoked key is refused here at once. */
  keys: ApiKeys
  directory: StreamDirectory
  iterators: IteratorCodec
  limits: ActionLimits
  /** Reads of records trimmed from Redis after archiving; undefined when archiving is off. */
  archive: ArchiveReader | undefined
  metrics: IngestMetrics
  /** ms since the epoch; injectable so iterator expiry and retention can be tested. */
  now(): number
}
