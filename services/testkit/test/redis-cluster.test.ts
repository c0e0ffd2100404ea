import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Cluster } from 'ioredis'
import { isAlive, redisCommand, startRedisCluster, type RedisClusterHandle } from '../src/index.js'

describe('startRedisCluster', () => {
  let handle: RedisClusterHandle
  let cluster: Cluster
  before(async () => {
    handle = await startRedisCluster({ masters: 3 })
    cluster = new Cluster(handle.nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
  })
  after(async () => {
    // Also when a test failed before the last one closed it (close() is idempotent).
    if (cluster?.status !== 'end') cluster?.disconnect() // a second disconnect() would arm a 2 s timer
    await handle?.close()
  })

  it('is ok on every node, with all 16384 slots spread over the masters', async () => {
    assert.equal(handle.nodes.length, 3)
    assert.equal(handle.servers.length, 3)
    assert.equal(new Set(handle.nodes.map((n) => n.port)).size, 3)
    assert.match(String(await cluster.cluster('INFO')), /cluster_state:ok/)
    for (const node of handle.nodes) {
      const info = await redisCommand(node.port, ['CLUSTER', 'INFO'], 2000, node.host)
      assert.match(String(info), /cluster_state:ok/)
      assert.match(String(info), /cluster_slots_assigned:16384/)
      assert.match(String(info), /cluster_size:3/) // three masters each serving slots
    }
  })

  it('runs multi-key commands on keys that share a hash tag and refuses them across slots', async () => {
    await cluster.mset('{stream:0}a', '1', '{stream:0}b', '2')
    assert.deepEqual(await cluster.mget('{stream:0}a', '{stream:0}b'), ['1', '2'])
    // 'a' and 'b' hash to different slots (15495 and 3300).
    await assert.rejects(cluster.mset('a', '1', 'b', '2'), /CROSSSLOT/)
  })

  it('close() stops every node', async () => {
    cluster.disconnect()
    const pids = handle.servers.map((s) => s.pid)
    assert.ok(pids.every(isAlive))
    await handle.close()
    assert.deepEqual(pids.map(isAlive), [false, false, false])
  })
})
