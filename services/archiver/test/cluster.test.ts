/**
 * The archiver on a 3-master Redis Cluster: every script and MULTI it runs stays in one shard's
 * slot (the shard's keys share a hash tag), so the same code archives every shard exactly once
 * there too. Records are appended with the store's put path, as the ingest does.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { S3Client } from '@aws-sdk/client-s3'
import { pino } from 'pino'
import { sequenceNumberFromEntryId, shardIdFor } from '@sluice/protocol'
import { ShardStore, StreamCatalog, connectRedis, createRedisClient, shardKeys, type SluiceRedis } from '@sluice/store'
import { startRedisCluster, startS3, type RedisClusterHandle, type S3Server } from '@sluice/testkit'
import { Archiver, ArchiverMetrics } from '../src/index.js'
import { BUCKET, archiveAll, assertArchiveExact } from './helpers.js'

describe('archive on a 3-master Redis Cluster', () => {
  let cluster: RedisClusterHandle
  let s3: S3Server
  let redis: SluiceRedis
  let client: S3Client
  before(async () => {
    ;[cluster, s3] = await Promise.all([startRedisCluster({ masters: 3 }), startS3({ buckets: [BUCKET] })])
    redis = createRedisClient({ url: `redis-cluster://${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`, commandTimeoutMs: 3000 })
    await connectRedis(redis)
    client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: s3.credentials })
  })
  after(async () => {
    client?.destroy()
    redis?.disconnect()
    await Promise.all([cluster?.close(), s3?.close()])
  })

  it('every shard, spread over the masters, is archived exactly once, in order', async () => {
    const stream = (await new StreamCatalog(redis).create({
      name: 'cl',
      shardCount: 6,
      retentionHours: 24,
      writeLimits: { perSecond: 1_000_000, bytesPerSecond: 1 << 30 },
      readLimits: { perSecond: 1000, bytesPerSecond: 1 << 30 },
    }))!
    const shards = new ShardStore(redis)
    const acked = new Map<string, string[]>()
    for (let shard = 0; shard < 6; shard++) {
      const keys = shardKeys('cl', stream.generation, shard)
      const list: string[] = []
      for (let batch = 0; batch < 6; batch++) {
        const records = Array.from({ length: 100 }, (_, i) => ({ size: 30, partitionKey: `s${shard}-${batch}-${i}`, data: Buffer.alloc(24, batch + i) }))
        const result = await shards.append(keys, records)
        assert.ok(result.kind === 'appended' && result.entryIds.length === 100)
        for (const id of result.entryIds) list.push(sequenceNumberFromEntryId(id, shard))
      }
      acked.set(shardIdFor(shard), list)
    }
    // The shards really live on different masters.
    const owners = new Set<string>()
    for (let shard = 0; shard < 6; shard++) {
      const slot = Number(await redis.cluster('KEYSLOT', shardKeys('cl', stream.generation, shard).log))
      owners.add(String((redis as unknown as { slots: string[][] }).slots[slot]?.[0]))
    }
    assert.ok(owners.size >= 2, `shards on ${owners.size} master(s)`)
    const archiver = new Archiver({
      redis,
      s3: new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: s3.credentials, maxAttempts: 1 }),
      settings: { endpoint: s3.endpoint, bucket: BUCKET, prefix: 'sluice', region: s3.region, forcePathStyle: true, createBucket: false },
      objects: { maxBytes: 16 * 1024, maxAgeMs: 200 },
      leaseTtlMs: 2000,
      hotRetentionMs: 0,
      hotMaxBytes: 0,
      intervalMs: 50,
      metrics: new ArchiverMetrics(),
      log: pino({ level: 'silent' }),
    })
    try {
      await archiveAll(archiver, redis, 'cl', 30_000)
      const objects = await assertArchiveExact({ client }, 'cl', acked)
      assert.ok(objects >= 12, `small objects: ${objects}`)
      // With a zero hot window the archived records were trimmed from Redis, on every master.
      await archiver.pass()
      for (let shard = 0; shard < 6; shard++) {
        assert.ok((await redis.xlen(shardKeys('cl', stream.generation, shard).log)) < 600, `shard ${shard} was trimmed behind its cursor`)
      }
    } finally {
      await archiver.stop()
    }
  })
})
