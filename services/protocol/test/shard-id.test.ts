import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parseShardId, shardIdFor } from '../src/index.js'

describe('shard ids', () => {
  it('are Kinesis shard ids', () => {
    assert.equal(shardIdFor(0), 'shardId-000000000000')
    assert.equal(shardIdFor(999), 'shardId-000000000999')
    assert.equal(parseShardId('shardId-000000000042'), 42)
  })
  it('parse only the exact form', () => {
    for (const bad of ['shardId-42', 'shardId-0000000000042', 'shardid-000000000000', 'shardId-00000000000a', ' shardId-000000000000', '']) {
      assert.equal(parseShardId(bad), null, bad)
    }
  })
})
