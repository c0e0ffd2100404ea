/**
 * The Kinesis endpoint with the real AWS SDK v3 (HTTP/1.1 handler): every action of this step, data
 * bytes and Date timestamps round trip, waiters, pagination, each error type, and records put
 * through one API read through the other.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DecreaseStreamRetentionPeriodCommand,
  DescribeLimitsCommand,
  IncreaseStreamRetentionPeriodCommand,
  ListTagsForStreamCommand,
  RemoveTagsFromStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  waitUntilStreamExists,
  waitUntilStreamNotExists,
} from '@aws-sdk/client-kinesis'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { Decoder, Tag, encode as cborEncode } from 'cbor-x'
import { b64, rejectsWith, startSluice, type Sluice } from './harness.js'

// 8-byte integers (timestamps in milliseconds) as numbers, as the Java SDK reads them: the option is
// real in cbor-x, missing from its typings.
const cborDecoder = new Decoder({ useRecords: false, mapsAsObjects: true, int64AsNumber: true } as ConstructorParameters<typeof Decoder>[0])
const cborDecode = (raw: Buffer): unknown => cborDecoder.decode(raw)
const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array | undefined) => new TextDecoder().decode(data)

describe('Kinesis API (AWS SDK v3)', () => {
  let s: Sluice
  let kinesis: KinesisClient
  let clock = 0
  before(async () => {
    s = await startSluice({ now: () => Date.now() + clock, env: { SLUICE_SHARD_READS_PER_SECOND: '1000', SLUICE_MAX_SHARDS: '20' } })
    kinesis = new KinesisClient({
      endpoint: s.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDSLUICE', secretAccessKey: 'not-checked' },
      requestHandler: new NodeHttpHandler(),
      maxAttempts: 1,
    })
  })
  after(async () => {
    kinesis.destroy()
    await s.close()
  })

  it('creates a stream the waiter sees ACTIVE, and describes it as REST does', async () => {
    await kinesis.send(new CreateStreamCommand({ StreamName: 'k', ShardCount: 3 }))
    const waited = await waitUntilStreamExists({ client: kinesis, maxWaitTime: 30 }, { StreamName: 'k' })
    assert.equal(waited.state, 'SUCCESS')
    const d = (await kinesis.send(new DescribeStreamCommand({ StreamName: 'k' }))).StreamDescription!
    assert.equal(d.StreamStatus, 'ACTIVE')
    assert.equal(d.StreamARN, 'arn:aws:kinesis:eu-west-1:000000000000:stream/k')
    assert.ok(d.StreamCreationTimestamp instanceof Date && Math.abs(d.StreamCreationTimestamp.getTime() - Date.now()) < 60_000)
    const rest = (await s.request('GET', '/v1/streams/k')).body
    assert.deepEqual(
      d.Shards!.map((x) => [x.ShardId, x.HashKeyRange!.StartingHashKey, x.HashKeyRange!.EndingHashKey, x.SequenceNumberRange!.StartingSequenceNumber]),
      rest.shards.map((x: any) => [x.shardId, x.hashKeyRange.start, x.hashKeyRange.end, x.sequenceNumberRange.start]),
    )
    const page = (await kinesis.send(new DescribeStreamCommand({ StreamName: 'k', Limit: 2 }))).StreamDescription!
    assert.equal(page.Shards!.length, 2)
    assert.equal(page.HasMoreShards, true)
    const rest2 = (await kinesis.send(new DescribeStreamCommand({ StreamName: 'k', ExclusiveStartShardId: page.Shards![1]!.ShardId }))).StreamDescription!
    assert.deepEqual(rest2.Shards!.map((x) => x.ShardId), ['shardId-000000000002'])
    const summary = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamARN: d.StreamARN }))).StreamDescriptionSummary!
    assert.equal(summary.OpenShardCount, 3)
    assert.equal(summary.RetentionPeriodHours, 24)
  })

  it('lists streams and shards page by page', async () => {
    for (const n of ['k-a', 'k-b', 'k-c']) await kinesis.send(new CreateStreamCommand({ StreamName: n, ShardCount: 1 }))
    const names: string[] = []
    let token: string | undefined
    do {
      const r = await kinesis.send(new ListStreamsCommand({ Limit: 2, ...(token ? { NextToken: token } : {}) }))
      names.push(...r.StreamNames!)
      assert.equal(r.StreamSummaries!.length, r.StreamNames!.length)
      token = r.HasMoreStreams ? r.NextToken : undefined
    } while (token)
    assert.deepEqual(names, ['k', 'k-a', 'k-b', 'k-c'])
    const after = await kinesis.send(new ListStreamsCommand({ ExclusiveStartStreamName: 'k-a' }))
    assert.deepEqual(after.StreamNames, ['k-b', 'k-c'])

    const first = await kinesis.send(new ListShardsCommand({ StreamName: 'k', MaxResults: 2 }))
    assert.equal(first.Shards!.length, 2)
    assert.ok(first.NextToken)
    const second = await kinesis.send(new ListShardsCommand({ NextToken: first.NextToken, MaxResults: 2 }))
    assert.deepEqual(second.Shards!.map((x) => x.ShardId), ['shardId-000000000002'])
    assert.equal(second.NextToken, undefined)
  })

  it('filters ListShards with ShardFilter, and checks its members as AWS does', async () => {
    const ids = async (input: Omit<ConstructorParameters<typeof ListShardsCommand>[0], never>) => (await kinesis.send(new ListShardsCommand(input))).Shards!.map((x) => x.ShardId)
    assert.deepEqual(await ids({ StreamName: 'k', ShardFilter: { Type: 'AFTER_SHARD_ID', ShardId: 'shardId-000000000000' } }), ['shardId-000000000001', 'shardId-000000000002'])
    for (const Type of ['AT_TRIM_HORIZON', 'FROM_TRIM_HORIZON', 'AT_LATEST'] as const) {
      assert.deepEqual(await ids({ StreamName: 'k', ShardFilter: { Type } }), ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002'])
    }
    assert.equal((await ids({ StreamName: 'k', ShardFilter: { Type: 'AT_TIMESTAMP', Timestamp: new Date() } })).length, 3)
    await rejectsWith(kinesis.send(new ListShardsCommand({ StreamName: 'k', ShardFilter: { Type: 'AFTER_SHARD_ID' } })), 'InvalidArgumentException', /ShardId must be supplied/)
    await rejectsWith(kinesis.send(new ListShardsCommand({ StreamName: 'k', ShardFilter: { Type: 'FROM_TIMESTAMP' } })), 'InvalidArgumentException', /Timestamp must be supplied/)
    await rejectsWith(kinesis.send(new ListShardsCommand({ StreamName: 'k', ShardFilter: { Type: 'AT_LATEST', ShardId: 'shardId-000000000000' } })), 'InvalidArgumentException')
    await rejectsWith(kinesis.send(new ListShardsCommand({ StreamName: 'k', ShardFilter: { Type: 'SOMETIMES' as 'AT_LATEST' } })), 'ValidationException', /at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set/)
    await rejectsWith(kinesis.send(new ListShardsCommand({ StreamName: 'k', ExclusiveStartShardId: 'a b' })), 'ValidationException', /at 'exclusiveStartShardId'/)
    const first = await kinesis.send(new ListShardsCommand({ StreamName: 'k', MaxResults: 1 }))
    await rejectsWith(kinesis.send(new ListShardsCommand({ NextToken: first.NextToken, ExclusiveStartShardId: 'shardId-000000000001' })), 'InvalidArgumentException', /NextToken and ExclusiveStartShardId/)
  })

  it('puts and reads bytes, with Date arrival timestamps and every iterator type', async () => {
    const one = await kinesis.send(new PutRecordCommand({ StreamName: 'k', PartitionKey: 'alpha', Data: bytes('first'), SequenceNumberForOrdering: '0' }))
    assert.match(one.SequenceNumber!, /^1\d{41}$/)
    const many = await kinesis.send(
      new PutRecordsCommand({
        StreamName: 'k',
        Records: [
          { PartitionKey: 'alpha', Data: bytes('second') },
          { PartitionKey: 'x', Data: new Uint8Array([0, 255, 128, 1]), ExplicitHashKey: '0' },
          { PartitionKey: 'alpha', Data: bytes('third') },
        ],
      }),
    )
    assert.equal(many.FailedRecordCount, 0)
    assert.equal(many.Records![1]!.ShardId, 'shardId-000000000000')
    assert.equal(many.Records![0]!.ShardId, one.ShardId)

    const it0 = (await kinesis.send(new GetShardIteratorCommand({ StreamName: 'k', ShardId: one.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!
    const got = await kinesis.send(new GetRecordsCommand({ ShardIterator: it0 }))
    const alpha = got.Records!.filter((r) => r.PartitionKey === 'alpha')
    assert.deepEqual(alpha.map((r) => text(r.Data)), ['first', 'second', 'third'])
    assert.ok(got.Records![0]!.ApproximateArrivalTimestamp instanceof Date)
    assert.ok(Math.abs(got.Records![0]!.ApproximateArrivalTimestamp!.getTime() - Date.now()) < 60_000)
    assert.equal(got.MillisBehindLatest, 0)
    assert.ok(got.NextShardIterator)

    const zero = (await kinesis.send(new GetShardIteratorCommand({ StreamName: 'k', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!
    const binary = (await kinesis.send(new GetRecordsCommand({ ShardIterator: zero }))).Records!.find((r) => r.PartitionKey === 'x')!
    assert.deepEqual([...binary.Data!], [0, 255, 128, 1])

    const at = async (type: 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER') =>
      (await kinesis.send(new GetRecordsCommand({ ShardIterator: (await kinesis.send(new GetShardIteratorCommand({ StreamName: 'k', ShardId: one.ShardId, ShardIteratorType: type, StartingSequenceNumber: many.Records![0]!.SequenceNumber }))).ShardIterator }))).Records!.filter((r) => r.PartitionKey === 'alpha').map((r) => text(r.Data))
    assert.deepEqual(await at('AT_SEQUENCE_NUMBER'), ['second', 'third'])
    assert.deepEqual(await at('AFTER_SEQUENCE_NUMBER'), ['third'])
    const ts = (await kinesis.send(new GetShardIteratorCommand({ StreamName: 'k', ShardId: one.ShardId, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(Date.now() - 60_000) }))).ShardIterator!
    assert.deepEqual((await kinesis.send(new GetRecordsCommand({ ShardIterator: ts }))).Records!.filter((r) => r.PartitionKey === 'alpha').map((r) => text(r.Data)), ['first', 'second', 'third'])
    // A start in the future is refused, as AWS refuses it (it would silently wait for that time).
    await rejectsWith(
      kinesis.send(new GetShardIteratorCommand({ StreamName: 'k', ShardId: one.ShardId, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(Date.now() + 3_600_000) })),
      'InvalidArgumentException',
      /The timestampInMillis parameter cannot be greater than the currentTimestampInMillis/,
    )
    const latest = (await kinesis.send(new GetShardIteratorCommand({ StreamName: 'k', ShardId: one.ShardId, ShardIteratorType: 'LATEST' }))).ShardIterator!
    await kinesis.send(new PutRecordCommand({ StreamARN: 'arn:aws:kinesis:eu-west-1:000000000000:stream/k', PartitionKey: 'alpha', Data: bytes('fourth') }))
    assert.deepEqual((await kinesis.send(new GetRecordsCommand({ ShardIterator: latest, Limit: 10 }))).Records!.map((r) => text(r.Data)), ['fourth'])
  })

  it('reads up to 10,000 records a call when GetRecords names no Limit, and refuses arguments that do not go together', async () => {
    // Made over REST for its write limits (the Kinesis API has none per stream): 1,500 records at once.
    await s.request('POST', '/v1/streams', { name: 'k-many', shardCount: 1, writeLimits: { recordsPerSecond: 10_000 } })
    for (let i = 0; i < 3; i++) {
      const r = await kinesis.send(new PutRecordsCommand({ StreamName: 'k-many', Records: Array.from({ length: 500 }, (_, j) => ({ PartitionKey: 'p', Data: bytes(`${i}-${j}`) })) }))
      assert.equal(r.FailedRecordCount, 0)
    }
    const it = (await kinesis.send(new GetShardIteratorCommand({ StreamName: 'k-many', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!
    assert.equal((await kinesis.send(new GetRecordsCommand({ ShardIterator: it }))).Records!.length, 1500)
    assert.equal((await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 7 }))).Records!.length, 7)
    // StreamARN is optional on GetRecords; given, it must name the iterator's stream.
    const arnOf = (name: string) => `arn:aws:kinesis:eu-west-1:000000000000:stream/${name}`
    assert.equal((await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 3, StreamARN: arnOf('k-many') }))).Records!.length, 3)
    await rejectsWith(kinesis.send(new GetRecordsCommand({ ShardIterator: it, StreamARN: arnOf('k') })), 'InvalidArgumentException', /StreamARN names stream k, but the shard iterator is for stream k-many/)
    await rejectsWith(kinesis.send(new GetRecordsCommand({ ShardIterator: it, StreamARN: 'arn:aws:s3:::bucket' })), 'ValidationException', /at 'streamARN'/)
    const seq = (await kinesis.send(new PutRecordCommand({ StreamName: 'k-many', PartitionKey: 'p', Data: bytes('x') }))).SequenceNumber
    await rejectsWith(
      kinesis.send(new GetShardIteratorCommand({ StreamName: 'k-many', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON', StartingSequenceNumber: seq })),
      'InvalidArgumentException',
      /Request specified TRIM_HORIZON and also a StartingSequenceNumber/,
    )
    // Far in the future (it once made a 500 on the read): refused when the iterator is asked for.
    await rejectsWith(
      kinesis.send(new GetShardIteratorCommand({ StreamName: 'k-many', ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(8.64e15) })),
      'InvalidArgumentException',
    )
  })

  it('shares records and sequence numbers with the REST API, both ways', async () => {
    const viaSdk = await kinesis.send(new PutRecordCommand({ StreamName: 'k', PartitionKey: 'cross', Data: bytes('from-sdk') }))
    const viaRest = await s.request('POST', '/v1/streams/k/records', { records: [{ partitionKey: 'cross', data: b64('from-rest') }] })
    const rest = await s.request('GET', `/v1/streams/k/shards/${viaSdk.ShardId}/records?from=AT_SEQUENCE_NUMBER&sequenceNumber=${viaSdk.SequenceNumber}`)
    assert.deepEqual(
      rest.body.records.map((r: any) => [r.sequenceNumber, Buffer.from(r.data, 'base64').toString()]),
      [
        [viaSdk.SequenceNumber, 'from-sdk'],
        [viaRest.body.records[0].sequenceNumber, 'from-rest'],
      ],
    )
    const it = (await kinesis.send(new GetShardIteratorCommand({ StreamName: 'k', ShardId: viaSdk.ShardId, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: viaRest.body.records[0].sequenceNumber }))).ShardIterator!
    const sdk = await kinesis.send(new GetRecordsCommand({ ShardIterator: it }))
    assert.equal(text(sdk.Records![0]!.Data), 'from-rest')
  })

  it('answers each error as AWS does', async () => {
    await rejectsWith(kinesis.send(new DescribeStreamCommand({ StreamName: 'nope' })), 'ResourceNotFoundException', /Stream nope under account 000000000000 not found/)
    await rejectsWith(kinesis.send(new CreateStreamCommand({ StreamName: 'k', ShardCount: 1 })), 'ResourceInUseException')
    await rejectsWith(kinesis.send(new CreateStreamCommand({ StreamName: 'bad name!', ShardCount: 0 })), 'ValidationException', /^2 validation errors detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: \[a-zA-Z0-9_.-\]\+; Value '0' at 'shardCount'/)
    await rejectsWith(kinesis.send(new CreateStreamCommand({ StreamName: 'big', ShardCount: 21 })), 'LimitExceededException')
    await rejectsWith(kinesis.send(new PutRecordsCommand({ StreamName: 'k', Records: Array.from({ length: 501 }, () => ({ PartitionKey: 'a', Data: bytes('x') })) })), 'ValidationException', /at 'records' failed to satisfy constraint: Member must have length less than or equal to 500/)
    await rejectsWith(kinesis.send(new PutRecordCommand({ StreamName: 'k', PartitionKey: 'p'.repeat(257), Data: bytes('x') })), 'ValidationException', /at 'partitionKey'/)
    await rejectsWith(kinesis.send(new PutRecordCommand({ StreamName: 'k', PartitionKey: 'p', Data: new Uint8Array(1024 * 1024 + 1) })), 'ValidationException', /at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576/)
    await rejectsWith(kinesis.send(new GetShardIteratorCommand({ StreamName: 'k', ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_SEQUENCE_NUMBER' })), 'InvalidArgumentException')
    await rejectsWith(kinesis.send(new GetShardIteratorCommand({ StreamName: 'k', ShardId: 'shardId-000000000009', ShardIteratorType: 'LATEST' })), 'ResourceNotFoundException', /Shard shardId-000000000009 in stream k/)
    await rejectsWith(kinesis.send(new GetRecordsCommand({ ShardIterator: 'not-an-iterator' })), 'InvalidArgumentException')
    const it = (await kinesis.send(new GetShardIteratorCommand({ StreamName: 'k', ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' }))).ShardIterator!
    clock = 6 * 60_000
    try {
      await rejectsWith(kinesis.send(new GetRecordsCommand({ ShardIterator: it })), 'ExpiredIteratorException')
    } finally {
      clock = 0
    }
    await kinesis.send(new CreateStreamCommand({ StreamName: 'k-slow', ShardCount: 1 }))
    await s.request('POST', '/v1/streams', { name: 'k-slow1', shardCount: 1, writeLimits: { recordsPerSecond: 1 } })
    await kinesis.send(new PutRecordCommand({ StreamName: 'k-slow1', PartitionKey: 'a', Data: bytes('1') }))
    await rejectsWith(kinesis.send(new PutRecordCommand({ StreamName: 'k-slow1', PartitionKey: 'a', Data: bytes('2') })), 'ProvisionedThroughputExceededException', /Rate exceeded for shard shardId-000000000000 in stream k-slow1/)
    const batch = await kinesis.send(new PutRecordsCommand({ StreamName: 'k-slow1', Records: [{ PartitionKey: 'a', Data: bytes('3') }] }))
    assert.equal(batch.FailedRecordCount, 1)
    assert.equal(batch.Records![0]!.ErrorCode, 'ProvisionedThroughputExceededException')

    const raw = async (target: string | undefined, body: string, headers: Record<string, string> = {}) => {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00ff',
          ...(target ? { 'x-amz-target': target } : {}),
          ...headers,
        },
        body,
      })
      return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as { __type: string; message: string } }
    }
    const unknown = await raw('Kinesis_20131202.SplitShardz', '{}')
    assert.equal(unknown.status, 400)
    assert.equal(unknown.body.__type, 'UnknownOperationException')
    assert.equal(unknown.type, 'application/x-amz-json-1.1', 'the content type as AWS sends it, no charset')
    assert.equal((await raw('Kinesis_20131202.ListStreams', '{}')).type, 'application/x-amz-json-1.1')
    assert.equal((await raw('Kinesis_20131202.CreateStream', '{"StreamName":"t","ShardCount":"1"}')).body.__type, 'SerializationException')
    assert.equal((await raw('Kinesis_20131202.ListStreams', '{not json')).body.__type, 'SerializationException')
    const unsigned = await raw('Kinesis_20131202.ListStreams', '{}', { authorization: '' })
    assert.equal(unsigned.status, 403)
    assert.equal(unsigned.body.__type, 'MissingAuthenticationTokenException')
    // Unknown members are ignored, as AWS ignores them.
    assert.equal((await raw('Kinesis_20131202.ListStreams', '{"Limit": 1, "SomethingNew": true}')).status, 200)
  })

  it("works with the SDK's default client, which speaks HTTP/2 to an http:// endpoint", async () => {
    const h2 = new KinesisClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: 'A', secretAccessKey: 'B' }, maxAttempts: 1 })
    try {
      await h2.send(new CreateStreamCommand({ StreamName: 'h2', ShardCount: 2 }))
      const puts = await Promise.all(
        Array.from({ length: 20 }, (_, i) => h2.send(new PutRecordCommand({ StreamName: 'h2', PartitionKey: `p${i}`, Data: bytes(`h2-${i}`) }))),
      )
      const got: string[] = []
      for (const shardId of ['shardId-000000000000', 'shardId-000000000001']) {
        const it = (await h2.send(new GetShardIteratorCommand({ StreamName: 'h2', ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!
        got.push(...(await h2.send(new GetRecordsCommand({ ShardIterator: it }))).Records!.map((r) => text(r.Data)))
      }
      assert.equal(puts.length, 20)
      assert.deepEqual(got.sort(), Array.from({ length: 20 }, (_, i) => `h2-${i}`).sort())
      await rejectsWith(h2.send(new DescribeStreamCommand({ StreamName: 'nope' })), 'ResourceNotFoundException')
    } finally {
      h2.destroy()
    }
  })

  it('changes retention, keeps tags and describes limits', async () => {
    await kinesis.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: 'k-b', RetentionPeriodHours: 168 }))
    assert.equal((await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'k-b' }))).StreamDescriptionSummary!.RetentionPeriodHours, 168)
    await rejectsWith(kinesis.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: 'k-b', RetentionPeriodHours: 48 })), 'InvalidArgumentException', /can not be shorter than existing retention period \(168 hours\)/)
    await kinesis.send(new DecreaseStreamRetentionPeriodCommand({ StreamName: 'k-b', RetentionPeriodHours: 48 }))
    assert.equal((await s.request('GET', '/v1/streams/k-b')).body.retentionHours, 48, 'the REST API sees the change')
    await rejectsWith(kinesis.send(new DecreaseStreamRetentionPeriodCommand({ StreamName: 'k-b', RetentionPeriodHours: 12 })), 'InvalidArgumentException', /Minimum allowed retention period is 24 hours/)

    await kinesis.send(new AddTagsToStreamCommand({ StreamName: 'k-b', Tags: { team: 'ingest', env: 'dev', tier: '' } }))
    await kinesis.send(new AddTagsToStreamCommand({ StreamName: 'k-b', Tags: { env: 'prod' } }))
    const page = await kinesis.send(new ListTagsForStreamCommand({ StreamName: 'k-b', Limit: 2 }))
    assert.deepEqual(page.Tags, [{ Key: 'env', Value: 'prod' }, { Key: 'team', Value: 'ingest' }])
    assert.equal(page.HasMoreTags, true)
    const rest = await kinesis.send(new ListTagsForStreamCommand({ StreamName: 'k-b', ExclusiveStartTagKey: 'team' }))
    assert.deepEqual(rest.Tags, [{ Key: 'tier', Value: '' }])
    assert.equal(rest.HasMoreTags, false)
    await kinesis.send(new RemoveTagsFromStreamCommand({ StreamName: 'k-b', TagKeys: ['team', 'absent'] }))
    assert.deepEqual((await kinesis.send(new ListTagsForStreamCommand({ StreamName: 'k-b' }))).Tags!.map((t) => t.Key), ['env', 'tier'])
    for (let i = 0; i < 4; i++) {
      await kinesis.send(new AddTagsToStreamCommand({ StreamName: 'k-b', Tags: Object.fromEntries(Array.from({ length: 10 }, (_, j) => [`t${i}-${j}`, 'v'])) }))
    }
    await rejectsWith(
      kinesis.send(new AddTagsToStreamCommand({ StreamName: 'k-b', Tags: Object.fromEntries(Array.from({ length: 9 }, (_, j) => [`x${j}`, 'v'])) })),
      'InvalidArgumentException',
      /cannot have more than 50 tags/,
    )
    await rejectsWith(kinesis.send(new ListTagsForStreamCommand({ StreamName: 'nope' })), 'ResourceNotFoundException')

    const limits = await kinesis.send(new DescribeLimitsCommand({}))
    assert.equal(limits.ShardLimit, 20)
    const open = (await s.request('GET', '/v1/streams?limit=1000')).body.streams.reduce((n: number, x: any) => n + x.shardCount, 0)
    assert.equal(limits.OpenShardCount, open)
  })

  it('speaks CBOR as the Java SDK and the KCL do: byte strings, and timestamps as tag 1 over integer epoch millis, both ways', async () => {
    const cbor = async (action: string, body: unknown) => {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-cbor-1.1',
          'x-amz-target': `Kinesis_20131202.${action}`,
          authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00ff',
        },
        body: typeof body === 'string' ? body : cborEncode(body),
      })
      assert.match(res.headers.get('content-type') ?? '', /^application\/x-amz-cbor-1\.1/)
      const raw = Buffer.from(await res.arrayBuffer())
      return { status: res.status, raw, body: cborDecode(raw) as any }
    }
    // What the Java SDK writes for a timestamp, and reads back: tag 1 (0xc1), then an integer of
    // milliseconds (0x1b: 8 bytes). A float here (RFC 8949's seconds) fails its Long.parseLong.
    const javaTimestamp = (ms: number) => new Tag(BigInt(ms), 1)
    const millisAfter = (raw: Buffer, member: string): number => {
      const at = raw.indexOf(member) + member.length
      assert.ok(at >= member.length, `${member} in the answer`)
      assert.deepEqual([raw[at], raw[at + 1]], [0xc1, 0x1b], `${member} as tag 1 over an 8-byte integer`)
      return Number(raw.readBigUInt64BE(at + 2))
    }
    assert.equal((await cbor('CreateStream', { StreamName: 'cb', ShardCount: 1 })).status, 200)
    const blob = Buffer.from([0, 1, 2, 254, 255])
    const put = await cbor('PutRecord', { StreamName: 'cb', PartitionKey: 'p', Data: blob })
    assert.equal(put.status, 200)
    assert.match(put.body.SequenceNumber, /^1\d{41}$/)
    const it = await cbor('GetShardIterator', { StreamName: 'cb', ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: javaTimestamp(Date.now() - 60_000) })
    assert.equal(it.status, 200)
    const got = await cbor('GetRecords', { ShardIterator: it.body.ShardIterator })
    assert.equal(got.status, 200)
    const record = got.body.Records[0]
    assert.ok(record.Data instanceof Uint8Array)
    assert.deepEqual([...record.Data], [...blob])
    assert.ok(Math.abs(millisAfter(got.raw, 'ApproximateArrivalTimestamp') - Date.now()) < 60_000)
    assert.equal(record.SequenceNumber, put.body.SequenceNumber)
    // Read as milliseconds: a start just after the record's arrival finds nothing, one in the future is refused.
    const arrived = millisAfter(got.raw, 'ApproximateArrivalTimestamp')
    await new Promise((resolve) => setTimeout(resolve, 5)) // so that arrived + 1 ms lies in the past
    const after = await cbor('GetShardIterator', { StreamName: 'cb', ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: javaTimestamp(arrived + 1) })
    assert.deepEqual((await cbor('GetRecords', { ShardIterator: after.body.ShardIterator })).body.Records, [])
    const future = await cbor('GetShardIterator', { StreamName: 'cb', ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: javaTimestamp(Date.now() + 3_600_000) })
    assert.equal(future.body.__type, 'InvalidArgumentException')
    const summary = await cbor('DescribeStreamSummary', { StreamName: 'cb' })
    assert.ok(Math.abs(millisAfter(summary.raw, 'StreamCreationTimestamp') - Date.now()) < 60_000)
    // KCL's start AT_TIMESTAMP lists shards with a timestamp filter.
    const shards = await cbor('ListShards', { StreamName: 'cb', ShardFilter: { Type: 'AT_TIMESTAMP', Timestamp: javaTimestamp(Date.now() - 1000) } })
    assert.equal(shards.status, 200)
    assert.deepEqual(shards.body.Shards.map((x: any) => x.ShardId), ['shardId-000000000000'])
    // The same record through the JSON protocol and the REST API.
    const rest = await s.request('GET', '/v1/streams/cb/shards/shardId-000000000000/records?from=TRIM_HORIZON')
    assert.equal(Buffer.from(rest.body.records[0].data, 'base64').toString('hex'), blob.toString('hex'))
    const missing = await cbor('DescribeStream', { StreamName: 'nope' })
    assert.equal(missing.status, 400)
    assert.equal(missing.body.__type, 'ResourceNotFoundException')
    const garbage = await cbor('ListStreams', '\xff\xff')
    assert.equal(garbage.body.__type, 'SerializationException')
  })

  it('creates a stream with its tags, and checks tags as AWS does', async () => {
    await kinesis.send(new CreateStreamCommand({ StreamName: 'k-tagged', ShardCount: 1, Tags: { team: 'ingest', 'cost-centre': '42 / eu' } }))
    assert.deepEqual((await kinesis.send(new ListTagsForStreamCommand({ StreamName: 'k-tagged' }))).Tags, [
      { Key: 'cost-centre', Value: '42 / eu' },
      { Key: 'team', Value: 'ingest' },
    ])
    await rejectsWith(kinesis.send(new CreateStreamCommand({ StreamName: 'k-badtag', ShardCount: 1, Tags: { 'a!b': 'x' } })), 'InvalidArgumentException', /Some tags contain invalid characters/)
    await rejectsWith(kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'k-badtag' })), 'ResourceNotFoundException', undefined)
    await rejectsWith(kinesis.send(new AddTagsToStreamCommand({ StreamName: 'k-tagged', Tags: { 'x#y': 'v' } })), 'InvalidArgumentException', /invalid characters/)
    await rejectsWith(kinesis.send(new RemoveTagsFromStreamCommand({ StreamName: 'k-tagged', TagKeys: [''] })), 'ValidationException', /at 'tagKeys'/)
    // The tags go with the stream: a new stream of the same name starts with none.
    await kinesis.send(new DeleteStreamCommand({ StreamName: 'k-tagged' }))
    await kinesis.send(new CreateStreamCommand({ StreamName: 'k-tagged', ShardCount: 1 }))
    assert.deepEqual((await kinesis.send(new ListTagsForStreamCommand({ StreamName: 'k-tagged' }))).Tags, [])
  })

  it('deletes a stream the waiter then sees gone', async () => {
    await kinesis.send(new DeleteStreamCommand({ StreamName: 'k-a' }))
    const waited = await waitUntilStreamNotExists({ client: kinesis, maxWaitTime: 30 }, { StreamName: 'k-a' })
    assert.equal(waited.state, 'SUCCESS')
    await rejectsWith(kinesis.send(new DeleteStreamCommand({ StreamName: 'k-a' })), 'ResourceNotFoundException')
  })
})
