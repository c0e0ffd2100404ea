import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { entryIdFromSequenceNumber, hashKeyForPartitionKey, sequenceNumberFromEntryId } from '@sluice/protocol'
import { b64, fromB64, readAll, startSluice, type Sluice } from './harness.js'

const SHARDS = ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003']

describe('put and read', () => {
  let s: Sluice
  let clock = 0 // ms added to the real clock: lets tests age iterators and records
  before(async () => {
    s = await startSluice({ now: () => Date.now() + clock, env: { SLUICE_SHARD_READS_PER_SECOND: '1000' } })
    const c = await s.request('POST', '/v1/streams', {
      name: 'big',
      shardCount: 4,
      writeLimits: { recordsPerSecond: 1_000_000, bytesPerSecond: 1_000_000_000 },
    })
    assert.equal(c.status, 201, c.text)
  })
  after(async () => s.close())

  it('reads back 10,000 records over 4 shards complete, in order, with the acknowledged sequence numbers', async () => {
    const sent = new Map<string, { key: string; data: string; shardId: string; n: number }>()
    const batches: Array<Array<{ partitionKey: string; data: string }>> = []
    for (let b = 0; b < 20; b++) {
      const records = Array.from({ length: 500 }, (_, i) => {
        const n = b * 500 + i
        return { partitionKey: `user-${n % 997}`, data: b64(`record ${n} ${'x'.repeat(n % 50)}`) }
      })
      batches.push(records)
    }
    // Four requests in flight at a time, as a producer would.
    for (let b = 0; b < batches.length; b += 4) {
      const answers = await Promise.all(batches.slice(b, b + 4).map((records) => s.request('POST', '/v1/streams/big/records', { records })))
      answers.forEach((a, j) => {
        assert.equal(a.status, 200, a.text)
        assert.equal(a.body.failedRecordCount, 0)
        const records = batches[b + j]!
        a.body.records.forEach((r: any, i: number) => {
          assert.match(r.sequenceNumber, /^1\d{41}$/)
          sent.set(r.sequenceNumber, { key: records[i]!.partitionKey, data: records[i]!.data, shardId: r.shardId, n: (b + j) * 500 + i })
        })
      })
    }
    assert.equal(sent.size, 10_000, 'every record has its own sequence number')

    let total = 0
    for (const shardId of SHARDS) {
      const got = await readAll(s, 'big', shardId)
      total += got.length
      let prev = ''
      let prevN = -1
      const perKeyLast = new Map<string, number>()
      for (const r of got) {
        assert.ok(r.sequenceNumber > prev, 'sequence numbers increase within a shard')
        prev = r.sequenceNumber
        const want = sent.get(r.sequenceNumber)
        assert.ok(want, `read a record that was not acknowledged: ${r.sequenceNumber}`)
        assert.equal(want.shardId, shardId)
        assert.equal(r.partitionKey, want.key)
        assert.equal(r.data, want.data)
        assert.ok(typeof r.approximateArrivalTimestamp === 'number' && Math.abs(r.approximateArrivalTimestamp - Date.now()) < 120_000)
        // Records of one key keep the order they had in their request (concurrent requests may
        // interleave; no service can order those).
        const sameRequestKey = `${Math.floor(want.n / 500)}:${r.partitionKey}`
        const last = perKeyLast.get(sameRequestKey)
        if (last !== undefined) assert.ok(want.n > last, `${r.partitionKey}: record ${want.n} read after ${last}`)
        perKeyLast.set(sameRequestKey, want.n)
        prevN = want.n
      }
      assert.ok(prevN >= 0 || got.length === 0)
      assert.ok(got.length > 1500, `the MD5 routing spreads keys: ${shardId} has ${got.length}`)
    }
    assert.equal(total, 10_000)
  })

  it('stores data of every size byte for byte: small and large records (up to 1 MiB) mixed in one request', async () => {
    // Data from 768 bytes (1,024 base64 characters) on goes to Redis as bytes, shorter data as text.
    const sizes = [0, 1, 2, 3, 767, 768, 769, 1024, 100 * 1024, 1024 * 1024 - 1, 1024 * 1024, 5]
    const records = sizes.map((n, i) => ({ partitionKey: 'sizes', data: randomBytes(n).toString('base64'), n, i }))
    const c = await s.request('POST', '/v1/streams', { name: 'sizes', shardCount: 1, writeLimits: { recordsPerSecond: 1000, bytesPerSecond: 100 * 1024 * 1024 } })
    assert.equal(c.status, 201, c.text)
    const put = await s.request('POST', '/v1/streams/sizes/records', { records: records.map(({ partitionKey, data }) => ({ partitionKey, data })) })
    assert.equal(put.status, 200, put.text)
    assert.equal(put.body.failedRecordCount, 0)
    const got = await readAll(s, 'sizes', 'shardId-000000000000')
    assert.deepEqual(
      got.map((r) => r.data),
      records.map((r) => r.data),
      'every record as sent, in order',
    )
    assert.deepEqual(
      got.map((r) => Buffer.from(r.data, 'base64').length),
      sizes,
    )
  })

  it('routes by the MD5 of the partition key, or by the explicit hash key', async () => {
    const ends = (await s.request('GET', '/v1/streams/big')).body.shards.map((x: any) => BigInt(x.hashKeyRange.end))
    const keys = ['alpha', 'beta', 'gamma', 'delta', '日本語', '🙂']
    const r = await s.request('POST', '/v1/streams/big/records', {
      records: [
        ...keys.map((k) => ({ partitionKey: k, data: b64(k) })),
        { partitionKey: 'x', data: 'AA==', explicitHashKey: '0' },
        { partitionKey: 'x', data: 'AA==', explicitHashKey: '340282366920938463463374607431768211455' },
        { partitionKey: 'x', data: 'AA==', explicitHashKey: ends[1].toString() },
        { partitionKey: 'x', data: 'AA==', explicitHashKey: (ends[1] + 1n).toString() },
      ],
    })
    assert.equal(r.status, 200, r.text)
    keys.forEach((k, i) => {
      const h = hashKeyForPartitionKey(k)
      const want = ends.findIndex((end: bigint) => h <= end)
      assert.equal(r.body.records[i].shardId, SHARDS[want], k)
    })
    assert.deepEqual(
      r.body.records.slice(keys.length).map((x: any) => x.shardId),
      [SHARDS[0], SHARDS[3], SHARDS[1], SHARDS[2]],
    )
  })

  it('stores the bytes: read back in canonical base64, however the client spelled the last character', async () => {
    await s.request('POST', '/v1/streams', { name: 'canon', shardCount: 1 })
    // "YR==" and "YQ==" are both the byte 0x61; strict decoders refuse the first.
    const put = await s.request('POST', '/v1/streams/canon/records', { records: [{ partitionKey: 'k', data: 'YR==' }, { partitionKey: 'k', data: 'YWJ=' }, { partitionKey: 'k', data: 'YWJj' }] })
    assert.equal(put.status, 200, put.text)
    const read = await s.request('GET', '/v1/streams/canon/shards/shardId-000000000000/records?from=TRIM_HORIZON')
    assert.deepEqual(read.body.records.map((r: any) => r.data), ['YQ==', 'YWI=', 'YWJj'])
  })

  it('starts reads at every Kinesis position and pages with nextIterator', async () => {
    await s.request('POST', '/v1/streams', { name: 'pos', shardCount: 1, writeLimits: { recordsPerSecond: 100000 } })
    const put = await s.request('POST', '/v1/streams/pos/records', {
      records: Array.from({ length: 10 }, (_, i) => ({ partitionKey: 'k', data: b64(`r${i}`) })),
    })
    const seqs: string[] = put.body.records.map((x: any) => x.sequenceNumber)
    const path = '/v1/streams/pos/shards/shardId-000000000000/records'
    const data = (r: any) => r.body.records.map((x: any) => fromB64(x.data))

    const first3 = await s.request('GET', `${path}?from=TRIM_HORIZON&limit=3`)
    assert.deepEqual(data(first3), ['r0', 'r1', 'r2'])
    assert.ok(first3.body.millisBehindLatest >= 0)
    const next3 = await s.request('GET', `${path}?iterator=${encodeURIComponent(first3.body.nextIterator)}&limit=3`)
    assert.deepEqual(data(next3), ['r3', 'r4', 'r5'])

    assert.deepEqual(data(await s.request('GET', `${path}?from=AT_SEQUENCE_NUMBER&sequenceNumber=${seqs[7]}`)), ['r7', 'r8', 'r9'])
    assert.deepEqual(data(await s.request('GET', `${path}?from=AFTER_SEQUENCE_NUMBER&sequenceNumber=${seqs[7]}`)), ['r8', 'r9'])
    assert.deepEqual(data(await s.request('GET', `${path}?from=AFTER_SEQUENCE_NUMBER&sequenceNumber=${seqs[9]}`)), [])
    // Past the newest record: not a sequence number this shard issued (a reader parked there would
    // skip every record written until then).
    const newest = entryIdFromSequenceNumber(seqs[9]!)!
    const [ms, ordinal] = newest.entryId.split('-')
    const beyond = await s.request('GET', `${path}?from=AT_SEQUENCE_NUMBER&sequenceNumber=${sequenceNumberFromEntryId(`${ms}-${BigInt(ordinal!) + 1n}`, 0)}`)
    assert.equal(beyond.status, 400, beyond.text)
    assert.equal(beyond.body.error.field, 'sequenceNumber')
    const arrival = Number((await s.request('GET', `${path}?from=TRIM_HORIZON&limit=1`)).body.records[0].approximateArrivalTimestamp)
    assert.equal(data(await s.request('GET', `${path}?from=AT_TIMESTAMP&timestamp=${arrival}`)).length, 10)
    // A start in the future is refused, as Kinesis refuses it: it would wait, silently, for that time.
    const future = await s.request('GET', `${path}?from=AT_TIMESTAMP&timestamp=${new Date(Date.now() + 3_600_000).toISOString()}`)
    assert.equal(future.status, 400, future.text)
    assert.equal(future.body.error.field, 'timestamp')

    const latest = await s.request('GET', `${path}?from=LATEST`)
    assert.deepEqual(latest.body.records, [])
    assert.equal(latest.body.millisBehindLatest, 0)
    await s.request('POST', '/v1/streams/pos/records', { records: [{ partitionKey: 'k', data: b64('after-latest') }] })
    const tail = await s.request('GET', `${path}?iterator=${encodeURIComponent(latest.body.nextIterator)}`)
    assert.deepEqual(data(tail), ['after-latest'])
    const caughtUp = await s.request('GET', `${path}?iterator=${encodeURIComponent(tail.body.nextIterator)}`)
    assert.deepEqual(caughtUp.body.records, [])
  })

  it('refuses tampered, foreign and expired iterators', async () => {
    const path = '/v1/streams/pos/shards/shardId-000000000000/records'
    const r = await s.request('GET', `${path}?from=TRIM_HORIZON&limit=1`)
    const it0: string = r.body.nextIterator
    const flipped = it0.slice(0, 10) + (it0[10] === 'A' ? 'B' : 'A') + it0.slice(11)
    const tampered = await s.request('GET', `${path}?iterator=${encodeURIComponent(flipped)}`)
    assert.equal(tampered.status, 400)
    assert.equal(tampered.body.error.code, 'InvalidIterator')
    const elsewhere = await s.request('GET', `/v1/streams/big/shards/shardId-000000000000/records?iterator=${encodeURIComponent(it0)}`)
    assert.equal(elsewhere.status, 400)
    assert.match(elsewhere.body.error.message, /belongs to stream pos/)
    clock = 5 * 60_000 + 1000
    try {
      const expired = await s.request('GET', `${path}?iterator=${encodeURIComponent(it0)}`)
      assert.equal(expired.status, 400)
      assert.equal(expired.body.error.code, 'ExpiredIterator')
    } finally {
      clock = 0
    }
  })

  it('never returns records older than the stream retention', async () => {
    const path = '/v1/streams/pos/shards/shardId-000000000000/records'
    assert.ok((await s.request('GET', `${path}?from=TRIM_HORIZON`)).body.records.length > 0)
    clock = 25 * 3_600_000 // the stream keeps 24 hours
    try {
      const r = await s.request('GET', `${path}?from=TRIM_HORIZON`)
      assert.equal(r.status, 200)
      assert.deepEqual(r.body.records, [])
    } finally {
      clock = 0
    }
  })

  it('puts to one shard only when every record hashes to it, otherwise writes nothing', async () => {
    await s.request('POST', '/v1/streams', { name: 'direct', shardCount: 2 })
    const h = (k: string) => hashKeyForPartitionKey(k) < 2n ** 127n
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`)
    const onShard0 = keys.filter(h)
    const onShard1 = keys.filter((k) => !h(k))
    const ok = await s.request('POST', '/v1/streams/direct/shards/shardId-000000000000/records', {
      records: onShard0.slice(0, 3).map((k) => ({ partitionKey: k, data: 'AA==' })),
    })
    assert.equal(ok.status, 200, ok.text)
    assert.ok(ok.body.records.every((r: any) => r.shardId === 'shardId-000000000000'))

    const bad = await s.request('POST', '/v1/streams/direct/shards/shardId-000000000000/records', {
      records: [{ partitionKey: onShard0[3], data: 'AA==' }, { partitionKey: onShard1[0], data: 'AA==' }],
    })
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.field, 'records[1]')
    assert.match(bad.body.error.message, /shardId-000000000001/)
    const both = [...(await readAll(s, 'direct', 'shardId-000000000000')), ...(await readAll(s, 'direct', 'shardId-000000000001'))]
    assert.equal(both.length, 3, 'nothing of the refused request was written')
    const unknownShard = await s.request('POST', '/v1/streams/direct/shards/shardId-000000000007/records', { records: [{ partitionKey: 'a', data: 'AA==' }] })
    assert.equal(unknownShard.status, 404)
    assert.equal(unknownShard.body.error.code, 'ShardNotFound')
  })
})
