/** The store types the ingest service depends on, in one place. */
export type { StoredStream, StreamCatalog as StoreStreamCatalog, ShardStore, SluiceRedis } from '@sluice/store'
