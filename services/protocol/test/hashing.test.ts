import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import {
  MAX_HASH_KEY,
  evenHashKeyRanges,
  hashKeyForPartitionKey,
  hashKeyToString,
  parseExplicitHashKey,
  parseShardId,
  shardIndexForHashKey,
  type HashKeyRange,
} from '../src/index.js'

// Every table below was taken from kinesalite 3.3.3 (an independent Kinesis implementation), not
// computed by this code: CreateStream with 1, 3, 4 and 7 shards, DescribeStream for each shard's
// HashKeyRange, then PutRecord for the ShardId each partition key or ExplicitHashKey was sent to.
// kinesalite refuses the empty partition key (length >= 1) and ExplicitHashKey 2^128, as Kinesis does.

/** shard count -> [StartingHashKey, EndingHashKey] of shardId-000000000000, -000000000001, … */
const KINESALITE_RANGES: Record<number, Array<[string, string]>> = {
  1: [['0', '340282366920938463463374607431768211455']],
  3: [
    ['0', '113427455640312821154458202477256070484'],
    ['113427455640312821154458202477256070485', '226854911280625642308916404954512140969'],
    ['226854911280625642308916404954512140970', '340282366920938463463374607431768211455'],
  ],
  4: [
    ['0', '85070591730234615865843651857942052863'],
    ['85070591730234615865843651857942052864', '170141183460469231731687303715884105727'],
    ['170141183460469231731687303715884105728', '255211775190703847597530955573826158591'],
    ['255211775190703847597530955573826158592', '340282366920938463463374607431768211455'],
  ],
  7: [
    ['0', '48611766702991209066196372490252601635'],
    ['48611766702991209066196372490252601636', '97223533405982418132392744980505203271'],
    ['97223533405982418132392744980505203272', '145835300108973627198589117470757804907'],
    ['145835300108973627198589117470757804908', '194447066811964836264785489961010406543'],
    ['194447066811964836264785489961010406544', '243058833514956045330981862451263008179'],
    ['243058833514956045330981862451263008180', '291670600217947254397178234941515609815'],
    ['291670600217947254397178234941515609816', '340282366920938463463374607431768211455'],
  ],
}

/** partition key -> ShardId answered by PutRecord, for streams of 1, 3, 4 and 7 shards. */
const KINESALITE_PARTITION_KEYS: Array<[key: string, shards1: string, shards3: string, shards4: string, shards7: string]> = [
  ['0', 'shardId-000000000000', 'shardId-000000000002', 'shardId-000000000003', 'shardId-000000000005'],
  ['a', 'shardId-000000000000', 'shardId-000000000000', 'shardId-000000000000', 'shardId-000000000000'],
  ['abc', 'shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003'],
  ['message digest', 'shardId-000000000000', 'shardId-000000000002', 'shardId-000000000003', 'shardId-000000000006'],
  ['user-1', 'shardId-000000000000', 'shardId-000000000002', 'shardId-000000000003', 'shardId-000000000005'],
  ['user-2', 'shardId-000000000000', 'shardId-000000000000', 'shardId-000000000000', 'shardId-000000000001'],
  ['orders/42', 'shardId-000000000000', 'shardId-000000000002', 'shardId-000000000003', 'shardId-000000000005'],
  ['日本語', 'shardId-000000000000', 'shardId-000000000000', 'shardId-000000000000', 'shardId-000000000000'],
  ['🙂', 'shardId-000000000000', 'shardId-000000000001', 'shardId-000000000001', 'shardId-000000000002'],
  ['Ünïcödé', 'shardId-000000000000', 'shardId-000000000000', 'shardId-000000000000', 'shardId-000000000000'],
  [' ', 'shardId-000000000000', 'shardId-000000000001', 'shardId-000000000001', 'shardId-000000000003'],
  ['k'.repeat(256), 'shardId-000000000000', 'shardId-000000000002', 'shardId-000000000003', 'shardId-000000000006'],
  ['é'.repeat(256), 'shardId-000000000000', 'shardId-000000000002', 'shardId-000000000002', 'shardId-000000000005'],
]
const PARTITION_KEY_SHARD_COUNTS = [1, 3, 4, 7] as const

/** shard count -> [ExplicitHashKey, ShardId answered]: 0, 2^128-1, and both sides of every boundary. */
const KINESALITE_EXPLICIT_HASH_KEYS: Record<number, Array<[string, string]>> = {
  1: [
    ['0', 'shardId-000000000000'],
    ['340282366920938463463374607431768211455', 'shardId-000000000000'],
  ],
  3: [
    ['0', 'shardId-000000000000'],
    ['113427455640312821154458202477256070484', 'shardId-000000000000'],
    ['113427455640312821154458202477256070485', 'shardId-000000000001'],
    ['226854911280625642308916404954512140969', 'shardId-000000000001'],
    ['226854911280625642308916404954512140970', 'shardId-000000000002'],
    ['340282366920938463463374607431768211455', 'shardId-000000000002'],
  ],
  4: [
    ['0', 'shardId-000000000000'],
    ['85070591730234615865843651857942052863', 'shardId-000000000000'],
    ['85070591730234615865843651857942052864', 'shardId-000000000001'],
    ['170141183460469231731687303715884105727', 'shardId-000000000001'],
    ['170141183460469231731687303715884105728', 'shardId-000000000002'],
    ['255211775190703847597530955573826158591', 'shardId-000000000002'],
    ['255211775190703847597530955573826158592', 'shardId-000000000003'],
    ['340282366920938463463374607431768211455', 'shardId-000000000003'],
  ],
  7: [
    ['0', 'shardId-000000000000'],
    ['48611766702991209066196372490252601635', 'shardId-000000000000'],
    ['48611766702991209066196372490252601636', 'shardId-000000000001'],
    ['97223533405982418132392744980505203271', 'shardId-000000000001'],
    ['97223533405982418132392744980505203272', 'shardId-000000000002'],
    ['145835300108973627198589117470757804907', 'shardId-000000000002'],
    ['145835300108973627198589117470757804908', 'shardId-000000000003'],
    ['194447066811964836264785489961010406543', 'shardId-000000000003'],
    ['194447066811964836264785489961010406544', 'shardId-000000000004'],
    ['243058833514956045330981862451263008179', 'shardId-000000000004'],
    ['243058833514956045330981862451263008180', 'shardId-000000000005'],
    ['291670600217947254397178234941515609815', 'shardId-000000000005'],
    ['291670600217947254397178234941515609816', 'shardId-000000000006'],
    ['340282366920938463463374607431768211455', 'shardId-000000000006'],
  ],
}

const TWO_TO_128 = 1n << 128n

function rangesAsText(ranges: readonly HashKeyRange[]): Array<[string, string]> {
  return ranges.map((r) => [hashKeyToString(r.start), hashKeyToString(r.end)])
}

function shardIndexOf(shardId: string): number {
  const index = parseShardId(shardId)
  assert.notEqual(index, null, shardId)
  return index!
}

/** Checks that ranges tile 0..2^128-1 exactly as Kinesis' even split does. */
function assertEvenSplit(n: number, ranges: readonly HashKeyRange[]): void {
  const size = TWO_TO_128 / BigInt(n)
  assert.equal(ranges.length, n)
  assert.equal(ranges[0]!.start, 0n, `${n} shards: first start`)
  assert.equal(ranges[n - 1]!.end, MAX_HASH_KEY, `${n} shards: last end`)
  for (let i = 0; i < n; i++) {
    const range = ranges[i]!
    assert.equal(range.start, BigInt(i) * size, `${n} shards: start of ${i}`)
    if (i > 0) assert.equal(range.start, ranges[i - 1]!.end + 1n, `${n} shards: gap or overlap before ${i}`)
    if (i < n - 1) assert.equal(range.end - range.start + 1n, size, `${n} shards: size of ${i}`)
  }
}

describe('partition-key hashing', () => {
  it('is MD5 read as an unsigned 128-bit big-endian integer (RFC 1321 vectors)', () => {
    assert.equal(hashKeyForPartitionKey(''), 0xd41d8cd98f00b204e9800998ecf8427en)
    assert.equal(hashKeyForPartitionKey('a'), 0x0cc175b9c0f1b6a831c399e269772661n)
    assert.equal(hashKeyForPartitionKey('abc'), 0x900150983cd24fb0d6963f7d28e17f72n)
    assert.equal(hashKeyForPartitionKey('message digest'), 0xf96b697d7cb7938d525a2f31aaf161d0n)
    // A digest with its top bit set must stay positive (unsigned): 0x9001… > 2^127.
    assert.ok(hashKeyForPartitionKey('abc') > 1n << 127n)
  })

  it('hashes the UTF-8 bytes of the key, astral characters included', () => {
    for (const key of ['日本語', '🙂', 'Ünïcödé', 'é'.repeat(256), 'a\u0000b']) {
      const digest = createHash('md5').update(Buffer.from(key, 'utf8')).digest()
      const expected = (digest.readBigUInt64BE(0) << 64n) | digest.readBigUInt64BE(8)
      assert.equal(hashKeyForPartitionKey(key), expected, JSON.stringify(key))
    }
  })
})

describe('even hash-key ranges', () => {
  it('split the key space exactly as Kinesis CreateStream does', () => {
    for (const [n, expected] of Object.entries(KINESALITE_RANGES)) {
      assert.deepEqual(rangesAsText(evenHashKeyRanges(Number(n))), expected, `${n} shards`)
    }
  })

  it('tile 0..2^128-1 without gap or overlap for every shard count from 1 to 1000', () => {
    for (let n = 1; n <= 1000; n++) assertEvenSplit(n, evenHashKeyRanges(n))
  })

  it('refuse a shard count that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => evenHashKeyRanges(bad), RangeError, String(bad))
    }
  })
})

describe('shard lookup', () => {
  it('sends every partition key to the shard Kinesis sends it to', () => {
    for (const [key, ...shardIds] of KINESALITE_PARTITION_KEYS) {
      PARTITION_KEY_SHARD_COUNTS.forEach((n, column) => {
        const actual = shardIndexForHashKey(evenHashKeyRanges(n), hashKeyForPartitionKey(key))
        assert.equal(actual, shardIndexOf(shardIds[column]!), `${n} shards, key ${JSON.stringify(key.slice(0, 12))}`)
      })
    }
  })

  it('sends explicit hash keys at the range edges to the shard Kinesis sends them to', () => {
    for (const [n, cases] of Object.entries(KINESALITE_EXPLICIT_HASH_KEYS)) {
      const ranges = evenHashKeyRanges(Number(n))
      for (const [text, shardId] of cases) {
        const hashKey = parseExplicitHashKey(text)
        assert.notEqual(hashKey, null, text)
        assert.equal(shardIndexForHashKey(ranges, hashKey!), shardIndexOf(shardId), `${n} shards, ${text}`)
      }
    }
  })

  it('finds both edges of every shard, for a spread of shard counts', () => {
    for (const n of [1, 2, 5, 16, 99, 128, 257, 500, 999, 1000]) {
      const ranges = evenHashKeyRanges(n)
      for (let i = 0; i < n; i++) {
        const { start, end } = ranges[i]!
        assert.equal(shardIndexForHashKey(ranges, start), i, `${n} shards, start of ${i}`)
        assert.equal(shardIndexForHashKey(ranges, end), i, `${n} shards, end of ${i}`)
        assert.equal(shardIndexForHashKey(ranges, (start + end) / 2n), i, `${n} shards, middle of ${i}`)
      }
    }
  })

  it('works on uneven ranges too (as resharding makes them) and answers -1 outside them', () => {
    const ranges: HashKeyRange[] = [
      { start: 0n, end: 9n },
      { start: 10n, end: 10n },
      { start: 11n, end: 1n << 100n },
      { start: (1n << 100n) + 1n, end: MAX_HASH_KEY },
    ]
    assert.equal(shardIndexForHashKey(ranges, 0n), 0)
    assert.equal(shardIndexForHashKey(ranges, 9n), 0)
    assert.equal(shardIndexForHashKey(ranges, 10n), 1)
    assert.equal(shardIndexForHashKey(ranges, 11n), 2)
    assert.equal(shardIndexForHashKey(ranges, 1n << 100n), 2)
    assert.equal(shardIndexForHashKey(ranges, (1n << 100n) + 1n), 3)
    assert.equal(shardIndexForHashKey(ranges, MAX_HASH_KEY), 3)
    assert.equal(shardIndexForHashKey(ranges, MAX_HASH_KEY + 1n), -1)
    assert.equal(shardIndexForHashKey(ranges, -1n), -1)
    assert.equal(shardIndexForHashKey(ranges.slice(1), 5n), -1)
    assert.equal(shardIndexForHashKey([ranges[0]!, ranges[2]!], 10n), -1, 'a gap holds no key')
    assert.equal(shardIndexForHashKey([], 0n), -1)
  })
})

describe('explicit hash keys', () => {
  it('accept decimals from 0 to 2^128-1', () => {
    assert.equal(parseExplicitHashKey('0'), 0n)
    assert.equal(parseExplicitHashKey('7'), 7n)
    assert.equal(parseExplicitHashKey('340282366920938463463374607431768211455'), MAX_HASH_KEY)
    assert.equal(parseExplicitHashKey('340282366920938463463374607431768211454'), MAX_HASH_KEY - 1n)
    assert.equal(parseExplicitHashKey('9'.repeat(38)), 10n ** 38n - 1n)
  })

  it('refuse everything else rather than repair it', () => {
    for (const bad of [
      '-1', '+1', '01', '00', '1.0', '', ' 1', '1 ', '1e3', '0x10', '١', '1_000',
      '9'.repeat(39), // 39 digits but above 2^128-1
      '1'.repeat(40),
      hashKeyToString(TWO_TO_128),
      '0' + hashKeyToString(MAX_HASH_KEY),
    ]) {
      assert.equal(parseExplicitHashKey(bad), null, JSON.stringify(bad))
    }
  })

  it('print as plain decimal', () => {
    assert.equal(hashKeyToString(MAX_HASH_KEY), '340282366920938463463374607431768211455')
    assert.equal(hashKeyToString(0n), '0')
  })
})
