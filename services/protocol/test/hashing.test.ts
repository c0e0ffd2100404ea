import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  MAX_HASH_KEY,
  evenHashKeyRanges,
  hashKeyForPartitionKey,
  hashKeyToString,
  parseExplicitHashKey,
  shardIndexForHashKey,
} from '../src/index.js'

// Taken from kinesalite 3.3.3 (an independent Kinesis implementation): CreateStream with 1, 3 and 5
// shards, DescribeStream for the ranges, PutRecord for the shard each key (or explicit hash key) went to.
const KINESALITE_RANGES: Record<string, Array<[string, string, string]>> = {
  "1": [
    [
      "shardId-000000000000",
      "0",
      "340282366920938463463374607431768211455"
    ]
  ],
  "3": [
    [
      "shardId-000000000000",
      "0",
      "113427455640312821154458202477256070484"
    ],
    [
      "shardId-000000000001",
      "113427455640312821154458202477256070485",
      "226854911280625642308916404954512140969"
    ],
    [
      "shardId-000000000002",
      "226854911280625642308916404954512140970",
      "340282366920938463463374607431768211455"
    ]
  ],
  "5": [
    [
      "shardId-000000000000",
      "0",
      "68056473384187692692674921486353642290"
    ],
    [
      "shardId-000000000001",
      "68056473384187692692674921486353642291",
      "136112946768375385385349842972707284581"
    ],
    [
      "shardId-000000000002",
      "136112946768375385385349842972707284582",
      "204169420152563078078024764459060926872"
    ],
    [
      "shardId-000000000003",
      "204169420152563078078024764459060926873",
      "272225893536750770770699685945414569163"
    ],
    [
      "shardId-000000000004",
      "272225893536750770770699685945414569164",
      "340282366920938463463374607431768211455"
    ]
  ]
}

const KINESALITE_KEYS: Record<string, Array<[string, number]>> = {
  "1": [
    [
      "0",
      0
    ],
    [
      "a",
      0
    ],
    [
      "abc",
      0
    ],
    [
      "message digest",
      0
    ],
    [
      "user-1",
      0
    ],
    [
      "user-2",
      0
    ],
    [
      "orders/42",
      0
    ],
    [
      "日本語",
      0
    ],
    [
      "🙂",
      0
    ],
    [
      "Ünïcödé",
      0
    ],
    [
      "__LONG__",
      0
    ],
    [
      " ",
      0
    ]
  ],
  "3": [
    [
      "0",
      2
    ],
    [
      "a",
      0
    ],
    [
      "abc",
      1
    ],
    [
      "message digest",
      2
    ],
    [
      "user-1",
      2
    ],
    [
      "user-2",
      0
    ],
    [
      "orders/42",
      2
    ],
    [
      "日本語",
      0
    ],
    [
      "🙂",
      1
    ],
    [
      "Ünïcödé",
      0
    ],
    [
      "__LONG__",
      2
    ],
    [
      " ",
      1
    ]
  ],
  "5": [
    [
      "0",
      4
    ],
    [
      "a",
      0
    ],
    [
      "abc",
      2
    ],
    [
      "message digest",
      4
    ],
    [
      "user-1",
      4
    ],
    [
      "user-2",
      1
    ],
    [
      "orders/42",
      4
    ],
    [
      "日本語",
      0
    ],
    [
      "🙂",
      1
    ],
    [
      "Ünïcödé",
      0
    ],
    [
      "__LONG__",
      4
    ],
    [
      " ",
      2
    ]
  ]
}

const KINESALITE_EXPLICIT: Record<string, Record<string, string>> = {
  "1": {
    "0": "shardId-000000000000",
    "340282366920938463463374607431768211455": "shardId-000000000000"
  },
  "3": {
    "0": "shardId-000000000000",
    "340282366920938463463374607431768211455": "shardId-000000000002",
    "113427455640312821154458202477256070484": "shardId-000000000000",
    "113427455640312821154458202477256070485": "shardId-000000000001",
    "226854911280625642308916404954512140969": "shardId-000000000001",
    "226854911280625642308916404954512140970": "shardId-000000000002"
  },
  "5": {
    "0": "shardId-000000000000",
    "340282366920938463463374607431768211455": "shardId-000000000004",
    "68056473384187692692674921486353642290": "shardId-000000000000",
    "68056473384187692692674921486353642291": "shardId-000000000001",
    "136112946768375385385349842972707284581": "shardId-000000000001",
    "136112946768375385385349842972707284582": "shardId-000000000002",
    "204169420152563078078024764459060926872": "shardId-000000000002",
    "204169420152563078078024764459060926873": "shardId-000000000003",
    "272225893536750770770699685945414569163": "shardId-000000000003",
    "272225893536750770770699685945414569164": "shardId-000000000004"
  }
}

const LONG_KEY = 'k'.repeat(256)
const route = (shards: number, key: string) => shardIndexForHashKey(evenHashKeyRanges(shards), hashKeyForPartitionKey(key))

describe('partition-key routing', () => {
  it('hashes with MD5 read as a 128-bit big-endian integer (RFC 1321 vectors)', () => {
    assert.equal(hashKeyForPartitionKey('a'), BigInt('0x0cc175b9c0f1b6a831c399e269772661'))
    assert.equal(hashKeyForPartitionKey('abc'), BigInt('0x900150983cd24fb0d6963f7d28e17f72'))
    assert.equal(hashKeyForPartitionKey('message digest'), BigInt('0xf96b697d7cb7938d525a2f31aaf161d0'))
    assert.equal(hashKeyForPartitionKey(''), BigInt('0xd41d8cd98f00b204e9800998ecf8427e'))
  })

  it('splits the key space exactly as Kinesis does', () => {
    for (const [n, want] of Object.entries(KINESALITE_RANGES)) {
      const got = evenHashKeyRanges(Number(n)).map((r, i) => [`shardId-${String(i).padStart(12, '0')}`, hashKeyToString(r.start), hashKeyToString(r.end)])
      assert.deepEqual(got, want, `${n} shards`)
    }
    assert.equal(hashKeyToString(evenHashKeyRanges(4)[0]!.end), '85070591730234615865843651857942052863')
  })

  it('sends every partition key to the shard Kinesis sends it to', () => {
    for (const [n, cases] of Object.entries(KINESALITE_KEYS)) {
      for (const [key, shard] of cases) {
        const k = key === '__LONG__' ? LONG_KEY : key
        assert.equal(route(Number(n), k), shard, `${n} shards, key ${JSON.stringify(k).slice(0, 20)}`)
      }
    }
  })

  it('sends explicit hash keys at the range edges to the shard Kinesis sends them to', () => {
    for (const [n, cases] of Object.entries(KINESALITE_EXPLICIT)) {
      const ranges = evenHashKeyRanges(Number(n))
      for (const [key, shardId] of Object.entries(cases)) {
        assert.equal(shardIndexForHashKey(ranges, parseExplicitHashKey(key)!), Number(shardId.split('-')[1]), `${n} shards, ${key}`)
      }
    }
  })

  it('covers the key space without gaps or overlaps for any shard count', () => {
    for (const n of [1, 2, 3, 7, 10, 64, 100, 333, 999, 1000]) {
      const ranges = evenHashKeyRanges(n)
      assert.equal(ranges.length, n)
      assert.equal(ranges[0]!.start, 0n)
      assert.equal(ranges[n - 1]!.end, MAX_HASH_KEY)
      for (let i = 1; i < n; i++) assert.equal(ranges[i]!.start, ranges[i - 1]!.end + 1n)
      for (const r of [ranges[0]!, ranges[Math.floor(n / 2)]!, ranges[n - 1]!]) {
        const i = ranges.indexOf(r)
        assert.equal(shardIndexForHashKey(ranges, r.start), i)
        assert.equal(shardIndexForHashKey(ranges, r.end), i)
      }
    }
    assert.throws(() => evenHashKeyRanges(0))
  })

  it('finds the shard in uneven ranges too (as resharding will make them)', () => {
    const ranges = [
      { start: 0n, end: 9n },
      { start: 10n, end: 10n },
      { start: 11n, end: MAX_HASH_KEY },
    ]
    assert.equal(shardIndexForHashKey(ranges, 0n), 0)
    assert.equal(shardIndexForHashKey(ranges, 10n), 1)
    assert.equal(shardIndexForHashKey(ranges, 11n), 2)
    assert.equal(shardIndexForHashKey(ranges.slice(1), 5n), -1)
  })

  it('parses explicit hash keys strictly', () => {
    assert.equal(parseExplicitHashKey('0'), 0n)
    assert.equal(parseExplicitHashKey(MAX_HASH_KEY.toString()), MAX_HASH_KEY)
    for (const bad of ['-1', '01', '1.0', '', ' 1', '1e3', '0x10', (MAX_HASH_KEY + 1n).toString(), '1'.repeat(40)]) {
      assert.equal(parseExplicitHashKey(bad), null, bad)
    }
  })
})
