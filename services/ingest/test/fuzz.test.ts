/**
 * Property-based fuzz of request bodies (fast-check, seeded): near-valid and arbitrary bodies against
 * every REST route family that takes a body or a query, and against every Kinesis action in JSON and
 * CBOR. The property: no answer is a 5xx — a client's mistake is never the server's error. Bounded:
 * a fixed seed and a few hundred runs per family; the counts by status go to the test output.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { encode as cborEncode } from 'cbor-x'
import { startSluice, type Sluice } from './harness.js'

const SEED = 8_2026
const SIGV4 = 'AWS4-HMAC-SHA256 Credential=AKIDFUZZ/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd'

/** Iterators and sequence numbers the service issued, so generated bodies reach past the first checks. */
const issued = { iterators: [] as string[], sequenceNumbers: [] as string[] }

// ---------------------------------------------------------------------------------------------
// Values

const text = fc.string({ maxLength: 40, unit: 'grapheme' })
const name = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('fz', 'fz2', 'nope') },
  fc.constantFrom('', 'a{b', 'a}b', 'a:b', 'a/b', 'n'.repeat(129), '__proto__', 'constructor', ' fz', 'fz\u0000'),
  fc.stringMatching(/^[a-zA-Z0-9_.-]{1,12}$/),
  text,
)
const shardId = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('shardId-000000000000', 'shardId-000000000001') },
  fc.constantFrom('shardId-000000000009', 'shardId-x', ''),
  text,
)
const base64 = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64'))
const hashKey = fc.oneof({ weight: 4, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }).map(String) }, fc.bigInt({ min: 2n ** 128n, max: 2n ** 130n }).map(String), fc.constantFrom('-1', '01', '1e3', ''))
const sequenceNumber = fc.oneof(fc.constantFrom('0', '1'.padEnd(42, '0'), '9'.repeat(129)), fc.constant(null).map(() => issued.sequenceNumbers[0] ?? '1'), fc.bigInt({ min: 0n, max: 10n ** 45n }).map(String))
const iterator = fc.oneof(
  fc.nat({ max: 50 }).map((i) => issued.iterators[i % Math.max(1, issued.iterators.length)] ?? 'x'),
  fc.tuple(fc.nat({ max: 50 }), fc.nat({ max: 300 }), fc.string({ minLength: 1, maxLength: 1 })).map(([i, at, c]) => {
    const token = issued.iterators[i % Math.max(1, issued.iterators.length)] ?? 'x'
    return token.slice(0, at % token.length) + c + token.slice((at % token.length) + 1)
  }),
  text,
)
const number = fc.oneof(fc.integer({ min: -5, max: 20 }), fc.integer(), fc.double(), fc.constantFrom(0, 1e300, -0, 2 ** 53 + 1))
/** A number, mostly in the range the member takes. */
const numberIn = (min: number, max: number) => fc.oneof({ weight: 4, arbitrary: fc.integer({ min, max }) }, number)
/** Anything JSON can hold, a little deep. */
const anyJson = fc.jsonValue({ maxDepth: 4 })
/** A member's value: of the right kind most of the time, anything otherwise. */
const value = <T>(right: fc.Arbitrary<T>) => fc.oneof({ weight: 8, arbitrary: right }, anyJson)
/** Members the routes do not know, including the ones prototype pollution uses. */
const extraMembers = fc.dictionary(fc.oneof(text, fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString')), anyJson, { maxKeys: 2 })

/** An object of the given members (the `essential` ones mostly present), and sometimes unknown ones. */
function members(shape: Record<string, fc.Arbitrary<unknown>>, essential: string[] = []): fc.Arbitrary<Record<string, unknown>> {
  const known = fc.oneof({ weight: 3, arbitrary: fc.record(shape, { requiredKeys: essential }) }, fc.record(shape, { requiredKeys: [] }))
  return fc.tuple(known, fc.oneof({ weight: 6, arbitrary: fc.constant({}) }, extraMembers)).map(([known, extra]) => {
    // JSON.parse, like the wire, makes __proto__ an own member; assigning it would not.
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries({ ...known })) out[k] = v
    for (const [k, v] of Object.entries(extra)) Object.defineProperty(out, k, { value: v, enumerable: true, configurable: true, writable: true })
    return out
  })
}

/** How a body goes on the wire: mostly JSON of a generated value, sometimes raw bytes or deep nesting. */
type Wire = { kind: 'json'; value: unknown } | { kind: 'raw'; bytes: Uint8Array } | { kind: 'deep'; levels: number }
function wire(body: fc.Arbitrary<unknown>): fc.Arbitrary<Wire> {
  return fc.oneof(
    { weight: 8, arbitrary: body.map((v): Wire => ({ kind: 'json', value: v })) },
    fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.string({ maxLength: 64 }).map((s) => new TextEncoder().encode(s))).map((bytes): Wire => ({ kind: 'raw', bytes })),
    fc.integer({ min: 20, max: 20_000 }).map((levels): Wire => ({ kind: 'deep', levels })),
  )
}

function encode(w: Wire, cbor: boolean): Uint8Array {
  if (w.kind === 'raw') return w.bytes
  if (w.kind === 'deep') return new TextEncoder().encode(`{"X":${'['.repeat(w.levels)}${']'.repeat(w.levels)}}`)
  return cbor ? cborEncode(w.value) : new TextEncoder().encode(JSON.stringify(w.value))
}

// ---------------------------------------------------------------------------------------------
// Route families

interface Request {
  method: string
  path: string
  body?: Uint8Array
  headers: Record<string, string>
}

const seg = (s: string) => encodeURIComponent(s)
const jsonHeaders = { 'content-type': 'application/json' }

const record = members(
  {
    partitionKey: value(fc.oneof(fc.constantFrom('k1', 'k2'), text)),
    data: value(fc.oneof({ weight: 6, arbitrary: base64 }, fc.constantFrom('AAA', '@@@@', 'ab-_', ''))),
    explicitHashKey: value(hashKey),
  },
  ['partitionKey', 'data'],
)
const records = members({ records: value(fc.array(value(record), { minLength: 1, maxLength: 3 })) }, ['records'])

const restFamilies: Record<string, fc.Arbitrary<Request>> = {
  'POST /v1/streams': wire(
    members(
      {
        name: value(name),
        shardCount: value(numberIn(1, 4)),
        retentionHours: value(numberIn(24, 8760)),
        writeLimits: value(members({ recordsPerSecond: value(numberIn(1, 100_000)), bytesPerSecond: value(numberIn(1, 10_000_000)) })),
      },
      ['name', 'shardCount'],
    ),
  ).map((w) => ({ method: 'POST', path: '/v1/streams', body: encode(w, false), headers: jsonHeaders })),
  'PATCH /v1/streams/:name': fc
    .tuple(name, wire(members({ retentionHours: value(numberIn(24, 8760)) }, ['retentionHours'])))
    .map(([n, w]) => ({ method: 'PATCH', path: `/v1/streams/${seg(n)}`, body: encode(w, false), headers: jsonHeaders })),
  'POST /v1/streams/:name/records': fc
    .tuple(name, wire(records))
    .map(([n, w]) => ({ method: 'POST', path: `/v1/streams/${seg(n)}/records`, body: encode(w, false), headers: jsonHeaders })),
  'POST /v1/streams/:name/shards/:shardId/records': fc
    .tuple(name, shardId, wire(records))
    .map(([n, sh, w]) => ({ method: 'POST', path: `/v1/streams/${seg(n)}/shards/${seg(sh)}/records`, body: encode(w, false), headers: jsonHeaders })),
  'GET /v1/streams/:name/shards/:shardId/records': fc
    .tuple(
      name,
      shardId,
      fc.oneof(
        fc.record({ iterator }),
        fc.record({ from: fc.constantFrom('TRIM_HORIZON', 'LATEST') }),
        fc.record({ from: fc.constantFrom('AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER'), sequenceNumber }),
        fc.record({ from: fc.constant('AT_TIMESTAMP'), timestamp: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.nat().map(String), text) }),
        fc.record(
          {
            from: fc.oneof(fc.constantFrom('TRIM_HORIZON', 'LATEST', 'AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER', 'AT_TIMESTAMP'), text),
            sequenceNumber,
            timestamp: text,
            iterator,
          },
          { requiredKeys: [] },
        ),
      ),
      fc.record({ limit: fc.oneof(fc.integer({ min: -1, max: 20_000 }).map(String), text) }, { requiredKeys: [] }),
      fc.oneof({ weight: 6, arbitrary: fc.constant({}) }, fc.dictionary(text, text, { maxKeys: 1 })),
    )
    .map(([n, sh, q, limit, extra]) => ({
      method: 'GET',
      path: `/v1/streams/${seg(n)}/shards/${seg(sh)}/records?${new URLSearchParams({ ...extra, ...limit, ...q }).toString()}`,
      headers: {},
    })),
  'POST …/groups/:group/workers/:workerId/heartbeat': fc
    .tuple(name, name, wire(members({ leaseTtlMs: value(numberIn(1000, 600_000)) })))
    .map(([n, g, w]) => ({ method: 'POST', path: `/v1/streams/fz/groups/${seg(n)}/workers/${seg(g)}/heartbeat`, body: encode(w, false), headers: jsonHeaders })),
  'PUT …/groups/:group/shards/:shardId/checkpoint': fc
    .tuple(name, shardId, wire(members({ sequenceNumber: value(sequenceNumber), leaseToken: value(fc.oneof(fc.nat({ max: 5 }).map(String), text)) }, ['sequenceNumber', 'leaseToken'])))
    .map(([g, sh, w]) => ({ method: 'PUT', path: `/v1/streams/fz/groups/${seg(g)}/shards/${seg(sh)}/checkpoint`, body: encode(w, false), headers: jsonHeaders })),
}

const KINESIS_ACTIONS = [
  'CreateStream', 'DeleteStream', 'DescribeStream', 'DescribeStreamSummary', 'ListStreams', 'ListShards', 'PutRecord', 'PutRecords',
  'GetShardIterator', 'GetRecords', 'IncreaseStreamRetentionPeriod', 'DecreaseStreamRetentionPeriod', 'AddTagsToStream',
  'RemoveTagsFromStream', 'ListTagsForStream', 'DescribeLimits', 'SplitShard',
] as const

const data = fc.oneof(base64, fc.uint8Array({ maxLength: 32 }))
const kinesisRecord = members({ Data: value(data), PartitionKey: value(fc.oneof(fc.constantFrom('k1', 'k2'), text)), ExplicitHashKey: value(hashKey) }, ['Data', 'PartitionKey'])
const kinesisBody = members(
  {
    StreamName: value(name),
    StreamARN: value(fc.oneof(name.map((n) => `arn:aws:kinesis:us-east-1:000000000000:stream/${n}`), text)),
    ShardCount: value(numberIn(1, 4)),
    StreamModeDetails: value(members({ StreamMode: value(fc.constantFrom('PROVISIONED', 'ON_DEMAND')) })),
    Records: value(fc.array(value(kinesisRecord), { minLength: 1, maxLength: 6 })),
    Data: value(data),
    PartitionKey: value(text),
    ExplicitHashKey: value(hashKey),
    SequenceNumberForOrdering: value(sequenceNumber),
    ShardId: value(shardId),
    ShardIteratorType: value(fc.oneof(fc.constantFrom('TRIM_HORIZON', 'LATEST', 'AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER', 'AT_TIMESTAMP'), text)),
    StartingSequenceNumber: value(sequenceNumber),
    Timestamp: value(fc.oneof(number, fc.date({ noInvalidDate: true }))),
    ShardIterator: value(iterator),
    Limit: value(numberIn(1, 10_000)),
    MaxResults: value(numberIn(1, 10_000)),
    NextToken: value(fc.oneof(text, name.map((n) => Buffer.from(`${n}\nshardId-000000000000`).toString('base64url')))),
    ExclusiveStartShardId: value(shardId),
    ExclusiveStartStreamName: value(name),
    ExclusiveStartTagKey: value(text),
    RetentionPeriodHours: value(numberIn(24, 8760)),
    Tags: value(fc.dictionary(text, value(text), { maxKeys: 12 })),
    TagKeys: value(fc.array(value(text), { maxLength: 4 })),
  },
  ['StreamName'],
)

const kinesisFamily: fc.Arbitrary<Request> = fc
  .tuple(fc.constantFrom(...KINESIS_ACTIONS), fc.boolean(), wire(kinesisBody))
  .map(([action, cbor, w]) => ({
    method: 'POST',
    path: '/',
    body: encode(w, cbor),
    headers: {
      'content-type': cbor ? 'application/x-amz-cbor-1.1' : 'application/x-amz-json-1.1',
      'x-amz-target': `Kinesis_20131202.${action}`,
      authorization: SIGV4,
    },
  }))

// ---------------------------------------------------------------------------------------------

describe('fuzz: no request body makes the server answer 5xx', () => {
  let s: Sluice
  const statuses = new Map<string, Map<number, number>>()

  before(async () => {
    // Small shard counts keep creates cheap; generous limits let puts through.
    s = await startSluice({ env: { SLUICE_MAX_SHARDS: '4', SLUICE_SHARD_READS_PER_SECOND: '100000', SLUICE_SHARD_WRITE_RECORDS_PER_SECOND: '100000' } })
    assert.equal((await s.request('POST', '/v1/streams', { name: 'fz', shardCount: 2 })).status, 201)
    const put = await s.request('POST', '/v1/streams/fz/records', { records: [{ partitionKey: 'k1', data: 'AAAA' }, { partitionKey: 'k2', data: 'AQID' }] })
    issued.sequenceNumbers.push(...put.body.records.map((r: { sequenceNumber: string }) => r.sequenceNumber))
    for (const shard of ['shardId-000000000000', 'shardId-000000000001']) {
      const r = await s.request('GET', `/v1/streams/fz/shards/${shard}/records?from=TRIM_HORIZON`)
      issued.iterators.push(r.body.nextIterator)
    }
  })
  after(async () => s.close())

  const check = (family: string, arbitrary: fc.Arbitrary<Request>, numRuns: number) =>
    it(`${family}: ${numRuns} generated requests, none answered 5xx`, async (t) => {
      const seen = new Map<number, number>()
      statuses.set(family, seen)
      await fc.assert(
        fc.asyncProperty(arbitrary, async (req) => {
          const res = await fetch(s.url + req.path, { method: req.method, headers: req.headers, ...(req.body ? { body: req.body } : {}) })
          const answer = Buffer.from(await res.arrayBuffer())
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1)
          if (res.status >= 500) throw new Error(`${req.method} ${req.path} answered ${res.status}: ${answer.toString('utf8').slice(0, 300)}`)
        }),
        { seed: SEED, numRuns },
      )
      t.diagnostic(`${family}: ${[...seen].sort(([a], [b]) => a - b).map(([k, v]) => `${k}×${v}`).join(', ')}`)
    })

  for (const [family, arbitrary] of Object.entries(restFamilies)) check(family, arbitrary, 150)
  check('POST / (Kinesis, every action, JSON and CBOR)', kinesisFamily, 600)

  it('answered every family, with more than one status each (the bodies reach past the first check)', () => {
    assert.equal(statuses.size, Object.keys(restFamilies).length + 1)
    for (const [family, seen] of statuses) assert.ok(seen.size > 1, `${family} always answered ${[...seen.keys()]}`)
  })
})
