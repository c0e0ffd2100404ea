/**
 * The archive with real parts: redis-server, s3rver and the ingest service, the archiver in this
 * process (its passes are called directly, so each step is observable).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ListObjectsCommand, S3Client } from '@aws-sdk/client-s3'
import { StreamCatalog, shardKeys } from '@sluice/store'
import { readAll } from '@sluice/ingest/testing'
import { waitFor } from '@sluice/testkit'
import { ArchiverMetrics } from '../src/index.js'
import { BUCKET, archiveAll, archivedRecords, archiverFor, assertArchiveExact, putMany, startWorld, type World } from './helpers.js'

describe('archive to S3', () => {
  let world: World
  before(async () => {
    world = await startWorld()
  })
  after(async () => world?.close())

  // An object that stays open across passes is kept as written so far (within a memory budget), or
  // only measured and read again from its cursor once it closes: both give the same objects.
  for (const [stream, keptTextBytes, how] of [
    ['rt', undefined, 'open objects kept between passes'],
    ['rt-reread', 0, 'open objects read again when they close'],
  ] as const) {
    it(`round trip (${how}): 20,000 records over 4 shards land in S3 exactly once, in order, in gzip NDJSON objects named after their first record`, async () => {
      assert.equal((await world.sluice.request('POST', '/v1/streams', { name: stream, shardCount: 4, writeLimits: { recordsPerSecond: 100_000 } })).status, 201)
      const { archiver, redis, close } = await archiverFor(world, { keptTextBytes })
      try {
        // Archive while records arrive: objects close by size and by age.
        const writing = putMany(world.sluice, stream, 20_000)
        const passes = (async () => {
          let done = false
          void writing.then(() => (done = true))
          while (!done) await archiver.pass()
        })()
        const acked = await writing
        await passes
        await archiveAll(archiver, redis, stream)
        const objects = await assertArchiveExact(world, stream, acked)
        assert.ok(objects >= 40, `small object limits give many objects (${objects})`)
        // Every record's fields survive the trip.
        const stored = await readAll(world.sluice, stream, 'shardId-000000000000')
        const flat = (await archivedRecords(world, stream)).get('shardId-000000000000')!.records.flat()
        assert.deepEqual(
          flat.map((r) => [r.sequenceNumber, r.partitionKey, r.data, r.approximateArrivalTimestamp]),
          stored.map((r) => [r.sequenceNumber, r.partitionKey, r.data, r.approximateArrivalTimestamp]),
        )
        // A second pass with nothing new writes nothing.
        const again = await archiver.pass()
        assert.equal(again.objects, 0)
      } finally {
        await close()
      }
    })
  }

  it('an upload that outlasts the lease is still committed, and an ETag that is not the MD5 (SSE-KMS, SSE-C) does not stop archiving', async () => {
    const stream = 'slow-s3'
    assert.equal((await world.sluice.request('POST', '/v1/streams', { name: stream, shardCount: 1 })).status, 201)
    // An S3 whose PUTs take longer than the archiver's lease, and that answers an ETag other than the
    // body's MD5, as S3 does for objects encrypted with SSE-KMS or SSE-C.
    const s3 = new S3Client({ endpoint: world.s3.endpoint, region: world.s3.region, forcePathStyle: true, credentials: world.s3.credentials, maxAttempts: 1 })
    let puts = 0
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'PutObjectCommand') return next(args)
        puts++
        await new Promise((resolve) => setTimeout(resolve, 1300))
        const out = await next(args)
        ;(out.output as { ETag?: string }).ETag = '"0123456789abcdef0123456789abcdef"'
        return out
      },
      { step: 'initialize', name: 'slowAndEncrypted' },
    )
    const { archiver, redis, close } = await archiverFor(world, { s3, leaseTtlMs: 1000 })
    try {
      const acked = await putMany(world.sluice, stream, 50)
      await archiveAll(archiver, redis, stream, 15_000)
      await assertArchiveExact(world, stream, acked)
      assert.equal(puts, 1, 'one object, uploaded once: not again and again by each new lease')
    } finally {
      await close()
      s3.destroy()
    }
  })

  it('a deleted stream\'s leases leave the held-leases count', async () => {
    assert.equal((await world.sluice.request('POST', '/v1/streams', { name: 'short-lived', shardCount: 2 })).status, 201)
    const { archiver, redis, close } = await archiverFor(world)
    try {
      await putMany(world.sluice, 'short-lived', 20)
      await archiveAll(archiver, redis, 'short-lived')
      const held = (await archiver.pass()).held
      assert.ok(held >= 2, `holds the stream's shards (${held})`)
      assert.equal((await world.sluice.request('DELETE', '/v1/streams/short-lived')).status, 204)
      assert.equal((await archiver.pass()).held, held - 2)
    } finally {
      await close()
    }
  })

  it('large records: each object reads about its own records from Redis, not the whole backlog', async () => {
    const stream = 'big-records'
    assert.equal((await world.sluice.request('POST', '/v1/streams', { name: stream, shardCount: 1, writeLimits: { recordsPerSecond: 100_000, bytesPerSecond: 1_000_000_000 } })).status, 201)
    const acked = await putMany(world.sluice, stream, 40, { batch: 10, dataBytes: 200 * 1024 })
    const { archiver, redis, close } = await archiverFor(world, { objects: { maxBytes: 512 * 1024, maxAgeMs: 200 } })
    const sent = async () => Number(/total_net_output_bytes:(\d+)/.exec(await redis.info('stats'))![1])
    try {
      const before = await sent()
      await archiveAll(archiver, redis, stream)
      const read = (await sent()) - before
      await assertArchiveExact(world, stream, acked)
      // 40 records stored as 273 KB of base64 each, one to an object: each object reads its record and
      // the next (which tells it is full). Reading the backlog from the cursor for each object (a
      // thousand records at a time) would send about 20 times what is stored.
      const stored = 40 * Math.ceil((200 * 1024 + 10) / 3) * 4
      assert.ok(read < 3 * stored, `Redis sent ${read} bytes to archive ${stored} bytes of records`)
    } finally {
      await close()
    }
  })

  it('records written by earlier versions (data as base64 text, entry field d) read back and archive as the same bytes', async () => {
    assert.equal((await world.sluice.request('POST', '/v1/streams', { name: 'legacy', shardCount: 1 })).status, 201)
    const { archiver, redis, close } = await archiverFor(world)
    try {
      const stream = (await new StreamCatalog(redis).get('legacy'))!
      const keys = shardKeys('legacy', stream.generation, 0)
      // What an older version left in a shard: its entries, and the state put-records keeps.
      const ms = Date.now() - 1000
      const old = [Buffer.from('old one'), Buffer.from([0, 0xff, 0xfe])]
      await redis.xadd(keys.log, `${ms}-1`, 'k', 'a', 'd', old[0]!.toString('base64'))
      await redis.xadd(keys.log, `${ms}-2`, 'k', 'b', 'd', old[1]!.toString('base64'))
      // Stored as sent: "YR==" is the byte 0x61, read back as YQ==.
      await redis.xadd(keys.log, `${ms}-3`, 'k', 'y', 'd', 'YR==')
      await redis.hset(keys.state, 'last_ms', String(ms), 'ordinal', '3', 'wbytes', String(old[0]!.length + old[1]!.length + 4))
      const put = await world.sluice.request('POST', '/v1/streams/legacy/records', { records: [{ partitionKey: 'c', data: Buffer.from('new').toString('base64') }] })
      assert.equal(put.status, 200, put.text)
      const read = await readAll(world.sluice, 'legacy', 'shardId-000000000000')
      assert.deepEqual(
        read.map((r) => [r.partitionKey, r.data]),
        [['a', old[0]!.toString('base64')], ['b', old[1]!.toString('base64')], ['y', 'YQ=='], ['c', Buffer.from('new').toString('base64')]],
      )
      await archiveAll(archiver, redis, 'legacy')
      const flat = (await archivedRecords(world, 'legacy')).get('shardId-000000000000')!.records.flat()
      assert.deepEqual(
        flat.map((r) => [r.sequenceNumber, r.partitionKey, r.data]),
        read.map((r) => [r.sequenceNumber, r.partitionKey, r.data]),
      )
      // An entry in a form this version does not know (another version's field) is not archived as
      // something else: the shard stops there, and nothing of it is trimmed.
      await redis.xadd(keys.log, `${Date.now() + 1000}-5`, 'k', 'd', 'z', 'future')
      const before = await redis.xlen(keys.log)
      const pass = await archiver.pass()
      assert.equal(pass.objects, 0)
      assert.ok(pass.failures >= 1, JSON.stringify(pass))
      assert.equal(await redis.xlen(keys.log), before)
      // The later tests share this archiver's world: the shard must not fail their passes.
      assert.equal((await world.sluice.request('DELETE', '/v1/streams/legacy')).status, 204)
    } finally {
      await close()
    }
  })

  it('tiered read: with a zero hot window Redis is trimmed to the archive, and reads run from TRIM_HORIZON through S3 into Redis unchanged', async () => {
    assert.equal((await world.sluice.request('POST', '/v1/streams', { name: 'tier', shardCount: 1, writeLimits: { recordsPerSecond: 100_000 } })).status, 201)
    const before = await readAll(world.sluice, 'tier', 'shardId-000000000000')
    assert.equal(before.length, 0)
    const { archiver, redis, close } = await archiverFor(world, { hotRetentionMs: 0 })
    try {
      const first = await putMany(world.sluice, 'tier', 3000, { tag: 'a' })
      await new Promise((resolve) => setTimeout(resolve, 20)) // so the newest record is later than the first
      const newest = await putMany(world.sluice, 'tier', 1, { tag: 'a' })
      await archiveAll(archiver, redis, 'tier')
      const stream = (await new StreamCatalog(redis).get('tier'))!
      const keys = shardKeys('tier', stream.generation, 0)
      assert.equal(await redis.xlen(keys.log), 0, 'everything archived was trimmed from Redis')
      // Read from the archive alone, a reader is still told how far behind the newest record it is.
      const oldest = await world.sluice.request('GET', '/v1/streams/tier/shards/shardId-000000000000/records?from=TRIM_HORIZON&limit=1')
      const msOf = (seq: string) => Number(seq.slice(1, 16))
      assert.equal(oldest.body.millisBehindLatest, msOf(newest.get('shardId-000000000000')![0]!) - msOf(oldest.body.records[0].sequenceNumber))
      assert.ok(oldest.body.millisBehindLatest >= 20)
      // Records that only Redis holds follow the archived ones.
      const second = await putMany(world.sluice, 'tier', 500, { tag: 'b' })
      const written = [...first.get('shardId-000000000000')!, ...newest.get('shardId-000000000000')!, ...second.get('shardId-000000000000')!]
      const read = await readAll(world.sluice, 'tier', 'shardId-000000000000')
      assert.deepEqual(
        read.map((r) => r.sequenceNumber),
        written,
        'TRIM_HORIZON to the end: every record once, in order, across S3 and Redis',
      )
      assert.ok(
        read.every((r) => /^[ab]\d+:/.test(Buffer.from(r.data, 'base64').toString())),
        'data decodes',
      )

      // AT_TIMESTAMP and AT_SEQUENCE_NUMBER inside the archived part.
      const middle = read[1234]
      assert.ok(middle, `${read.length} records read`)
      const at = await world.sluice.request('GET', `/v1/streams/tier/shards/shardId-000000000000/records?from=AT_SEQUENCE_NUMBER&sequenceNumber=${middle.sequenceNumber}&limit=5`)
      assert.equal(at.status, 200, JSON.stringify(at.body))
      assert.deepEqual(at.body.records.map((r: any) => r.sequenceNumber), written.slice(1234, 1239))
      const ts = await world.sluice.request('GET', `/v1/streams/tier/shards/shardId-000000000000/records?from=AT_TIMESTAMP&timestamp=${middle.approximateArrivalTimestamp}&limit=1`)
      assert.equal(ts.status, 200, JSON.stringify(ts.body))
      const firstAtTime = read.find((r) => r.approximateArrivalTimestamp >= middle.approximateArrivalTimestamp)
      assert.ok(firstAtTime)
      assert.equal(ts.body.records[0].sequenceNumber, firstAtTime.sequenceNumber)

      // The same through the Kinesis-shaped path: GetShardIterator + GetRecords share the code, so a
      // reader there sees the same; the metric says the archive answered.
      const metrics = await world.sluice.request('GET', '/metrics')
      assert.match(metrics.text, /sluice_archive_reads_total\{stream="tier"\} [1-9]/)
    } finally {
      await close()
    }
  })

  it('group lag counts the records only S3 still holds: a group that has not checkpointed has them all ahead', async () => {
    assert.equal((await world.sluice.request('POST', '/v1/streams', { name: 'glag', shardCount: 1, writeLimits: { recordsPerSecond: 100_000 } })).status, 201)
    const { archiver, redis, close } = await archiverFor(world, { hotRetentionMs: 0 })
    try {
      await putMany(world.sluice, 'glag', 400)
      await archiveAll(archiver, redis, 'glag')
      const stream = (await new StreamCatalog(redis).get('glag'))!
      assert.equal(await redis.xlen(shardKeys('glag', stream.generation, 0).log), 0, 'everything archived was trimmed from Redis')
      const base = '/v1/streams/glag/groups/late'
      assert.equal((await world.sluice.request('POST', `${base}/workers/w/heartbeat`)).status, 200)
      const group = await world.sluice.request('GET', base)
      assert.equal(group.status, 200, group.text)
      assert.equal(group.body.shards[0].lag.records, 400, 'before: 0, Redis holding none of them')
      // Some records in Redis too: they and the archived ones.
      await putMany(world.sluice, 'glag', 50)
      assert.equal((await world.sluice.request('GET', base)).body.shards[0].lag.records, 450)
    } finally {
      await close()
    }
  })

  it('a read of archived records while S3 is unreachable is a 503 with Retry-After, and works again once S3 is back', async () => {
    // 'tier' was archived and trimmed to nothing by the tiered-read test; a fresh ingest has no cache.
    const { startSluice } = await import('@sluice/ingest/testing')
    const fresh = await startSluice({ redis: world.redis, env: { ...world.env, SLUICE_SHARD_READS_PER_SECOND: '1000' } })
    try {
      await world.s3.kill()
      const down = await fresh.request('GET', '/v1/streams/tier/shards/shardId-000000000000/records?from=TRIM_HORIZON&limit=5')
      assert.equal(down.status, 503, down.text)
      assert.equal(down.body.error.code, 'ServiceUnavailable')
      assert.match(down.body.error.message, /archive/)
      assert.ok(Number(down.headers.get('retry-after')) >= 1)
      await world.s3.restart()
      const up = await fresh.request('GET', '/v1/streams/tier/shards/shardId-000000000000/records?from=TRIM_HORIZON&limit=5')
      assert.equal(up.status, 200, up.text)
      assert.equal(up.body.records.length, 5)
    } finally {
      await fresh.close()
    }
  })

  it('hot byte bound: Redis keeps about SLUICE_HOT_MAX_BYTES of archived records per shard (whole objects), unarchived ones always', async () => {
    assert.equal((await world.sluice.request('POST', '/v1/streams', { name: 'hot', shardCount: 1, writeLimits: { recordsPerSecond: 100_000 } })).status, 201)
    const bound = 20_000
    const { archiver, redis, close } = await archiverFor(world, { hotMaxBytes: bound })
    try {
      const acked = await putMany(world.sluice, 'hot', 3000)
      await archiveAll(archiver, redis, 'hot')
      await archiver.pass()
      const stream = (await new StreamCatalog(redis).get('hot'))!
      const entries = await redis.xrangeBuffer(shardKeys('hot', stream.generation, 0).log, '-', '+')
      let bytes = 0
      for (const [, fields] of entries) bytes += fields[1]!.length + fields[3]!.length
      assert.ok(entries.length > 0, 'the newest records stay hot')
      assert.ok(bytes <= bound, `${bytes} bytes left in Redis, bound ${bound}`)
      assert.ok(bytes > bound - 16 * 1024, `trimmed by whole objects only as far as needed (${bytes} bytes left)`)
      // Still one seamless read from the start.
      const read = await readAll(world.sluice, 'hot', 'shardId-000000000000')
      assert.deepEqual(read.map((r) => r.sequenceNumber), acked.get('shardId-000000000000'))
    } finally {
      await close()
    }
  })

  it('retention: records past it are never returned from the archive, and objects past it are deleted', async () => {
    assert.equal((await world.sluice.request('POST', '/v1/streams', { name: 'ret', shardCount: 1, retentionHours: 24, writeLimits: { recordsPerSecond: 100_000 } })).status, 201)
    const { archiver, redis, close } = await archiverFor(world, { hotRetentionMs: 0 })
    try {
      await putMany(world.sluice, 'ret', 1000)
      await archiveAll(archiver, redis, 'ret')
      const list = async () => ((await world.client.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'sluice/ret/' }))).Contents ?? []).length
      const objects = await list()
      assert.ok(objects > 0)
      // 25 hours later (as the ingest sees it): nothing is returned.
      const { startSluice } = await import('@sluice/ingest/testing')
      const later = await startSluice({ redis: world.redis, env: { ...world.env, SLUICE_SHARD_READS_PER_SECOND: '1000' }, now: () => Date.now() + 25 * 3_600_000 })
      try {
        const res = await later.request('GET', '/v1/streams/ret/shards/shardId-000000000000/records?from=TRIM_HORIZON')
        assert.equal(res.status, 200, JSON.stringify(res.body))
        assert.equal(res.body.records.length, 0, 'expired records are not returned')
      } finally {
        await later.close()
      }
      // A bucket that refuses deletes (no permission, Object Lock): the objects stay, archiving goes on.
      const refusing = new S3Client({ endpoint: world.s3.endpoint, region: world.s3.region, forcePathStyle: true, credentials: world.s3.credentials, maxAttempts: 1 })
      refusing.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'DeleteObjectCommand') throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied' })
          return next(args)
        },
        { step: 'initialize', name: 'refuseDeletes' },
      )
      const locked = await archiverFor(world, { s3: refusing, hotRetentionMs: 0, clock: async () => Date.now() + 25 * 3_600_000 })
      try {
        const summary = await locked.archiver.pass()
        assert.equal(summary.failures, 0, 'a refused delete is not an archiving failure (no backoff)')
        assert.equal(await list(), objects)
      } finally {
        await locked.close()
        refusing.destroy()
      }
      // The archiver, 25 hours later, deletes the expired objects and forgets them.
      const late = await archiverFor(world, { hotRetentionMs: 0, clock: async () => Date.now() + 25 * 3_600_000 })
      try {
        await waitFor(async () => (await late.archiver.pass()).expired >= 0 && (await list()) === 0, { timeoutMs: 10_000, message: 'expired objects deleted' })
      } finally {
        await late.close()
      }
      const stream = (await new StreamCatalog(redis).get('ret'))!
      assert.equal(await redis.zcard(shardKeys('ret', stream.generation, 0).objects), 0, 'the index forgot them')
    } finally {
      await close()
    }
  })

  it('S3 down for 10 s under load: nothing unarchived is trimmed, puts get 429 only at the backlog bound, and the archiver catches up', async () => {
    // A second ingest with a small backlog bound (the smallest allowed: 2 MiB).
    const { startSluice } = await import('@sluice/ingest/testing')
    const bound = 2 * 1024 * 1024
    const ingest = await startSluice({ redis: world.redis, env: { ...world.env, SLUICE_MAX_UNARCHIVED_BYTES: String(bound) } })
    const metrics = new ArchiverMetrics()
    const backlogBytes = async () => (await metrics.backlogBytes.get()).values.find((v) => v.labels.stream === 'down')?.value
    const { archiver, redis, close } = await archiverFor(world, { hotRetentionMs: 0, metrics })
    archiver.start()
    try {
      assert.equal((await ingest.request('POST', '/v1/streams', { name: 'down', shardCount: 1, writeLimits: { recordsPerSecond: 100_000, bytesPerSecond: 100 * 1024 * 1024 } })).status, 201)
      const stream = (await new StreamCatalog(redis).get('down'))!
      const keys = shardKeys('down', stream.generation, 0)
      const acked: string[] = []
      const put = async (n: number) => {
        const records = Array.from({ length: n }, (_, i) => ({ partitionKey: `k${i}`, data: Buffer.alloc(2000, i % 251).toString('base64') }))
        const res = await ingest.request('POST', '/v1/streams/down/records', { records })
        for (const r of res.body.records ?? []) if (r.sequenceNumber) acked.push(r.sequenceNumber)
        return res
      }
      for (let i = 0; i < 5; i++) assert.equal((await put(100)).status, 200)
      await archiveAll(null, redis, 'down')

      world.s3.stop()
      const stoppedAt = Date.now()
      let refusedAt: { unarchived: number } | undefined
      while (Date.now() - stoppedAt < 10_000) {
        const res = await put(100)
        if (res.status === 429 || res.body.failedRecordCount > 0) {
          const [written, archived] = await Promise.all([redis.hget(keys.state, 'wbytes'), redis.hget(keys.archive, 'bytes')])
          refusedAt ??= { unarchived: Number(written) - Number(archived) }
          assert.ok(res.status === 429 || res.body.records.some((r: any) => /unarchived/.test(r.errorMessage ?? '')))
          if (res.status === 429) assert.ok(Number(res.headers.get('retry-after')) >= 1)
        }
        // Unarchived records are never trimmed: Redis holds every record past the cursor.
        const cursor = await redis.hget(keys.archive, 'cursor')
        const ordinal = Number(await redis.hget(keys.state, 'ordinal'))
        const archivedCount = cursor ? Number(cursor.split('-')[1]) : 0
        assert.ok((await redis.xlen(keys.log)) >= ordinal - archivedCount, 'no unarchived record was trimmed')
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      assert.ok(refusedAt, 'puts were refused once the backlog reached its bound')
      assert.ok(refusedAt.unarchived > bound - 100 * 2010, `refused only near the bound: ${refusedAt.unarchived} unarchived bytes of ${bound}`)
      // The archiver reports the backlog it cannot upload.
      await waitFor(async () => ((await backlogBytes()) ?? 0) >= refusedAt!.unarchived, { timeoutMs: 5_000, message: 'sluice_archiver_backlog_bytes shows the backlog' })
      world.s3.resume()

      // Catches up, and puts are accepted again.
      await archiveAll(null, redis, 'down', 30_000)
      await waitFor(async () => (await put(10)).status === 200, { timeoutMs: 10_000, message: 'puts accepted again' })
      await archiveAll(null, redis, 'down', 30_000)
      await assertArchiveExact(world, 'down', new Map([['shardId-000000000000', acked]]))
      await waitFor(async () => (await backlogBytes()) === 0, { timeoutMs: 5_000, message: 'sluice_archiver_backlog_bytes back to 0' })
    } finally {
      world.s3.resume()
      await close()
      await ingest.close()
    }
  })
})
