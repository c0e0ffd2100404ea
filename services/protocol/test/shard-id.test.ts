import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parseShardId, shardIdFor } from '../src/index.js'

describe('shard ids', () => {
  it('have the Kinesis form and parse back to their index', () => {
    assert.equal(shardIdFor(0), 'shardId-000000000000')
    assert.equal(shardIdFor(7), 'shardId-000000000007')
    assert.equal(shardIdFor(999_999), 'shardId-000000999999')
    assert.equal(shardIdFor(999_999_999_999), 'shardId-999999999999')
    for (const index of [0, 1, 9, 10, 123, 999_999, 999_999_999_999]) {
      assert.equal(parseShardId(shardIdFor(index)), index)
    }
  })

  it('are not made for an index that cannot be written in 12 digits', () => {
    for (const bad of [-1, 1.5, Number.NaN, 1_000_000_000_000]) {
      assert.throws(() => shardIdFor(bad), RangeError, String(bad))
    }
  })

  it('parse only the exact form', () => {
    for (const bad of [
      '',
      'shardId-42',
      'shardId-00000000042',
      'shardId-0000000000042',
      'shardid-000000000000',
      'ShardId-000000000000',
      'shardId_000000000000',
      'shardId-00000000000a',
      'shardId-00000000000١', // an Arabic-Indic digit
      'shardId--00000000001',
      ' shardId-000000000000',
      'shardId-000000000000 ',
      'shardId-000000000000\n',
      'stream/shardId-000000000000',
    ]) {
      assert.equal(parseShardId(bad), null, JSON.stringify(bad))
    }
  })
})
