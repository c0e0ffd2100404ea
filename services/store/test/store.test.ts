/**
 * The store's scripts, with the same test body against a single redis-server and a 3-master Redis
 * Cluster: every script must touch one slot only (no CROSSSLOT), and behave the same on both.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startRedis, startRedisCluster, waitFor } from '@sluice/testkit'
import {
  StreamCatalog,
  ShardStore,
  catalogKeys,
  connectRedis,
  ConsumerGroups,
  createRedisClient,
  groupKeys,
  runScript,
  shardKeys,
  type SluiceRedis,
  type NewStream,
  ArchiveIndex,
  decodeObject,
  encodeObject,
  ndjsonLine,
  ndjsonLineBytes,
  objectEnd,
  type ArchivedObject,
} from '../src/index.js'
import { sequenceNumberFromEntryId } from '@sluice/protocol'

const topologies = [
  {
    name: 'a single redis-server',
    start: async () => {
      const server = await startRedis()
      return { url: server.url, close: () => server.close() }
    },
  },
  {
    name: 'a 3-master Redis Cluster',
    start: async () => {
      const cluster = await startRedisCluster({ masters: 3 })
      return { url: `redis-cluster://${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`, close: () => cluster.close() }
    },
  },
]

/** A record's bytes, from base64 (what a put decodes; reads answer base64). */
const bin = (b64: string): Buffer => Buffer.from(b64, 'base64')

const stream = (name: string, over: Partial<NewStream> = {}): NewStream => ({
  name,
  shardCount: 4,
  retentionHours: 24,
  writeLimits: { perSecond: 1000, bytesPerSecond: 1 << 20 },
  readLimits: { perSecond: 5, bytesPerSecond: 2 << 20 },
  ...over,
})

for (const topology of topologies) {
  describe(`store on ${topology.name}`, () => {
    let server: { url: string; close(): Promise<void> }
    let redis: SluiceRedis
    let catalog: StreamCatalog
    let shards: ShardStore
    before(async () => {
      server = await topology.start()
      redis = createRedisClient({ url: server.url })
      await connectRedis(redis)
      catalog = new StreamCatalog(redis)
      shards = new ShardStore(redis)
    })
    after(async () => {
      redis.disconnect()
      await server.close()
    })

    it('creates a stream once; a second create of the name changes nothing and leaves no keys', async () => {
      const created = await catalog.create(stream('s1'))
      assert.ok(created)
      assert.equal(created.shardCount, 4)
      assert.ok(created.generation > 0)
      const again = await catalog.create(stream('s1', { shardCount: 2 }))
      assert.equal(again, null)
      const got = await catalog.get('s1')
      assert.equal(got?.shardCount, 4)
      assert.equal(got?.generation, created.generation)
      // The losing create's shard keys (next generation) were removed.
      assert.equal(await shards.exists(shardKeys('s1', created.generation + 1, 0)), false)
    })

    it('appends in order and reads back what was appended, with Redis-time entry ids', async () => {
      const s = (await catalog.get('s1'))!
      const keys = shardKeys('s1', s.generation, 2)
      const records = Array.from({ length: 50 }, (_, i) => ({ size: 10, partitionKey: `k${i}`, data: Buffer.from(`d${i}`) }))
      const appended = await shards.append(keys, records)
      assert.equal(appended.kind, 'appended')
      if (appended.kind !== 'appended') return
      assert.equal(appended.entryIds.length, 50)
      assert.equal(appended.retryAfterMs, 0)
      // Entry ids carry the shard's record ordinal: the difference of two is the records between them.
      assert.deepEqual(appended.entryIds.map((id) => Number(id.split('-')[1])), Array.from({ length: 50 }, (_, i) => i + 1))
      const more = await shards.append(keys, [{ size: 1, partitionKey: 'next', data: bin('AA==') }])
      assert.ok(more.kind === 'appended' && more.entryIds[0]!.endsWith('-51'))
      assert.ok(more.kind === 'appended' && Number(more.entryIds[0]!.split('-')[0]) >= Number(appended.entryIds[49]!.split('-')[0]))
      const read = await shards.read(keys, { kind: 'at', entryId: '0-0' }, 50, 1 << 20)
      assert.equal(read.kind, 'records')
      if (read.kind !== 'records') return
      assert.deepEqual(read.entries.map((e) => e.entryId), appended.entryIds)
      assert.deepEqual(read.entries.map((e) => e.partitionKey), records.map((r) => r.partitionKey))
      assert.deepEqual(read.entries.map((e) => e.data), records.map((r) => r.data.toString('base64')))
      assert.equal(read.tipEntryId, more.kind === 'appended' ? more.entryIds[0] : '')
      const ms = Number(appended.entryIds[0]!.split('-')[0])
      assert.ok(Math.abs(ms - Date.now()) < 60_000, 'entry ids carry Redis time in ms')
      const afterTen = await shards.read(keys, { kind: 'after', entryId: appended.entryIds[9]! }, 5, 1 << 20)
      assert.ok(afterTen.kind === 'records')
      if (afterTen.kind === 'records') assert.deepEqual(afterTen.entries.map((e) => e.partitionKey), ['k10', 'k11', 'k12', 'k13', 'k14'])
      assert.equal(await shards.lastEntryId(keys), more.kind === 'appended' ? more.entryIds[0] : '')
      assert.equal(await shards.lastEntryId(shardKeys('s1', s.generation, 3)), '0-0')
    })

    it('throttles a suffix of the batch when the record bucket runs out, and writes none of it', async () => {
      const s = (await catalog.create(stream('s2', { shardCount: 1, writeLimits: { perSecond: 10, bytesPerSecond: 1 << 20 } })))!
      const keys = shardKeys('s2', s.generation, 0)
      const r = await shards.append(keys, Array.from({ length: 25 }, (_, i) => ({ size: 1, partitionKey: `k${i}`, data: bin('AA==') })))
      assert.equal(r.kind, 'appended')
      if (r.kind !== 'appended') return
      assert.ok(r.entryIds.length >= 10 && r.entryIds.length <= 11, `accepted ${r.entryIds.length}`)
      assert.ok(r.retryAfterMs >= 1 && r.retryAfterMs <= 100, `retry after ${r.retryAfterMs} ms`)
      const read = await shards.read(keys, { kind: 'at', entryId: '0-0' }, 100, 1 << 20)
      assert.ok(read.kind === 'records' && read.entries.length === r.entryIds.length)
    })

    it('group-commits appends made in one turn: one script call per shard, each caller gets its own outcome', async () => {
      const s = (await catalog.create(stream('s2g', { shardCount: 2, writeLimits: { perSecond: 10, bytesPerSecond: 1 << 20 } })))!
      const calls: string[] = []
      const observedShards = new ShardStore(redis, (operation) => calls.push(operation))
      const batch = (tag: string, n: number) => Array.from({ length: n }, (_, i) => ({ size: 1, partitionKey: `${tag}${i}`, data: bin('AA==') }))
      const k0 = shardKeys('s2g', s.generation, 0)
      const k1 = shardKeys('s2g', s.generation, 1)
      const gone = shardKeys('s2g', s.generation + 1, 0)
      // Three callers on shard 0 ask for 14 records against a bucket of 10 (11 if a millisecond
      // refilled it): the first two are written whole, the third gets a prefix, and its refused
      // records are the suffix of its own batch.
      const [a, b, c, other, missing] = await Promise.all([
        observedShards.append(k0, batch('a', 4)),
        observedShards.append(k0, batch('b', 4)),
        observedShards.append(k0, batch('c', 6)),
        observedShards.append(k1, batch('o', 3)),
        observedShards.append(gone, batch('g', 1)),
      ])
      assert.deepEqual(calls, ['put-records', 'put-records', 'put-records'], 'one call per shard')
      assert.deepEqual(missing, { kind: 'gone' })
      assert.ok(a.kind === 'appended' && b.kind === 'appended' && c.kind === 'appended' && other.kind === 'appended')
      assert.equal(a.entryIds.length, 4)
      assert.equal(a.refusedBy, null)
      assert.equal(b.entryIds.length, 4)
      assert.ok(c.entryIds.length >= 2 && c.entryIds.length <= 3, `third caller got ${c.entryIds.length}`)
      assert.equal(c.refusedBy, 'limits')
      assert.ok(c.retryAfterMs > 0)
      assert.equal(other.entryIds.length, 3)
      // Ordinals run on across the callers, in the order they called.
      const ordinals = [...a.entryIds, ...b.entryIds, ...c.entryIds].map((id) => Number(id.split('-')[1]))
      assert.deepEqual(ordinals, ordinals.map((_, i) => i + 1))
      const read = await shards.read(k0, { kind: 'at', entryId: '0-0' }, 100, 1 << 20)
      assert.ok(read.kind === 'records')
      assert.deepEqual(
        read.entries.map((e) => e.partitionKey),
        [...batch('a', 4), ...batch('b', 4), ...batch('c', c.entryIds.length)].map((r) => r.partitionKey),
      )
    })

    it('sends appends at once when they reach 64 KiB, and what comes later in the turn after them, in order', async () => {
      const s = (await catalog.create(stream('s2n', { shardCount: 2 })))!
      const calls: string[] = []
      const observedShards = new ShardStore(redis, (operation) => calls.push(operation))
      const k0 = shardKeys('s2n', s.generation, 0)
      const k1 = shardKeys('s2n', s.generation, 1)
      const batch = (tag: string, n: number, size: number) => Array.from({ length: n }, (_, i) => ({ size, partitionKey: `${tag}${i}`, data: bin('AAAA') }))
      // One request's appends pass 64 KiB: they leave as soon as that request is done. An append later
      // in the same turn waits for the end of the turn, in a call of its own (without the early send,
      // shard 0 would get one call for all three).
      const first = Promise.all([observedShards.append(k0, batch('a', 40, 1024)), observedShards.append(k0, batch('b', 30, 1024)), observedShards.append(k1, batch('o', 2, 10))])
      await Promise.resolve()
      const later = observedShards.append(k0, batch('c', 3, 10))
      const [[a, b, other], c] = await Promise.all([first, later])
      assert.deepEqual(calls, ['put-records', 'put-records', 'put-records'], 'shard 0: the request past 64 KiB, then the rest of the turn')
      assert.ok(a.kind === 'appended' && b.kind === 'appended' && c.kind === 'appended' && other.kind === 'appended')
      const ordinals = [...a.entryIds, ...b.entryIds, ...c.entryIds].map((id) => Number(id.split('-')[1]))
      assert.deepEqual(ordinals, ordinals.map((_, i) => i + 1))
      assert.equal(other.entryIds.length, 2)
      const read = await shards.read(k0, { kind: 'at', entryId: '0-0' }, 100, 1 << 20)
      assert.ok(read.kind === 'records')
      assert.deepEqual(
        read.entries.map((e) => e.partitionKey),
        [...batch('a', 40, 0), ...batch('b', 30, 0), ...batch('c', 3, 0)].map((r) => r.partitionKey),
      )
    })

    it('sends each partition key as its UTF-8 bytes, ASCII and not mixed in one call, also when Redis lost its scripts', async () => {
      const s = (await catalog.create(stream('s2u', { shardCount: 2 })))!
      const k0 = shardKeys('s2u', s.generation, 0)
      const k1 = shardKeys('s2u', s.generation, 1)
      // put-records is encoded by hand (ScriptCall): a key whose UTF-8 is longer than its JavaScript
      // length must not shift the framing of the arguments after it.
      const plain = [{ size: 3, partitionKey: 'plain', data: Buffer.from('abc') }]
      const mixed = ['ascii', 'ü', '😀 emoji', '日本語のキー', 'a"b\\c', 'tab\there'].map((partitionKey, i) => ({
        size: 1 + Buffer.byteLength(partitionKey),
        partitionKey,
        data: Buffer.from([i, 0xff, 0x00]),
      }))
      // Both shards in one turn: their calls leave together, one of them all ASCII.
      const [a, b] = await Promise.all([shards.append(k0, plain), shards.append(k1, mixed)])
      assert.ok(a.kind === 'appended' && a.entryIds.length === 1)
      assert.ok(b.kind === 'appended' && b.entryIds.length === mixed.length)
      // A call past 32 Ki characters is encoded in pieces, data of 1 KiB and more as pieces of their own.
      // Data as bytes, or as base64 (what a put carries), decoded into the call as it is written.
      const large = Array.from({ length: 120 }, (_, i) => {
        const bytes = Buffer.alloc(i === 60 ? 100_000 : i % 2 ? 1024 : 100 + (i % 3), i)
        return { size: 1024, partitionKey: `big${i}`, data: i % 4 < 2 ? bytes : bytes.toString('base64'), bytes }
      })
      const big = await shards.append(k0, large)
      assert.ok(big.kind === 'appended' && big.entryIds.length === large.length)
      plain.push(...large.map((r) => ({ ...r, data: r.bytes })))
      // Text declared base64 that decodes to another length would shift every argument after it:
      // refused, nothing sent. (Checking that it is base64 at all is the caller's part.)
      for (const bad of ['AA=*', 'AAA', 'A A=', 'AAAA====']) {
        await assert.rejects(shards.append(k0, [{ size: 1, partitionKey: 'bad', data: bad }]), /declared base64/)
      }
      // A restarted or failed-over node has no scripts: NOSCRIPT, then the call goes again as EVAL.
      const nodes = 'nodes' in redis ? redis.nodes('master') : [redis]
      for (const node of nodes) await node.script('FLUSH')
      const again = await shards.append(k1, [{ size: 5, partitionKey: 'ключ', data: bin('AA==') }])
      assert.ok(again.kind === 'appended' && again.entryIds.length === 1)
      const read0 = await shards.read(k0, { kind: 'at', entryId: '0-0' }, 200, 1 << 20)
      const read1 = await shards.read(k1, { kind: 'at', entryId: '0-0' }, 10, 1 << 20)
      assert.ok(read0.kind === 'records' && read1.kind === 'records')
      assert.deepEqual(read0.entries.map((e) => [e.partitionKey, e.data]), plain.map((r) => [r.partitionKey, r.data.toString('base64')]))
      assert.deepEqual(
        read1.entries.map((e) => [e.partitionKey, e.data]),
        [...mixed, { partitionKey: 'ключ', data: bin('AA==') }].map((r) => [r.partitionKey, r.data.toString('base64')]),
      )
    })

    it('lets a record larger than the byte capacity through a full bucket only', async () => {
      const s = (await catalog.create(stream('s3', { shardCount: 1, writeLimits: { perSecond: 100, bytesPerSecond: 100 } })))!
      const keys = shardKeys('s3', s.generation, 0)
      const big = { size: 1000, partitionKey: 'k', data: bin('AA==') }
      const first = await shards.append(keys, [big, big])
      assert.ok(first.kind === 'appended' && first.entryIds.length === 1, 'one oversized record passes a full bucket; the next waits')
      if (first.kind === 'appended') assert.ok(first.retryAfterMs >= 1000, 'the debt is paid back before the next')
    })

    it('throttles reads: 5 per second, then a retry time', async () => {
      const s = (await catalog.get('s1'))!
      const keys = shardKeys('s1', s.generation, 1)
      const kinds = []
      for (let i = 0; i < 8; i++) kinds.push((await shards.read(keys, { kind: 'at', entryId: '0-0' }, 10, 1 << 20)).kind)
      assert.equal(kinds.filter((k) => k === 'records').length >= 5, true, kinds.join())
      assert.ok(kinds.includes('throttled'), kinds.join())
    })

    it('caps a read by bytes but always returns at least one record', async () => {
      const s = (await catalog.create(stream('s4', { shardCount: 1, readLimits: { perSecond: 100, bytesPerSecond: 1 << 30 } })))!
      const keys = shardKeys('s4', s.generation, 0)
      const data = Buffer.alloc(3000)
      await shards.append(keys, Array.from({ length: 10 }, () => ({ size: 3001, partitionKey: 'k', data })))
      const r = await shards.read(keys, { kind: 'at', entryId: '0-0' }, 100, 10_000)
      assert.ok(r.kind === 'records' && r.entries.length === 3, r.kind === 'records' ? `${r.entries.length}` : r.kind)
      const one = await shards.read(keys, { kind: 'at', entryId: '0-0' }, 100, 10)
      assert.ok(one.kind === 'records' && one.entries.length === 1)
    })

    it('reads large ranges in order across its internal batches, up to the count', async () => {
      const s = (await catalog.create(stream('s7', { shardCount: 1, writeLimits: { perSecond: 1e6, bytesPerSecond: 1e9 }, readLimits: { perSecond: 100, bytesPerSecond: 1 << 30 } })))!
      const keys = shardKeys('s7', s.generation, 0)
      const appended = await shards.append(keys, Array.from({ length: 300 }, (_, i) => ({ size: 7, partitionKey: `k${String(i).padStart(3, '0')}`, data: bin('AAAA') })))
      assert.ok(appended.kind === 'appended' && appended.entryIds.length === 300)
      const some = await shards.read(keys, { kind: 'at', entryId: '0-0' }, 123, 1 << 20)
      assert.ok(some.kind === 'records')
      if (some.kind === 'records') assert.deepEqual(some.entries.map((e) => e.partitionKey), Array.from({ length: 123 }, (_, i) => `k${String(i).padStart(3, '0')}`))
      const rest = await shards.read(keys, { kind: 'after', entryId: appended.kind === 'appended' ? appended.entryIds[122]! : '' }, 10_000, 1 << 20)
      assert.ok(rest.kind === 'records' && rest.entries.length === 177 && rest.entries[0]!.partitionKey === 'k123')
      // 4-character key + 3 decoded bytes = 7 bytes a record
      const capped = await shards.read(keys, { kind: 'at', entryId: '0-0' }, 10_000, 7 * 40)
      assert.ok(capped.kind === 'records' && capped.entries.length === 40, capped.kind === 'records' ? `${capped.entries.length}` : capped.kind)
    })

    it('deletes a stream: the name is free, its shards refuse writes and reads, its keys are gone', async () => {
      const s = (await catalog.create(stream('s5', { shardCount: 3 })))!
      const keys = shardKeys('s5', s.generation, 0)
      await shards.append(keys, [{ size: 1, partitionKey: 'k', data: bin('AA==') }])
      assert.equal(await catalog.delete('s5'), true)
      assert.equal(await catalog.get('s5'), null)
      assert.equal(await catalog.delete('s5'), false)
      assert.deepEqual(await shards.append(keys, [{ size: 1, partitionKey: 'k', data: bin('AA==') }]), { kind: 'gone' })
      assert.deepEqual(await shards.read(keys, { kind: 'at', entryId: '0-0' }, 10, 1000), { kind: 'gone' })
      assert.equal(await redis.exists(keys.log), 0)
      assert.deepEqual(await redis.lrange(catalogKeys.purge, 0, -1), [])
      assert.ok(await catalog.create(stream('s5')), 'the name can be used again')
    })

    it('finishes an interrupted deletion from the purge list', async () => {
      const s = (await catalog.create(stream('s6', { shardCount: 2 })))!
      const keys = shardKeys('s6', s.generation, 1)
      await shards.append(keys, [{ size: 1, partitionKey: 'k', data: bin('AA==') }])
      // What a crash right after the catalog script leaves behind: the name gone, the keys still there.
      await runScript(redis, 'deleteStream', [catalogKeys.stream('s6'), catalogKeys.streams, catalogKeys.purge, catalogKeys.tags('s6'), 's6'])
      assert.equal(await redis.exists(keys.log), 1)
      assert.equal(await catalog.purgePending(), 1)
      assert.equal(await redis.exists(keys.log), 0)
      assert.equal(await redis.exists(keys.state), 0)
    })

    it('changes retention and keeps tags within the limit, atomically with the stream', async () => {
      await catalog.create(stream('s8', { shardCount: 1 }))
      assert.equal(await catalog.setRetention('s8', 72), true)
      assert.equal((await catalog.get('s8'))?.retentionHours, 72)
      assert.equal(await catalog.setRetention('nope', 72), false)
      assert.equal(await catalog.get('nope'), null, 'an update never creates a stream')
      assert.equal(await catalog.addTags('s8', { team: 'a', env: 'dev' }, 3), 'added')
      assert.equal(await catalog.addTags('s8', { team: 'b', owner: 'x', extra: 'y' }, 3), 'too-many')
      assert.deepEqual(await catalog.tags('s8'), [{ key: 'env', value: 'dev' }, { key: 'team', value: 'a' }])
      assert.equal(await catalog.addTags('s8', { team: 'b', owner: 'x' }, 3), 'added')
      await catalog.removeTags('s8', ['env'])
      assert.deepEqual(await catalog.tags('s8'), [{ key: 'owner', value: 'x' }, { key: 'team', value: 'b' }])
      assert.equal(await catalog.addTags('nope', { a: 'b' }, 3), 'missing')
      await catalog.delete('s8')
      await catalog.create(stream('s8', { shardCount: 1 }))
      assert.deepEqual(await catalog.tags('s8'), [], 'tags went with the deleted stream')
    })

    it('consumer groups: fair shares, one shard handed over per heartbeat, fenced checkpoints, leave', async () => {
      const s = (await catalog.create(stream('g1', { shardCount: 4 })))!
      const groups = new ConsumerGroups(redis)
      const ref = { stream: 'g1', generation: s.generation, group: 'app' }
      const a1 = await groups.heartbeat(ref, 4, 'a', 60_000)
      assert.ok(a1.kind === 'leases')
      if (a1.kind !== 'leases') return
      assert.equal(a1.leaseTtlMs, 60_000)
      assert.deepEqual(a1.leases.map((l) => l.shardIndex), [0, 1, 2, 3], 'alone, a worker owns every shard')
      assert.ok(a1.leases.every((l) => l.checkpoint === null))

      const b1 = await groups.heartbeat(ref, 4, 'b', 60_000)
      assert.ok(b1.kind === 'leases' && b1.leases.length === 0, 'nothing is free until the owner gives up')
      const a2 = await groups.heartbeat(ref, 4, 'a', 60_000)
      assert.ok(a2.kind === 'leases' && a2.leases.length === 3, 'above its share, a gives up one shard per heartbeat')
      await groups.heartbeat(ref, 4, 'a', 60_000)
      const a3 = await groups.heartbeat(ref, 4, 'a', 60_000)
      assert.ok(a3.kind === 'leases' && a3.leases.length === 2, 'and stops at its fair share')
      const b2 = await groups.heartbeat(ref, 4, 'b', 60_000)
      assert.ok(b2.kind === 'leases')
      if (b2.kind !== 'leases' || a3.kind !== 'leases') return
      assert.deepEqual(b2.leases.map((l) => l.shardIndex), [2, 3])
      const maxOld = Math.max(...a1.leases.map((l) => Number(l.token)))
      assert.ok(b2.leases.every((l) => Number(l.token) > maxOld), 'a new ownership gets a higher token')

      const lease = b2.leases[0]!
      const seq = (n: number) => '1' + String(n).padStart(35, '0') + '000002'
      assert.equal(await groups.checkpoint(ref, 2, lease.token, seq(5)), 'written')
      assert.equal(await groups.checkpoint(ref, 2, lease.token, seq(5)), 'written', 'the same checkpoint again is fine')
      assert.equal(await groups.checkpoint(ref, 2, lease.token, seq(4)), 'backwards')
      const oldToken = a1.leases.find((l) => l.shardIndex === 2)!.token
      assert.equal(await groups.checkpoint(ref, 2, oldToken, seq(9)), 'lease-lost', "the previous owner's token is fenced off")
      const again = await groups.heartbeat(ref, 4, 'b', 60_000)
      assert.ok(again.kind === 'leases' && again.leases.find((l) => l.shardIndex === 2)?.checkpoint === seq(5))

      assert.equal(await groups.leave(ref, 'a'), 2)
      const b3 = await groups.heartbeat(ref, 4, 'b', 60_000)
      assert.ok(b3.kind === 'leases' && b3.leases.length === 4, 'a leaver\'s shards are taken at the next heartbeat')
      const state = await groups.state(ref)
      assert.deepEqual(state?.workers.map((w) => w.workerId), ['b'])
      assert.equal(state?.checkpoints.get(2), seq(5))
      assert.deepEqual(await groups.list('g1', s.generation), ['app'])
    })

    it('consumer groups: a silent worker loses its leases after the TTL, and cannot checkpoint', async () => {
      const s = (await catalog.create(stream('g2', { shardCount: 2 })))!
      const groups = new ConsumerGroups(redis)
      const ref = { stream: 'g2', generation: s.generation, group: 'app' }
      const a = await groups.heartbeat(ref, 2, 'a', 300)
      assert.ok(a.kind === 'leases' && a.leases.length === 2)
      if (a.kind !== 'leases') return
      const taken = await waitFor(
        async () => {
          const b = await groups.heartbeat(ref, 2, 'b', 300)
          return b.kind === 'leases' && b.leases.length === 2 ? b : null
        },
        { timeoutMs: 5000, message: "b owns a's shards after a's TTL" },
      )
      assert.ok(Number(taken!.leases[0]!.token) > Number(a.leases[1]!.token))
      assert.equal(await groups.checkpoint(ref, 0, a.leases[0]!.token, '1' + '0'.repeat(41)), 'lease-lost')
      // Deleting the stream removes the group.
      await catalog.delete('g2')
      const k = groupKeys('g2', s.generation, 'app')
      assert.equal(await redis.exists(k.leases), 0)
      assert.equal(await redis.exists(k.meta), 0)
      assert.deepEqual(await groups.heartbeat(ref, 2, 'b', 300), { kind: 'gone' })
      assert.equal(await redis.exists(k.meta), 0, 'a heartbeat to a deleted stream creates nothing')
    })

    it('archive: one fenced lease per shard, the cursor moves only from where its holder left it, trims never pass it, reads below the trim go to the archive', async () => {
      const s = (await catalog.create(stream('arch', { shardCount: 1, writeLimits: { perSecond: 10_000, bytesPerSecond: 1 << 24 } })))!
      const keys = shardKeys('arch', s.generation, 0)
      const index = new ArchiveIndex(redis)
      const appended = await shards.append(keys, Array.from({ length: 10 }, (_, i) => ({ size: 100, partitionKey: `k${i}`, data: bin('AA==') })))
      assert.ok(appended.kind === 'appended')
      const ids = appended.entryIds
      const a = await index.claim(keys, 'a', 300)
      assert.ok(a.kind === 'held' && a.cursor === null)
      assert.equal((await index.claim(keys, 'b', 300)).kind, 'taken')
      const object = (first: number, last: number): ArchivedObject => ({
        key: `o${first}`,
        firstEntryId: ids[first]!,
        lastEntryId: ids[last]!,
        count: last - first + 1,
        bytes: 100 * (last - first + 1),
        firstMs: Number(ids[first]!.split('-')[0]),
        lastMs: Number(ids[last]!.split('-')[0]),
        size: 1,
      })
      assert.equal((await index.commit(keys, 'a', a.token, null, object(0, 3))).kind, 'committed')
      // From a cursor that is not the current one: refused.
      assert.deepEqual(await index.commit(keys, 'a', a.token, null, object(0, 5)), { kind: 'moved', cursor: ids[3] })
      // Trims stop at the record after the cursor, whatever they are asked.
      assert.equal(await index.trim(keys, `${Date.now() + 60_000}-0`), 4)
      assert.equal(await redis.xlen(keys.log), 6)
      const status = await index.status(keys)
      assert.equal(status.cursor, ids[3])
      assert.equal(status.archivedBytes, 400)
      // Reads that start below the watermark are sent to the archive; the record after the cursor is still here.
      assert.equal((await shards.read(keys, { kind: 'at', entryId: '0-0' }, 10, 1 << 20)).kind, 'archived')
      assert.equal((await shards.read(keys, { kind: 'at', entryId: ids[3]! }, 10, 1 << 20)).kind, 'archived')
      const after = await shards.read(keys, { kind: 'after', entryId: ids[3]! }, 10, 1 << 20)
      assert.ok(after.kind === 'records' && after.entries[0]!.entryId === ids[4])
      assert.deepEqual(await index.objectFromOrdinal(keys, 2), object(0, 3))
      assert.equal(await index.objectFromOrdinal(keys, 5), null)
      // a stalls past its lease; b takes over with a new token; a can no longer move the cursor.
      await new Promise((resolve) => setTimeout(resolve, 350))
      const b = await index.claim(keys, 'b', 5000)
      assert.ok(b.kind === 'held' && b.token !== a.token && b.cursor === ids[3])
      assert.deepEqual(await index.commit(keys, 'a', a.token, ids[3]!, object(4, 6)), { kind: 'lease-lost' })
      assert.equal((await index.commit(keys, 'b', b.token, ids[3]!, object(4, 6))).kind, 'committed')
      assert.equal((await index.status(keys)).cursor, ids[6])
    })

    it('archive backlog: puts are refused (a suffix, marked) once unarchived bytes would pass the bound', async () => {
      const s = (await catalog.create(stream('back', { shardCount: 1, writeLimits: { perSecond: 10_000, bytesPerSecond: 1 << 24 } })))!
      const keys = shardKeys('back', s.generation, 0)
      const r = await shards.append(keys, Array.from({ length: 10 }, (_, i) => ({ size: 100, partitionKey: `k${i}`, data: bin('AA==') })), 550)
      assert.ok(r.kind === 'appended')
      assert.equal(r.entryIds.length, 5)
      assert.equal(r.refusedBy, 'archive-backlog')
      assert.ok(r.retryAfterMs >= 1)
      assert.equal(await redis.xlen(keys.log), 5)
      const none = await shards.append(keys, [{ size: 100, partitionKey: 'x', data: bin('AA==') }], 550)
      assert.ok(none.kind === 'appended' && none.entryIds.length === 0)
      // Unbounded (archiving off): accepted.
      const open = await shards.append(keys, [{ size: 100, partitionKey: 'x', data: bin('AA==') }], 0)
      assert.ok(open.kind === 'appended' && open.entryIds.length === 1 && open.refusedBy === null)
    })

    it('lists streams by name, in pages', async () => {
      const first = await catalog.list(undefined, 2)
      assert.equal(first.streams.length, 2)
      assert.equal(first.more, true)
      const rest = await catalog.list(first.streams[1]!.name, 100)
      const all = [...first.streams, ...rest.streams].map((x) => x.name)
      assert.deepEqual(all, [...all].sort())
      assert.ok(all.includes('s1') && all.includes('s5') && !all.includes('s6'))
    })
  })
}

describe('archive objects', () => {
  it('an NDJSON line is what JSON.stringify gives, its size is known without building it, and objects decode back', async () => {
    const keys = ['user-1', 'a"b', 'back\\slash', 'ü', '😀', 'tab\there', 'ctl\u0001']
    // Data of every length modulo 3 (base64 with and without padding), and bytes that are not text.
    const entries = keys.map((partitionKey, i) => ({ entryId: `1795593561223-${i + 1}`, partitionKey, data: Buffer.from([0xff, 0, ...Buffer.from(`d${i}`)]).subarray(0, 1 + i) }))
    for (const e of entries) {
      const line = ndjsonLine(e, 3)
      const expected = {
        sequenceNumber: sequenceNumberFromEntryId(e.entryId, 3),
        partitionKey: e.partitionKey,
        data: e.data.toString('base64'),
        approximateArrivalTimestamp: 1795593561223,
      }
      assert.equal(line, JSON.stringify(expected) + '\n')
      assert.equal(ndjsonLineBytes(e), Buffer.byteLength(line), e.partitionKey)
    }
    const object = await encodeObject('p', 's', 1, 3, entries)
    assert.equal(object.description.key, `p/s/1/shardId-000000000003/${sequenceNumberFromEntryId(entries[0]!.entryId, 3)}.ndjson.gz`)
    const decoded = decodeObject(object.body)
    assert.deepEqual(decoded.map((r) => r.partitionKey), keys)
    assert.deepEqual(decoded.map((r) => Buffer.from(r.data, 'base64')), entries.map((e) => e.data))
    assert.equal(object.description.bytes, entries.reduce((n, e) => n + e.data.length + Buffer.byteLength(e.partitionKey), 0), 'bytes as put-records counts them')
    // Same records, same bytes: a retried upload writes the same object.
    assert.deepEqual((await encodeObject('p', 's', 1, 3, entries)).body, object.body)
  })

  it('an object closes by size (at least one record) or by age, and only once it is sure', () => {
    const e = (ms: number, ordinal: number, bytes = 10) => ({ entryId: `${ms}-${ordinal}`, partitionKey: 'k', data: Buffer.alloc(bytes) })
    const limits = { maxBytes: 400, maxAgeMs: 1000 }
    const line = ndjsonLineBytes(e(1000, 1))
    const perObject = Math.floor(400 / line)
    const many = Array.from({ length: 20 }, (_, i) => e(1000 + i, i + 1))
    assert.equal(objectEnd(many, limits, 0, false), perObject, 'by size, as soon as a record beyond it is seen')
    assert.equal(objectEnd(many.slice(0, perObject), limits, 1500, true), 0, 'not closable: not old enough and nothing beyond it')
    assert.equal(objectEnd(many.slice(0, perObject), limits, 1500, false), -1, 'more records may follow')
    assert.equal(objectEnd(many.slice(0, 2), limits, 2000, true), 2, 'by age once Redis time passed the bound')
    assert.equal(objectEnd([e(1000, 1), e(2000, 2)], limits, 0, false), 1, 'by age when a later record arrived after the bound')
    assert.equal(objectEnd([e(1000, 1, 10_000), e(1001, 2)], limits, 0, false), 1, 'a record larger than the bound goes alone')
  })
})
