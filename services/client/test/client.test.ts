import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { waitFor } from '@sluice/testkit'
import { readAll, startSluice, type Sluice } from '@sluice/ingest/testing'
import { ApiKeys, connectRedis, createRedisClient } from '@sluice/store'
import { hashKeyForPartitionKey } from '@sluice/protocol'
import { Consumer, Producer, SluiceClient, SluiceError, type Batch, type ConsumerEvent, type ProducerEvent } from '../src/index.js'

describe('@sluice/client', () => {
  let s: Sluice
  before(async () => {
    s = await startSluice({ env: { SLUICE_SHARD_READS_PER_SECOND: '1000' } })
  })
  after(async () => s.close())

  it('Producer: 20,000 records into a shard limited to 1,000 records/s all arrive, once, in key order', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'p', shardCount: 1 })).status, 201)
    const producer = new Producer({ endpoint: s.url, stream: 'p', retryMaxMs: 1000 })
    const events: ProducerEvent[] = []
    producer.on((e) => events.push(e))
    const keys = 50
    const puts: Promise<unknown>[] = []
    for (let i = 0; i < 20_000; i++) puts.push(producer.put(`k${i % keys}`, `${i % keys}:${Math.floor(i / keys)}`))
    const results = (await Promise.all(puts)) as Array<{ sequenceNumber: string }>
    await producer.close()
    assert.equal(new Set(results.map((r) => r.sequenceNumber)).size, 20_000, 'every record acknowledged with its own sequence number')
    // 20,000 records at 1,000/s: many were refused at least once, and each refusal was told.
    const throttled = events.reduce((n, e) => n + e.throttled, 0)
    assert.ok(throttled > 0, 'retrying events count the throttled records')
    assert.ok(events.every((e) => e.type === 'retrying' && e.records >= e.throttled && e.inMs >= 0))
    const stored = await readAll(s, 'p', 'shardId-000000000000')
    assert.equal(stored.length, 20_000, 'no record lost, none stored twice')
    const next = new Map<string, number>()
    for (const r of stored) {
      const [key, n] = Buffer.from(r.data, 'base64').toString().split(':').map(Number) as [number, number]
      assert.equal(n, next.get(String(key)) ?? 0, `key k${key}: records in put order`)
      next.set(String(key), n + 1)
    }
  })

  it('Producer: a full buffer makes put wait (backpressure), so memory stays bounded', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'bp', shardCount: 1, writeLimits: { recordsPerSecond: 40 } })).status, 201)
    const producer = new Producer({ endpoint: s.url, stream: 'bp', maxBufferedRecords: 10, retryMaxMs: 200 })
    let most = 0
    const watch = setInterval(() => (most = Math.max(most, producer.buffered)), 2)
    const acked: number[] = []
    const puts = Array.from({ length: 100 }, (_, i) => producer.put('k', String(i)).then(() => acked.push(i)))
    assert.ok(producer.buffered <= 10)
    await Promise.all(puts)
    clearInterval(watch)
    await producer.close()
    assert.ok(most <= 10 && most > 0, `at most 10 buffered, saw ${most}`)
    assert.deepEqual(acked, Array.from({ length: 100 }, (_, i) => i), 'one key: acknowledged in put order')
  })

  it('Consumer: workers share shards, deliver every record in shard order, checkpoint, and hand over on close', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'c', shardCount: 4, writeLimits: { recordsPerSecond: 100_000 } })).status, 201)
    const producer = new Producer({ endpoint: s.url, stream: 'c' })
    await Promise.all(Array.from({ length: 2000 }, (_, i) => producer.put(`key-${i % 97}`, String(i))))
    await producer.close()

    const seen = new Map<string, string[]>()
    const collect = (consumer: Consumer) =>
      consumer.run(async (batch: Batch) => {
        const list = seen.get(batch.shardId) ?? []
        for (const r of batch.records) list.push(r.sequenceNumber)
        seen.set(batch.shardId, list)
      })
    const a = new Consumer({ endpoint: s.url, stream: 'c', group: 'g', workerId: 'a', leaseTtlMs: 3000 })
    const b = new Consumer({ endpoint: s.url, stream: 'c', group: 'g', workerId: 'b', leaseTtlMs: 3000 })
    const runs = [collect(a), collect(b)]
    await waitFor(() => [...seen.values()].reduce((n, l) => n + l.length, 0) >= 2000, { timeoutMs: 15_000, message: 'all 2,000 records delivered' })
    await waitFor(() => a.shards.length === 2 && b.shards.length === 2, { timeoutMs: 10_000, message: 'two shards each' })
    for (const [shardId, list] of seen) {
      assert.deepEqual(list, [...list].sort(), `${shardId} delivered in order`)
    }
    const all = [...seen.values()].flat()
    assert.equal(new Set(all).size, 2000)

    await waitFor(async () => (await s.request('GET', '/v1/streams/c/groups/g')).body.shards.every((x: any) => x.lag.records === 0), {
      timeoutMs: 5000,
      message: 'every shard checkpointed at its end',
    })
    const t0 = Date.now()
    await b.close()
    // close() resolves once b has checkpointed and left: its shards are free at once.
    const d = (await s.request('GET', '/v1/streams/c/groups/g')).body
    assert.ok(d.shards.every((x: any) => x.owner !== 'b'), 'b owns nothing once close() resolved')
    assert.ok(Date.now() - t0 < 1000, `close() took ${Date.now() - t0} ms`)
    // a takes them at its next heartbeat (every third of the 3 s TTL).
    await waitFor(() => a.shards.length === 4, { timeoutMs: 3000, message: 'a owns all shards after b left' })
    assert.ok(Date.now() - t0 < 1000 + 1100, `a owned every shard ${Date.now() - t0} ms after b's close()`)
    await a.close()
    await Promise.all(runs)

    // A new worker resumes from the checkpoints: nothing is delivered again.
    const later = new Consumer({ endpoint: s.url, stream: 'c', group: 'g', workerId: 'c', leaseTtlMs: 3000 })
    let again = 0
    const run = later.run(async (batch) => {
      again += batch.records.length
    })
    await waitFor(() => later.shards.length === 4, { timeoutMs: 5000 })
    const p2 = new Producer({ endpoint: s.url, stream: 'c' })
    await p2.put('fresh', 'new')
    await p2.close()
    await waitFor(() => again === 1, { timeoutMs: 5000, message: 'only the new record is delivered' })
    await later.close()
    await run
  })

  it('Consumer: a worker cut off past its TTL loses the shard, its batch is aborted, and it cannot checkpoint', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'f', shardCount: 1 })).status, 201)
    const p = new Producer({ endpoint: s.url, stream: 'f' })
    await Promise.all(Array.from({ length: 10 }, (_, i) => p.put('k', String(i))))
    await p.close()

    let cutOff = false
    // A network partition between worker a and the service, for heartbeats only.
    const partitioned: typeof fetch = async (input, init) => {
      if (cutOff && String(input).includes('/heartbeat')) throw new TypeError('fetch failed (partition)')
      return fetch(input, init)
    }
    const events: ConsumerEvent[] = []
    const a = new Consumer({ endpoint: s.url, stream: 'f', group: 'g', workerId: 'a', leaseTtlMs: 1000, checkpoint: 'manual', fetch: partitioned })
    a.on((e) => events.push(e))
    const it = a[Symbol.asyncIterator]()
    const first = (await it.next()).value as Batch
    assert.equal(first.records.length, 10)
    cutOff = true
    const b = new Consumer({ endpoint: s.url, stream: 'f', group: 'g', workerId: 'b', leaseTtlMs: 1000 })
    const bBatches: Batch[] = []
    const bRun = b.run(async (batch) => {
      bBatches.push(batch)
    })
    // a stops trusting its lease once no heartbeat got through for a TTL: the batch aborts by itself.
    await waitFor(() => first.signal.aborted, { timeoutMs: 3000, message: "a's batch aborted once its lease could have expired" })
    await waitFor(() => bBatches.length > 0, { timeoutMs: 5000, message: "b takes the shard after a's TTL" })
    assert.equal(bBatches[0]!.records[0]!.sequenceNumber, first.records[0]!.sequenceNumber, 'b re-reads what a never checkpointed')
    await first.checkpoint()
    assert.ok(first.signal.aborted, "a's batch is aborted once the lease is lost")
    assert.ok(events.some((e) => e.type === 'lease-lost' && e.shardId === 'shardId-000000000000'))
    const d = (await s.request('GET', '/v1/streams/f/groups/g')).body
    assert.equal(d.shards[0].owner, 'b')
    cutOff = false
    await a.close()
    await b.close()
    await bRun
  })

  it('Consumer: close() while a heartbeat answer is on its way stops everything: no request after close() resolved', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'h', shardCount: 2 })).status, 201)
    let requestsAfterClose = 0
    let closed = false
    let heartbeatArrived!: () => void
    const arrived = new Promise<void>((resolve) => (heartbeatArrived = resolve))
    // The heartbeat's answer reaches the worker late: after close() has begun.
    const slowHeartbeat: typeof fetch = async (input, init) => {
      if (closed) requestsAfterClose++
      if (!String(input).includes('/heartbeat')) return fetch(input, init)
      const { signal: _ignored, ...rest } = init ?? {}
      const res = await fetch(input, rest)
      heartbeatArrived()
      await new Promise((resolve) => setTimeout(resolve, 300))
      return res
    }
    const w = new Consumer({ endpoint: s.url, stream: 'h', group: 'g', workerId: 'w', leaseTtlMs: 3000, fetch: slowHeartbeat })
    const run = w.run(async () => undefined)
    await arrived
    await w.close()
    await run
    closed = true
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.equal(requestsAfterClose, 0, 'no reader or heartbeat outlives close()')
    assert.deepEqual(w.shards, [])
  })

  it('SluiceClient: streams, reads, groups and keys, one typed call each; errors carry the API code', async () => {
    const client = new SluiceClient({ endpoint: s.url })
    const created = await client.createStream({ name: 'rc', shardCount: 2, retentionHours: 48 })
    assert.equal(created.shards.length, 2)
    assert.deepEqual(await client.describeStream('rc'), created)
    const names: string[] = []
    for await (const st of client.allStreams()) names.push(st.name)
    assert.ok(names.includes('rc') && names.includes('p'))
    const producer = new Producer({ endpoint: s.url, stream: 'rc' })
    const { shardId, sequenceNumber } = await producer.put('key', 'hi')
    await producer.close()
    const page = await client.getRecords('rc', shardId, { from: 'AT_SEQUENCE_NUMBER', sequenceNumber }, 10)
    assert.deepEqual(page.records.map((r) => [r.partitionKey, Buffer.from(r.data, 'base64').toString()]), [['key', 'hi']])
    assert.equal((await client.getRecords('rc', shardId, { iterator: page.nextIterator })).records.length, 0)
    const key = await client.createApiKey({ scopes: ['read:rc'], name: 'sdk' })
    assert.ok((await client.listApiKeys()).keys.some((k) => k.id === key.id && k.name === 'sdk'))
    await client.revokeApiKey(key.id)
    await assert.rejects(client.revokeApiKey(key.id), (err: SluiceError) => err.code === 'KeyNotFound' && err.status === 404)
    await assert.rejects(client.describeGroup('rc', 'none'), (err: SluiceError) => err.code === 'GroupNotFound')
    await client.deleteStream('rc')
    await assert.rejects(client.describeStream('rc'), (err: SluiceError) => err.code === 'StreamNotFound' && err.status === 404)
    const unreachable = new SluiceClient({ endpoint: 'http://127.0.0.1:1' })
    await assert.rejects(unreachable.describeStream('rc'), (err: SluiceError) => err.code === 'NetworkError' && err.retryable)
  })

  it('Consumer: checkpoint(sequenceNumber) checkpoints a batch up to one of its records', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'part', shardCount: 1 })).status, 201)
    const producer = new Producer({ endpoint: s.url, stream: 'part' })
    const acked = await Promise.all(Array.from({ length: 10 }, (_, i) => producer.put('k', String(i))))
    await producer.close()
    const c = new Consumer({ endpoint: s.url, stream: 'part', group: 'g', checkpoint: 'manual', leaseTtlMs: 3000 })
    for await (const batch of c) {
      assert.equal(batch.records.length, 10)
      await assert.rejects(batch.checkpoint('1' + '0'.repeat(41)), RangeError)
      await batch.checkpoint(batch.records[3]!.sequenceNumber)
      break
    }
    await c.close()
    const group = (await s.request('GET', '/v1/streams/part/groups/g')).body
    assert.equal(group.shards[0].checkpoint, acked[3]!.sequenceNumber)
    assert.equal(group.shards[0].lag.records, 6)
  })

  it('Consumer: leaving the loop, a throw in its body or close() mid-batch does not checkpoint that batch, and leaves the group', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'quit', shardCount: 1 })).status, 201)
    const producer = new Producer({ endpoint: s.url, stream: 'quit' })
    await Promise.all(Array.from({ length: 5 }, (_, i) => producer.put('k', String(i))))
    await producer.close()
    const group = async () => (await s.request('GET', '/v1/streams/quit/groups/g')).body.shards[0]
    // A throw in the body: the batch failed. It must not be checkpointed, and the worker must let go.
    const a = new Consumer({ endpoint: s.url, stream: 'quit', group: 'g', workerId: 'a', leaseTtlMs: 30_000 })
    await assert.rejects(
      (async () => {
        for await (const batch of a) {
          assert.equal(batch.records.length, 5)
          throw new Error('handler failed')
        }
      })(),
      /handler failed/,
    )
    await a.close()
    assert.deepEqual([(await group()).checkpoint, (await group()).owner], [null, null], 'not checkpointed, and the lease is free at once')
    // close() while the body is still on the batch (a shutdown signal): not checkpointed either.
    const b = new Consumer({ endpoint: s.url, stream: 'quit', group: 'g', workerId: 'b', leaseTtlMs: 30_000 })
    for await (const batch of b) {
      assert.equal(batch.records.length, 5, 'delivered again')
      await b.close()
      assert.ok(batch.signal.aborted)
    }
    assert.deepEqual([(await group()).checkpoint, (await group()).owner], [null, null])
    // A break: the same.
    const c = new Consumer({ endpoint: s.url, stream: 'quit', group: 'g', workerId: 'c', leaseTtlMs: 30_000 })
    for await (const batch of c) {
      assert.equal(batch.records.length, 5, 'delivered again')
      break
    }
    assert.deepEqual([(await group()).checkpoint, (await group()).owner], [null, null], 'break left the group without close()')
  })

  it('Consumer: the loop and run() fail when the consumer stops on its own (the stream was deleted)', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'gone', shardCount: 1 })).status, 201)
    const c = new Consumer({ endpoint: s.url, stream: 'gone', group: 'g', leaseTtlMs: 1500 })
    const loop = (async () => {
      for await (const _ of c) {
        // nothing to read
      }
    })()
    await waitFor(() => c.shards.length === 1, { timeoutMs: 5000 })
    assert.equal((await s.request('DELETE', '/v1/streams/gone')).status, 204)
    await assert.rejects(loop, (err: SluiceError) => err.code === 'StreamNotFound')
  })

  it('Producer: puts waiting for space keep their order, and close() waits for them', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'fifo', shardCount: 1 })).status, 201)
    // Two records of 601 B do not fit together in 1,000 B: the second waits, and a small third put
    // must wait behind it, not overtake it.
    const big = 'x'.repeat(600)
    const p = new Producer({ endpoint: s.url, stream: 'fifo', maxBufferedBytes: 1000, lingerMs: 50 })
    const puts = [p.put('k', `A${big}`), p.put('k', `B${big}`), p.put('k', 'C')]
    await Promise.all(puts)
    // close() right after puts that wait for space: every one of them is acknowledged before it resolves.
    const q = new Producer({ endpoint: s.url, stream: 'fifo', maxBufferedRecords: 5 })
    const acked: number[] = []
    const more = Array.from({ length: 12 }, (_, i) => q.put('k', `q${i}`).then(() => acked.push(i)))
    await q.close()
    assert.equal(acked.length, 12, `close() resolved with ${acked.length} of 12 acknowledged`)
    await Promise.all(more)
    await p.close()
    const stored = (await readAll(s, 'fifo', 'shardId-000000000000')).map((r) => Buffer.from(r.data, 'base64').toString()[0] === 'q' ? Buffer.from(r.data, 'base64').toString() : Buffer.from(r.data, 'base64').toString()[0])
    assert.deepEqual(stored, ['A', 'B', 'C', ...Array.from({ length: 12 }, (_, i) => `q${i}`)])
  })

  it('Producer: records refused by one shard\'s limit wait; records for other shards go on', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'skew', shardCount: 2, writeLimits: { recordsPerSecond: 100 } })).status, 201)
    // A key for each shard (MD5 routing: the lower half of the hash space is shard 0).
    const half = 2n ** 127n
    const keyFor = (shard: number) => Array.from({ length: 100 }, (_, i) => `key-${i}`).find((k) => (hashKeyForPartitionKey(k) < half) === (shard === 0))!
    const p = new Producer({ endpoint: s.url, stream: 'skew' })
    // 1,000 records for shard 0 at 100 records/s: about 10 s of backlog, throttled all along.
    const hot = Array.from({ length: 1000 }, (_, i) => p.put(keyFor(0), `hot-${i}`))
    await waitFor(() => p.buffered < 1000, { timeoutMs: 5000, message: 'the first hot records are taken' })
    // Ten puts for shard 1, one after another: none waits for shard 0's backoff (each at least the
    // 1 s Retry-After), so they are all in while most of the hot backlog is still waiting.
    for (let i = 0; i < 10; i++) assert.equal((await p.put(keyFor(1), `cold-${i}`)).shardId, 'shardId-000000000001')
    assert.ok(p.buffered > 500, `the cold records were held behind the hot shard: only ${p.buffered} hot records left`)
    await Promise.all(hot)
    await p.close()
  })

  it('Consumer: a long-held lease does not gather a listener per batch on its signal', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'many', shardCount: 1 })).status, 201)
    const producer = new Producer({ endpoint: s.url, stream: 'many' })
    await Promise.all(Array.from({ length: 300 }, (_, i) => producer.put('k', String(i))))
    await producer.close()
    const c = new Consumer({ endpoint: s.url, stream: 'many', group: 'g', batchSize: 1 })
    let batches = 0
    let most = 0
    for await (const batch of c) {
      most = Math.max(most, getEventListeners(batch.signal, 'abort').length)
      if (++batches === 300) break
    }
    await c.close()
    assert.equal(batches, 300)
    assert.ok(most <= 3, `the lease's signal held ${most} abort listeners after ${batches} batches`)
  })
})

describe('@sluice/client with API keys', () => {
  let s: Sluice
  before(async () => {
    s = await startSluice({ env: { SLUICE_AUTH: 'on', SLUICE_SHARD_READS_PER_SECOND: '1000' } })
  })
  after(async () => s.close())

  it('sends its key; without one, or with a key lacking the scope, put fails at once (not retried)', async () => {
    const redis = createRedisClient({ url: s.redis.url })
    await connectRedis(redis)
    const keys = new ApiKeys(redis)
    const admin = (await keys.create('admin', ['admin:*'])).token
    const writer = (await keys.create('w', ['write:k', 'read:k'])).token
    const reader = (await keys.create('r', ['read:k'])).token
    redis.disconnect()
    assert.equal((await s.request('POST', '/v1/streams', { name: 'k', shardCount: 1 }, { authorization: `Bearer ${admin}` })).status, 201)

    const p = new Producer({ endpoint: s.url, stream: 'k', apiKey: writer })
    const acked = await p.put('a', 'hello')
    await p.close()
    assert.ok(acked.sequenceNumber)

    const t0 = Date.now()
    const anonymous = new Producer({ endpoint: s.url, stream: 'k' })
    await assert.rejects(anonymous.put('a', 'x'), (err: any) => err.code === 'Unauthorized' && err.status === 401)
    const readOnly = new Producer({ endpoint: s.url, stream: 'k', apiKey: reader })
    await assert.rejects(readOnly.put('a', 'x'), (err: any) => err.code === 'Forbidden' && err.status === 403)
    assert.ok(Date.now() - t0 < 2000, 'refusals are not retried')

    const c = new Consumer({ endpoint: s.url, stream: 'k', group: 'g', apiKey: reader, leaseTtlMs: 3000 })
    const got: string[] = []
    const run = c.run(async (batch) => {
      for (const r of batch.records) got.push(Buffer.from(r.data).toString())
    })
    await waitFor(() => got.length === 1, { timeoutMs: 5000, message: 'the consumer reads with its key' })
    assert.deepEqual(got, ['hello'])
    await c.close()
    await run
  })
})
