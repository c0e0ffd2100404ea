import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { entryIdFromSequenceNumber, sequenceNumberFromEntryId } from '@sluice/protocol'
import { b64, startSluice, type Sluice } from './harness.js'

const base = '/v1/streams/orders/groups/billing'

describe('consumer groups (REST)', () => {
  let s: Sluice
  before(async () => {
    s = await startSluice({ env: { SLUICE_SHARD_READS_PER_SECOND: '1000' } })
    assert.equal((await s.request('POST', '/v1/streams', { name: 'orders', shardCount: 4 })).status, 201)
  })
  after(async () => s.close())

  const beat = (worker: string, body?: unknown) => s.request('POST', `${base}/workers/${worker}/heartbeat`, body)

  it('shares shards fairly between workers, one handover per heartbeat', async () => {
    const a = await beat('a', { leaseTtlMs: 30_000 })
    assert.equal(a.status, 200, a.text)
    assert.equal(a.body.leaseTtlMs, 30_000)
    assert.deepEqual(a.body.shards.map((x: any) => x.shardId), ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003'])
    assert.ok(a.body.shards.every((x: any) => /^\d+$/.test(x.leaseToken) && x.checkpoint === null))
    assert.equal((await beat('b')).body.shards.length, 0)
    for (let i = 0; i < 3; i++) await beat('a')
    assert.equal((await beat('a')).body.shards.length, 2)
    const b = await beat('b')
    assert.equal(b.body.shards.length, 2)
    assert.equal(b.body.leaseTtlMs, 30_000, 'the group keeps the TTL it was created with')
    // The body is optional, also for a client that always sends Content-Type (an empty body is none).
    const bare = await fetch(`${s.url}${base}/workers/b/heartbeat`, { method: 'POST', headers: { 'content-type': 'application/json' } })
    assert.equal(bare.status, 200, await bare.clone().text())
    assert.equal(((await bare.json()) as { shards: unknown[] }).shards.length, 2)
  })

  it('checkpoints with the lease token, reports lag, and fences off old owners', async () => {
    const b = (await beat('b')).body.shards[0]
    const shard = b.shardId
    // Put 10 records on this shard through its shard endpoint (explicit hash keys inside its range).
    const range = (await s.request('GET', '/v1/streams/orders')).body.shards.find((x: any) => x.shardId === shard).hashKeyRange
    const put = await s.request('POST', `/v1/streams/orders/shards/${shard}/records`, {
      records: Array.from({ length: 10 }, (_, i) => ({ partitionKey: `k${i}`, data: b64(`r${i}`), explicitHashKey: range.start })),
    })
    assert.equal(put.status, 200, put.text)
    const seqs = put.body.records.map((r: any) => r.sequenceNumber)

    const ok = await s.request('PUT', `${base}/shards/${shard}/checkpoint`, { sequenceNumber: seqs[3], leaseToken: b.leaseToken })
    assert.equal(ok.status, 200, ok.text)
    const d = await s.request('GET', base)
    assert.equal(d.status, 200, d.text)
    const state = d.body.shards.find((x: any) => x.shardId === shard)
    assert.equal(state.owner, 'b')
    assert.equal(state.checkpoint, seqs[3])
    assert.equal(state.lag.records, 6, 'six records after the checkpoint')
    assert.ok(state.lag.millis >= 0)
    assert.deepEqual(d.body.workers.map((w: any) => [w.workerId, w.shards]).sort(), [['a', 2], ['b', 2]])
    const untouched = d.body.shards.find((x: any) => x.shardId !== shard && x.checkpoint === null)
    assert.deepEqual(untouched.lag, { records: 0, millis: 0 })

    const back = await s.request('PUT', `${base}/shards/${shard}/checkpoint`, { sequenceNumber: seqs[1], leaseToken: b.leaseToken })
    assert.equal(back.status, 400)
    assert.equal(back.body.error.field, 'sequenceNumber')
    // Past the shard's newest record: never issued here. Taken, it would hide every record written
    // until then behind a checkpoint that no real one could pass.
    const newest = entryIdFromSequenceNumber(seqs[9])!
    const [ms, ordinal] = newest.entryId.split('-')
    const beyond = await s.request('PUT', `${base}/shards/${shard}/checkpoint`, { sequenceNumber: sequenceNumberFromEntryId(`${ms}-${BigInt(ordinal!) + 1n}`, newest.shardIndex), leaseToken: b.leaseToken })
    assert.equal(beyond.status, 400, beyond.text)
    assert.match(beyond.body.error.message, /after the newest record/)
    assert.equal((await s.request('GET', base)).body.shards.find((x: any) => x.shardId === shard).checkpoint, seqs[3], 'the checkpoint did not move')
    const foreign = await s.request('PUT', `${base}/shards/${shard}/checkpoint`, { sequenceNumber: seqs[5], leaseToken: '1' })
    assert.equal(foreign.status, 409)
    assert.equal(foreign.body.error.code, 'LeaseLost')

    // b leaves: a takes everything at its next heartbeat, with new tokens; b's token is dead.
    assert.equal((await s.request('DELETE', `${base}/workers/b`)).status, 204)
    const a = await beat('a')
    assert.equal(a.body.shards.length, 4)
    const mine = a.body.shards.find((x: any) => x.shardId === shard)
    assert.equal(mine.checkpoint, seqs[3], 'the new owner continues from the checkpoint')
    assert.ok(BigInt(mine.leaseToken) > BigInt(b.leaseToken))
    const stale = await s.request('PUT', `${base}/shards/${shard}/checkpoint`, { sequenceNumber: seqs[9], leaseToken: b.leaseToken })
    assert.equal(stale.status, 409)
    assert.equal((await s.request('PUT', `${base}/shards/${shard}/checkpoint`, { sequenceNumber: seqs[9], leaseToken: mine.leaseToken })).status, 200)
    assert.equal((await s.request('GET', base)).body.shards.find((x: any) => x.shardId === shard).lag.records, 0)
  })

  it('lists groups and refuses what is not valid', async () => {
    assert.deepEqual((await s.request('GET', '/v1/streams/orders/groups')).body, { groups: ['billing'] })
    const unknown = await s.request('GET', '/v1/streams/orders/groups/nope')
    assert.equal(unknown.status, 404)
    assert.equal(unknown.body.error.code, 'GroupNotFound')
    assert.equal((await beat('a', { leaseTtlMs: 10 })).body.error.field, 'leaseTtlMs')
    assert.equal((await beat('a', { lease: 1 })).body.error.field, 'lease')
    assert.equal((await s.request('POST', '/v1/streams/orders/groups/billing/workers/a%7Cb/heartbeat')).status, 400)
    assert.equal((await s.request('POST', '/v1/streams/nope/groups/g/workers/a/heartbeat')).status, 404)
    const otherShard = await s.request('PUT', `${base}/shards/shardId-000000000000/checkpoint`, { sequenceNumber: '1' + '0'.repeat(35) + '000003', leaseToken: '5' })
    assert.equal(otherShard.status, 400)
    assert.match(otherShard.body.error.message, /belongs to shardId-000000000003/)
    const missing = await s.request('PUT', `${base}/shards/shardId-000000000000/checkpoint`, { sequenceNumber: '1' + '0'.repeat(41) })
    assert.equal(missing.body.error.field, 'leaseToken')
  })

  it('removes groups with their stream', async () => {
    await s.request('DELETE', '/v1/streams/orders')
    await s.request('POST', '/v1/streams', { name: 'orders', shardCount: 1 })
    assert.deepEqual((await s.request('GET', '/v1/streams/orders/groups')).body, { groups: [] })
    assert.equal((await s.request('GET', base)).status, 404)
  })
})
