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
import { decode as cborDecode, encode as cborEncode } from 'cbor-x'
import { b64, rejectsWith, startSluice, type Sluice } from './harness.js'

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
    const ts = (await kinesis.send(new GetShardIteratorCommand({ StreamName: 'k', ShardId: one.ShardId, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(Date.now() + 3_600_000) }))).ShardIterator!
    assert.deepEqual((await kinesis.send(new GetRecordsCommand({ ShardIterator: ts }))).Records, [])
    const latest = (await kinesis.send(new GetShardIteratorCommand({ StreamName: 'k', ShardId: one.ShardId, ShardIteratorType: 'LATEST' }))).ShardIterator!
    await kinesis.send(new PutRecordCommand({ StreamARN: 'arn:aws:kinesis:eu-west-1:000000000000:stream/k', PartitionKey: 'alpha', Data: bytes('fourth') }))
    assert.deepEqual((await kinesis.send(new GetRecordsCommand({ ShardIterator: latest, Limit: 10 }))).Records!.map((r) => text(r.Data)), ['fourth'])
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
    assert.match(unknown.type ?? '', /application\/x-amz-json-1\.1/)
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

  it('speaks CBOR (as the Java SDK and the KCL do): byte strings and tag-1 timestamps both ways', async () => {
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
      return { status: res.status, body: cborDecode(Buffer.from(await res.arrayBuffer())) as any }
    }
    assert.equal((await cbor('CreateStream', { StreamName: 'cb', ShardCount: 1 })).status, 200)
    const blob = Buffer.from([0, 1, 2, 254, 255])
    const put = await cbor('PutRecord', { StreamName: 'cb', PartitionKey: 'p', Data: blob })
    assert.equal(put.status, 200)
    assert.match(put.body.SequenceNumber, /^1\d{41}$/)
    const it = await cbor('GetShardIterator', { StreamName: 'cb', ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(Date.now() - 60_000) })
    const got = await cbor('GetRecords', { ShardIterator: it.body.ShardIterator })
    assert.equal(got.status, 200)
    const record = got.body.Records[0]
    assert.ok(record.Data instanceof Uint8Array)
    assert.deepEqual([...record.Data], [...blob])
    assert.ok(record.ApproximateArrivalTimestamp instanceof Date)
    assert.ok(Math.abs(record.ApproximateArrivalTimestamp.getTime() - Date.now()) < 60_000)
    assert.equal(record.SequenceNumber, put.body.SequenceNumber)
    // The same record through the JSON protocol and the REST API.
    const rest = await s.request('GET', '/v1/streams/cb/shards/shardId-000000000000/records?from=TRIM_HORIZON')
    assert.equal(Buffer.from(rest.body.records[0].data, 'base64').toString('hex'), blob.toString('hex'))
    const missing = await cbor('DescribeStream', { StreamName: 'nope' })
    assert.equal(missing.status, 400)
    assert.equal(missing.body.__type, 'ResourceNotFoundException')
    const garbage = await cbor('ListStreams', '\xff\xff')
    assert.equal(garbage.body.__type, 'SerializationException')
  })

  it('deletes a stream the waiter then sees gone', async () => {
    await kinesis.send(new DeleteStreamCommand({ StreamName: 'k-a' }))
    const waited = await waitUntilStreamNotExists({ client: kinesis, maxWaitTime: 30 }, { StreamName: 'k-a' })
    assert.equal(waited.state, 'SUCCESS')
    await rejectsWith(kinesis.send(new DeleteStreamCommand({ StreamName: 'k-a' })), 'ResourceNotFoundException')
  })
})
