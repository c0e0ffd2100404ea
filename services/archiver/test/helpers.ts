/** What the archiver tests share: a Redis + S3 + ingest world, puts, and the archive's invariant. */
import assert from 'node:assert/strict'
import { GetObjectCommand, ListObjectsCommand, S3Client } from '@aws-sdk/client-s3'
import { pino } from 'pino'
import { startRedis, startS3, type RedisServer, type S3Server } from '@sluice/testkit'
import { startSluice, type Sluice } from '@sluice/ingest/testing'
import { StreamCatalog, connectRedis, createRedisClient, decodeObject, shardKeys, type ArchivedRecord, type S3Settings, type SluiceRedis } from '@sluice/store'
import { Archiver, ArchiverMetrics, type ArchiverOptions } from '../src/index.js'

export const BUCKET = 'sluice'

export interface World {
  redis: RedisServer
  s3: S3Server
  sluice: Sluice
  client: S3Client
  settings: S3Settings
  /** SLUICE_* and AWS_* for an archiver process */
  env: Record<string, string>
  close(): Promise<void>
}

export async function startWorld(options: { ingestEnv?: Record<string, string> } = {}): Promise<World> {
  const redis = await startRedis()
  const s3 = await startS3({ buckets: [BUCKET] })
  // The ingest (in this process) reads the archive with the AWS SDK's own credential chain.
  process.env.AWS_ACCESS_KEY_ID = s3.credentials.accessKeyId
  process.env.AWS_SECRET_ACCESS_KEY = s3.credentials.secretAccessKey
  const s3Env = {
    SLUICE_S3_ENDPOINT: s3.endpoint,
    SLUICE_S3_BUCKET: BUCKET,
    SLUICE_S3_FORCE_PATH_STYLE: '1',
    SLUICE_S3_REGION: s3.region,
  }
  const sluice = await startSluice({ redis, env: { ...s3Env, SLUICE_SHARD_READS_PER_SECOND: '1000', ...options.ingestEnv } })
  const settings: S3Settings = { endpoint: s3.endpoint, bucket: BUCKET, prefix: 'sluice', region: s3.region, forcePathStyle: true, createBucket: false }
  const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: s3.credentials })
  return {
    redis,
    s3,
    sluice,
    client,
    settings,
    env: { ...s3Env, SLUICE_REDIS_URL: redis.url, AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey },
    async close() {
      client.destroy()
      await sluice.close()
      await s3.close()
      await redis.close()
    },
  }
}

/** An in-process archiver on the world (each call its own Redis connection and lease name). */
export async function archiverFor(world: World, overrides: Partial<ArchiverOptions> = {}): Promise<{ archiver: Archiver; redis: SluiceRedis; close(): Promise<void> }> {
  const redis = createRedisClient({ url: world.redis.url, commandTimeoutMs: 3000, connectionName: 'test-archiver' })
  await connectRedis(redis)
  const archiver = new Archiver({
    redis,
    s3: new S3Client({ endpoint: world.s3.endpoint, region: world.s3.region, forcePathStyle: true, credentials: world.s3.credentials, maxAttempts: 1, requestHandler: { connectionTimeout: 1000, requestTimeout: 3000, throwOnRequestTimeout: true } }),
    settings: world.settings,
    objects: { maxBytes: 16 * 1024, maxAgeMs: 200 },
    leaseTtlMs: 2000,
    hotRetentionMs: 3_600_000,
    hotMaxBytes: 0,
    intervalMs: 50,
    metrics: new ArchiverMetrics(),
    log: pino({ level: 'silent' }),
    ...overrides,
  })
  return {
    archiver,
    redis,
    async close() {
      await archiver.stop()
      redis.disconnect()
    },
  }
}

/** Puts `count` records in batches; returns what was acknowledged, per shard, in put order. */
export async function putMany(
  sluice: Sluice,
  stream: string,
  count: number,
  options: { batch?: number; dataBytes?: number; tag?: string } = {},
): Promise<Map<string, string[]>> {
  const acked = new Map<string, string[]>()
  const batch = options.batch ?? 500
  const pad = 'x'.repeat(options.dataBytes ?? 40)
  for (let start = 0; start < count; start += batch) {
    const records = Array.from({ length: Math.min(batch, count - start) }, (_, j) => ({
      partitionKey: `k${(start + j) % 101}`,
      data: Buffer.from(`${options.tag ?? ''}${start + j}:${pad}`).toString('base64'),
    }))
    const res = await sluice.request('POST', `/v1/streams/${stream}/records`, { records })
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300))
    for (const r of res.body.records) {
      assert.ok(r.sequenceNumber, `a record was refused: ${JSON.stringify(r)}`)
      const list = acked.get(r.shardId) ?? []
      list.push(r.sequenceNumber)
      acked.set(r.shardId, list)
    }
  }
  return acked
}

/** Every object of the bucket, decoded, by shard, in key order (= sequence order). */
export async function archivedRecords(world: Pick<World, 'client'>, stream: string): Promise<Map<string, { keys: string[]; records: ArchivedRecord[][] }>> {
  const byShard = new Map<string, { keys: string[]; records: ArchivedRecord[][] }>()
  // ListObjects (v1) with Marker: s3rver answers a truncated ListObjectsV2 page with a 500.
  let marker: string | undefined
  for (;;) {
    const page = await world.client.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: `sluice/${stream}/`, ...(marker ? { Marker: marker } : {}) }))
    for (const o of page.Contents ?? []) {
      const shardId = o.Key!.split('/')[3]!
      let records: ArchivedRecord[]
      try {
        const body = await world.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key! }))
        records = decodeObject(await body.Body!.transformToByteArray())
      } catch (err) {
        throw new Error(`reading ${o.Key} (${o.Size} bytes): ${(err as Error).message}`, { cause: err })
      }
      const entry = byShard.get(shardId) ?? { keys: [], records: [] }
      entry.keys.push(o.Key!)
      entry.records.push(records)
      byShard.set(shardId, entry)
    }
    if (!page.IsTruncated || !page.Contents?.length) break
    marker = page.Contents.at(-1)!.Key
  }
  for (const entry of byShard.values()) {
    const order = entry.keys.map((k, i) => [k, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1))
    entry.keys = order.map(([k]) => k)
    entry.records = order.map(([, i]) => entry.records[i]!)
  }
  return byShard
}

/**
 * The invariant: per shard, the objects hold each acknowledged record exactly once, in order, no
 * gap and no overlap, and each object's key names its first record. `acked` must be every record
 * of the stream (a prefix of each shard is enough when `complete` is false: records still being
 * archived).
 */
export async function assertArchiveExact(world: Pick<World, 'client'>, stream: string, acked: Map<string, string[]>, complete = true): Promise<number> {
  const archived = await archivedRecords(world, stream)
  let objects = 0
  for (const [shardId, sequenceNumbers] of acked) {
    const entry = archived.get(shardId) ?? { keys: [], records: [] }
    objects += entry.keys.length
    const flat: string[] = []
    entry.records.forEach((records, i) => {
      assert.ok(records.length > 0, `${entry.keys[i]} is empty`)
      assert.ok(entry.keys[i]!.endsWith(`/${records[0]!.sequenceNumber}.ndjson.gz`), `${entry.keys[i]} is named after its first record`)
      for (const r of records) flat.push(r.sequenceNumber)
    })
    for (let i = 1; i < flat.length; i++) assert.ok(flat[i - 1]! < flat[i]!, `${shardId}: objects overlap or are out of order at ${flat[i]}`)
    if (complete) assert.deepEqual(flat, sequenceNumbers, `${shardId}: the archive holds exactly the acknowledged records`)
    else assert.deepEqual(flat, sequenceNumbers.slice(0, flat.length), `${shardId}: the archive is a prefix of the acknowledged records`)
  }
  return objects
}

/** Runs passes until every shard's cursor reached its last record. */
export async function archiveAll(archiver: Archiver | null, redis: SluiceRedis, stream: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const described = await new StreamCatalog(redis).get(stream)
  assert.ok(described, `stream ${stream} exists`)
  for (;;) {
    await archiver?.pass()
    let done = true
    for (let i = 0; i < described.shardCount; i++) {
      const keys = shardKeys(stream, described.generation, i)
      const [cursor, last] = await Promise.all([redis.hget(keys.archive, 'cursor'), redis.hget(keys.state, 'ordinal')])
      if (last !== null && (cursor === null || cursor.slice(cursor.indexOf('-') + 1) !== last)) done = false
    }
    if (done) return
    if (Date.now() > deadline) {
      const progress = await Promise.all(
        Array.from({ length: described.shardCount }, async (_, i) => {
          const keys = shardKeys(stream, described.generation, i)
          const [a, ordinal] = await Promise.all([redis.hgetall(keys.archive), redis.hget(keys.state, 'ordinal')])
          return `shard ${i}: cursor ${a.cursor ?? '-'} of ordinal ${ordinal}, lease ${a.owner ?? '-'} until ${a.expires_ms ?? '-'}`
        }),
      )
      throw new Error(`${stream} was not fully archived within ${timeoutMs} ms (now ${Date.now()}): ${progress.join('; ')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
