import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  SEQUENCE_NUMBER_LENGTH,
  compareEntryIds,
  entryIdFromSequenceNumber,
  firstSequenceNumberOfShard,
  nextEntryId,
  previousEntryId,
  sequenceNumberFromEntryId,
} from '../src/index.js'

const U64_MAX = '18446744073709551615'

describe('sequence numbers', () => {
  it('have a fixed width, start with 1 and carry ms, seq and shard', () => {
    const sn = sequenceNumberFromEntryId('1795580449037-2', 3)
    assert.equal(sn, '1' + '001795580449037' + '00000000000000000002' + '000003')
    assert.equal(sn.length, SEQUENCE_NUMBER_LENGTH)
  })

  it('round-trip to the entry id and shard, at the edges too', () => {
    for (const [id, shard] of [
      ['0-0', 0],
      ['1-1', 1],
      ['1795580449037-0', 17],
      [`999999999999999-${U64_MAX}`, 999999],
      [`1700000000000-${U64_MAX}`, 5],
    ] as const) {
      const sn = sequenceNumberFromEntryId(id, shard)
      assert.equal(sn.length, 42)
      assert.deepEqual(entryIdFromSequenceNumber(sn), { entryId: id, shardIndex: shard })
    }
  })

  it('order as strings exactly as their entry ids order numerically', () => {
    const ids: string[] = []
    for (let i = 0; i < 2000; i++) {
      const ms = 1_700_000_000_000 + Math.floor(Math.random() * 50)
      const seq = Math.random() < 0.1 ? BigInt(U64_MAX) - BigInt(Math.floor(Math.random() * 10)) : BigInt(Math.floor(Math.random() * 1000))
      ids.push(`${ms}-${seq}`)
    }
    const byString = [...ids].sort((a, b) => {
      const x = sequenceNumberFromEntryId(a, 7)
      const y = sequenceNumberFromEntryId(b, 7)
      return x < y ? -1 : x > y ? 1 : 0
    })
    const byNumber = [...ids].sort(compareEntryIds)
    assert.deepEqual(byString, byNumber)
  })

  it('never collide across shards', () => {
    assert.notEqual(sequenceNumberFromEntryId('5-5', 0), sequenceNumberFromEntryId('5-5', 1))
  })

  it('reject what this service does not issue', () => {
    for (const bad of [
      '1'.repeat(41),
      '1'.repeat(43),
      '0' + '1'.repeat(41),
      '2' + '0'.repeat(41),
      '1' + 'a'.repeat(41),
      '1' + '0'.repeat(15) + '18446744073709551616' + '000000',
      '',
      ' 1' + '0'.repeat(40),
    ]) {
      assert.equal(entryIdFromSequenceNumber(bad), null, bad)
    }
  })

  it('refuse to encode ids out of range', () => {
    assert.throws(() => sequenceNumberFromEntryId('1234567890123456-0', 0))
    assert.throws(() => sequenceNumberFromEntryId('1-123456789012345678901', 0))
    assert.throws(() => sequenceNumberFromEntryId('1-0', 1_000_000))
    assert.throws(() => sequenceNumberFromEntryId('1-0', -1))
    assert.throws(() => sequenceNumberFromEntryId('garbage', 0))
  })

  it('give each shard a starting sequence number at its creation time', () => {
    assert.deepEqual(entryIdFromSequenceNumber(firstSequenceNumberOfShard(1700000000000, 2)), { entryId: '1700000000000-0', shardIndex: 2 })
  })

  it('step entry ids across the u64 boundary', () => {
    assert.equal(previousEntryId('5-0'), `4-${U64_MAX}`)
    assert.equal(previousEntryId('5-3'), '5-2')
    assert.equal(previousEntryId('0-0'), null)
    assert.equal(nextEntryId(`4-${U64_MAX}`), '5-0')
    assert.equal(nextEntryId('4-1'), '4-2')
    assert.equal(compareEntryIds('10-0', '9-99'), 1)
    assert.equal(compareEntryIds(`1-${U64_MAX}`, '1-18446744073709551614'), 1)
    assert.equal(compareEntryIds('3-3', '3-3'), 0)
  })
})
