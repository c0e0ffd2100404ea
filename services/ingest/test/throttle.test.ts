import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { entryIdFromSequenceNumber } from '@sluice/protocol'
import { b64, readAll, startSluice, type Sluice } from './harness.js'

const SHARD0 = 'shardId-000000000000'

describe('per-shard limits', () => {
  let s: Sluice
  before(async () => {
    s = await startSluice()
  })
  after(async () => s.close())

  it('refuses the suffix of a request that exceeds the bucket, per record, and writes only the accepted prefix', async () => {
    await s.request('POST', '/v1/streams', { name: 'partial', shardCount: 1, writeLimits: { recordsPerSecond: 100 } })
    const r = await s.request('POST', '/v1/streams/partial/records', {
      records: Array.from({ length: 150 }, (_, i) => ({ partitionKey: 'k', data: b64(`r${i}`) })),
    })
    assert.equal(r.status, 200, r.text)
    const accepted = r.body.records.filter((x: any) => x.sequenceNumber).length
    assert.ok(accepted >= 100 && accepted <= 102, `a full bucket of 100 (plus refill) took ${accepted}`)
    assert.equal(r.body.failedRecordCount, 150 - accepted)
    r.body.records.forEach((x: any, i: number) => {
      if (i < accepted) assert.equal(x.shardId, SHARD0)
      else {
        assert.equal(x.errorCode, 'ProvisionedThroughputExceeded')
        assert.match(x.errorMessage, /Rate exceeded for shard shardId-000000000000 in stream partial/)
      }
    })
    assert.ok(Number(r.headers.get('retry-after')) >= 1)
    assert.equal((await readAll(s, 'partial', SHARD0)).length, accepted, 'refused records are not in the stream')
  })

  it('answers 429 with Retry-After and the same body when every record is throttled', async () => {
    // One record per second: the first put empties the bucket, the next one finds it empty.
    await s.request('POST', '/v1/streams', { name: 'slow', shardCount: 1, writeLimits: { recordsPerSecond: 1 } })
    const first = await s.request('POST', '/v1/streams/slow/records', { records: [{ partitionKey: 'k', data: 'AA==' }] })
    assert.equal(first.status, 200, first.text)
    assert.equal(first.body.failedRecordCount, 0)
    const t = await s.request('POST', '/v1/streams/slow/records', { records: [{ partitionKey: 'k', data: 'AQ==' }, { partitionKey: 'j', data: 'Ag==' }] })
    assert.equal(t.status, 429, t.text)
    assert.equal(t.body.failedRecordCount, 2)
    assert.ok(t.body.records.every((x: any) => x.errorCode === 'ProvisionedThroughputExceeded' && !x.sequenceNumber))
    assert.equal(t.headers.get('retry-after'), '1')
    assert.equal((await readAll(s, 'slow', SHARD0)).length, 1, 'throttled records are not in the stream')
  })

  it('counts bytes (data + partition key) against the byte limit', async () => {
    await s.request('POST', '/v1/streams', { name: 'bytes', shardCount: 1, writeLimits: { recordsPerSecond: 1000, bytesPerSecond: 1000 } })
    const data = Buffer.alloc(399).toString('base64') // 399 B + 1 B key = 400 B each
    const r = await s.request('POST', '/v1/streams/bytes/records', { records: [1, 2, 3].map(() => ({ partitionKey: 'k', data })) })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body.records.map((x: any) => Boolean(x.sequenceNumber)), [true, true, false])
  })

  it('never accepts more than limit + burst records per shard in any one-second window (Redis time)', async () => {
    const limit = 200
    await s.request('POST', '/v1/streams', { name: 'blast', shardCount: 1, writeLimits: { recordsPerSecond: limit } })
    const arrivals: number[] = []
    let refused = 0
    let throttled429 = 0
    const until = Date.now() + 2500
    const producer = async () => {
      while (Date.now() < until) {
        const r = await s.request('POST', '/v1/streams/blast/records', {
          records: Array.from({ length: 25 }, (_, i) => ({ partitionKey: `k${i}`, data: 'AAAA' })),
        })
        if (r.status === 429) throttled429++
        else assert.equal(r.status, 200, r.text)
        for (const x of r.body.records) {
          if (x.sequenceNumber) arrivals.push(Number(entryIdFromSequenceNumber(x.sequenceNumber)!.entryId.split('-')[0]))
          else refused++
        }
      }
    }
    await Promise.all([producer(), producer(), producer(), producer()])
    arrivals.sort((a, b) => a - b)
    assert.ok(refused > 0 && throttled429 > 0, `the load must exceed the limit (refused ${refused}, 429s ${throttled429})`)
    let maxInWindow = 0
    for (let i = 0, j = 0; i < arrivals.length; i++) {
      while (arrivals[i]! - arrivals[j]! >= 1000) j++
      maxInWindow = Math.max(maxInWindow, i - j + 1)
    }
    assert.ok(maxInWindow <= 2 * limit, `accepted ${maxInWindow} records in one second; limit + burst is ${2 * limit}`)
    const spanS = (arrivals[arrivals.length - 1]! - arrivals[0]!) / 1000
    assert.ok(arrivals.length <= limit + limit * spanS + 1, `accepted ${arrivals.length} over ${spanS}s`)
    assert.ok(arrivals.length >= limit * spanS * 0.8, `the limit is granted, not starved: ${arrivals.length} over ${spanS}s`)
    assert.equal((await readAll(s, 'blast', SHARD0)).length, arrivals.length)
  })

  it('throttles reads beyond 5 per second per shard with 429 ProvisionedThroughputExceeded', async () => {
    await s.request('POST', '/v1/streams', { name: 'reads', shardCount: 1 })
    const answers = []
    for (let i = 0; i < 12; i++) answers.push(await s.request('GET', `/v1/streams/reads/shards/${SHARD0}/records?from=TRIM_HORIZON`))
    const limited = answers.filter((a) => a.status === 429)
    assert.ok(limited.length >= 5, `12 reads in a burst: ${limited.length} throttled`)
    assert.equal(limited[0]!.body.error.code, 'ProvisionedThroughputExceeded')
    assert.ok(Number(limited[0]!.headers.get('retry-after')) >= 1)
    assert.ok(answers.filter((a) => a.status === 200).length >= 5)
  })
})
