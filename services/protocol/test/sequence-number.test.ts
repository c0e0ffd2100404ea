import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  SEQUENCE_NUMBER_LENGTH,
  ShardSequenceNumbers,
  compareEntryIds,
  entryIdFromSequenceNumber,
  firstSequenceNumberOfShard,
  nextEntryId,
  previousEntryId,
  sequenceNumberFromEntryId,
} from '../src/index.js'

const U64_MAX = '18446744073709551615'
const MAX_MS = '999999999999999' // 15 digits
const KINESIS_SEQUENCE_NUMBER_RE = /^(?:0|[1-9]\d{0,128})$/

/** xorshift64*, seeded: a failure replays with the same ids. */
function seededRandom(seed: bigint): (below: bigint) => bigint {
  let state = seed
  const mask = (1n << 64n) - 1n
  return (below) => {
    state ^= state >> 12n
    state ^= (state << 25n) & mask
    state ^= state >> 27n
    return ((state * 0x2545f4914f6cdd1dn) & mask) % below
  }
}

/** Entry ids of every digit length, so zero-padding (not just magnitude) is exercised. */
function randomEntryIds(count: number, seed: bigint): string[] {
  const random = seededRandom(seed)
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const ms = random(10n ** (random(15n) + 1n))
    const seq = random(3n) === 0n ? BigInt(U64_MAX) - random(3n) : random(10n ** (random(20n) + 1n))
    ids.push(`${ms}-${seq}`)
  }
  // A few collisions of ms, so ordering by seq is exercised too.
  for (let i = 0; i < count / 10; i++) ids.push(`${ids[i]!.split('-')[0]}-${random(1000n)}`)
  return ids
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function byBigInt(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint]
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint]
  if (am !== bm) return am < bm ? -1 : 1
  return as < bs ? -1 : as > bs ? 1 : 0
}

describe('sequence numbers', () => {
  it('are "1", ms in 15 digits, seq in 20 digits and the shard index in 6', () => {
    const sequenceNumber = sequenceNumberFromEntryId('1795580449037-2', 3)
    assert.equal(sequenceNumber, '1' + '001795580449037' + '00000000000000000002' + '000003')
    assert.equal(sequenceNumber.length, SEQUENCE_NUMBER_LENGTH)
    assert.equal(SEQUENCE_NUMBER_LENGTH, 42)
    assert.equal(sequenceNumberFromEntryId('0-0', 0), '1' + '0'.repeat(41))
    assert.equal(sequenceNumberFromEntryId(`${MAX_MS}-${U64_MAX}`, 999_999), '1' + MAX_MS + U64_MAX + '999999')
  })

  it('round-trip to the entry id and shard, at the edges too', () => {
    const cases: Array<[string, number]> = [
      ['0-0', 0],
      ['0-1', 999_999],
      ['1-1', 1],
      ['1700000000000-0', 17],
      [`1700000000000-${U64_MAX}`, 5],
      [`${MAX_MS}-${U64_MAX}`, 999_999],
      [`${MAX_MS}-0`, 0],
      ['10-10', 10],
    ]
    for (const [entryId, shardIndex] of cases) {
      const sequenceNumber = sequenceNumberFromEntryId(entryId, shardIndex)
      assert.equal(sequenceNumber.length, SEQUENCE_NUMBER_LENGTH)
      assert.match(sequenceNumber, KINESIS_SEQUENCE_NUMBER_RE)
      assert.deepEqual(entryIdFromSequenceNumber(sequenceNumber), { entryId, shardIndex })
    }
  })

  it('round-trip for many random entry ids', () => {
    const ids = randomEntryIds(2000, 0x5eed1n)
    ids.forEach((entryId, i) => {
      const shardIndex = (i * 7919) % 1_000_000
      assert.deepEqual(entryIdFromSequenceNumber(sequenceNumberFromEntryId(entryId, shardIndex)), { entryId, shardIndex })
    })
  })

  it('order as strings exactly as their entry ids order numerically', () => {
    const ids = randomEntryIds(3000, 0x5eed2n)
    const sequenceNumberOf = new Map(ids.map((id) => [id, sequenceNumberFromEntryId(id, 7)]))
    const bySequenceNumber = [...ids].sort((a, b) => byString(sequenceNumberOf.get(a)!, sequenceNumberOf.get(b)!))
    assert.deepEqual(bySequenceNumber, [...ids].sort(byBigInt))
    // Plain string order of the ids themselves would differ, so the padding is doing the work.
    assert.notDeepEqual([...ids].sort(byString), [...ids].sort(byBigInt))
  })

  it('never repeat across shards, and order by shard after the entry id', () => {
    const s0 = sequenceNumberFromEntryId('5-5', 0)
    const s1 = sequenceNumberFromEntryId('5-5', 1)
    assert.notEqual(s0, s1)
    assert.ok(s0 < s1)
    assert.ok(sequenceNumberFromEntryId('5-5', 999_999) < sequenceNumberFromEntryId('5-6', 0))
  })

  it('start each shard at its creation time', () => {
    const first = firstSequenceNumberOfShard(1_700_000_000_000, 2)
    assert.deepEqual(entryIdFromSequenceNumber(first), { entryId: '1700000000000-0', shardIndex: 2 })
    assert.ok(first <= sequenceNumberFromEntryId('1700000000000-0', 2))
    assert.ok(first < sequenceNumberFromEntryId('1700000000000-1', 2))
    assert.ok(first > sequenceNumberFromEntryId(`1699999999999-${U64_MAX}`, 2))
  })

  it('refuse to encode ids Redis does not produce or that do not fit', () => {
    const badIds = [
      '', 'garbage', '-', '1-', '-1', '1-2-3', 'a-1', '1-a', ' 1-0', '1-0 ', '1 -0', '1.5-0', '1e3-0', '１-0',
      '01-0', '1-01', '00-0', // padded ids would decode to a different id
      '1234567890123456-0', // ms of 16 digits
      '1-123456789012345678901', // seq of 21 digits
      '1-18446744073709551616', // seq above u64
      '1-99999999999999999999',
    ]
    for (const bad of badIds) {
      assert.throws(() => sequenceNumberFromEntryId(bad, 0), RangeError, JSON.stringify(bad))
    }
    for (const badShard of [-1, 1_000_000, 1.5, Number.NaN]) {
      assert.throws(() => sequenceNumberFromEntryId('1-0', badShard), RangeError, String(badShard))
    }
    assert.throws(() => firstSequenceNumberOfShard(1.5, 0), RangeError)
    assert.throws(() => firstSequenceNumberOfShard(1e21, 0), RangeError)
  })

  it('come out the same from ShardSequenceNumbers (one shard, id after id), which refuses the same ids', () => {
    const ids = randomEntryIds(2000, 0x5eedn)
    // In order (runs of one ms, as an archive object has them) and shuffled (the ms changing each time).
    for (const list of [[...ids].sort(byBigInt), ids]) {
      const numbers = new ShardSequenceNumbers(7)
      for (const id of list) assert.equal(numbers.of(id), sequenceNumberFromEntryId(id, 7), id)
    }
    const bad = ['', '-', '-1', '1-', '1-2-3', '1-01', '01-0', '1 -0', '1-a', '1-18446744073709551616', '1234567890123456-0']
    for (const id of bad) {
      assert.throws(() => new ShardSequenceNumbers(0).of(id), RangeError, JSON.stringify(id))
      // …also right after a good id whose milliseconds are cached
      const primed = new ShardSequenceNumbers(0)
      primed.of('1-0')
      assert.throws(() => primed.of(id), RangeError, `after 1-0: ${JSON.stringify(id)}`)
    }
    assert.throws(() => new ShardSequenceNumbers(1_000_000), RangeError)
  })

  it('decode to null when they are not ones this service issues', () => {
    const valid = sequenceNumberFromEntryId('1700000000000-3', 4)
    for (const bad of [
      '',
      '0',
      valid.slice(0, 41),
      valid + '0',
      '0' + valid.slice(1),
      '2' + valid.slice(1),
      '1' + 'a'.repeat(41),
      valid.slice(0, 20) + 'x' + valid.slice(21),
      ' ' + valid.slice(1),
      valid.slice(0, 41) + '\n',
      '1' + '0'.repeat(15) + '18446744073709551616' + '000000', // seq = u64 max + 1
      '1' + '0'.repeat(15) + '99999999999999999999' + '000000',
      '49680543445498925057077595412452529915031514980888346626', // a real Kinesis sequence number
    ]) {
      assert.equal(entryIdFromSequenceNumber(bad), null, JSON.stringify(bad))
    }
    assert.deepEqual(entryIdFromSequenceNumber(valid), { entryId: '1700000000000-3', shardIndex: 4 })
  })
})

describe('entry ids', () => {
  it('compare numerically on ms, then seq', () => {
    assert.equal(compareEntryIds('10-0', '9-99'), 1)
    assert.equal(compareEntryIds('9-99', '10-0'), -1)
    assert.equal(compareEntryIds('3-3', '3-3'), 0)
    assert.equal(compareEntryIds('3-10', '3-9'), 1)
    assert.equal(compareEntryIds(`1-${U64_MAX}`, '1-18446744073709551614'), 1, 'beyond 2^53')
    assert.equal(compareEntryIds('1-9007199254740993', '1-9007199254740992'), 1, 'not rounded through a double')
    assert.equal(compareEntryIds('007-1', '7-1'), 0, 'by value, not spelling')
    const ids = randomEntryIds(1000, 0x5eed3n)
    assert.deepEqual([...ids].sort(compareEntryIds), [...ids].sort(byBigInt))
  })

  it('refuse to compare what is not an entry id', () => {
    for (const bad of ['', '-', '5', '5-', '-5', ' 5-0', '5-0x1', '5-1e3', `5-${'9'.repeat(20)}`]) {
      assert.throws(() => compareEntryIds(bad, '0-0'), RangeError, JSON.stringify(bad))
      assert.throws(() => compareEntryIds('0-0', bad), RangeError, JSON.stringify(bad))
    }
  })

  it('step back and forward across the u64 boundary of seq', () => {
    assert.equal(previousEntryId('5-3'), '5-2')
    assert.equal(previousEntryId('5-0'), `4-${U64_MAX}`)
    assert.equal(previousEntryId('0-1'), '0-0')
    assert.equal(previousEntryId('0-0'), null)
    assert.equal(nextEntryId('4-1'), '4-2')
    assert.equal(nextEntryId(`4-${U64_MAX}`), '5-0')
    assert.equal(nextEntryId('1-9007199254740992'), '1-9007199254740993')
    assert.throws(() => nextEntryId(`${U64_MAX}-${U64_MAX}`), RangeError)
    for (const id of ['0-0', '5-0', '5-7', `9-${U64_MAX}`]) {
      assert.equal(previousEntryId(nextEntryId(id)), id)
      assert.equal(compareEntryIds(nextEntryId(id), id), 1)
    }
  })
})
