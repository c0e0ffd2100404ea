/**
 * SigV4 verification on the Kinesis endpoint (SLUICE_AWS_CREDENTIALS): the AWS SDK (default HTTP/2
 * handler and HTTP/1.1) and the AWS CLI sign with the configured keys and get in; a wrong secret,
 * an unknown key, a stale clock or a body changed after signing are refused with AWS's errors; and
 * each access key's scopes decide, per action, which streams it may touch — before any lookup.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListStreamsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  waitUntilStreamExists,
  type KinesisClientConfig,
} from '@aws-sdk/client-kinesis'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { encode as cborEncode } from 'cbor-x'
import { rejectsWith, signKinesis, startSluice, type Sluice } from './harness.js'

const run = promisify(execFile)
const bytes = (text: string) => new TextEncoder().encode(text)

const KEYS = {
  admin: { id: 'AKIASLUICEADMIN00001', secret: 'admin-secret-0123456789abcdef', scopes: ['admin:*'] },
  writer: { id: 'AKIASLUICEWRITER0001', secret: 'writer-secret-0123456789abcdef', scopes: ['write:orders-*', 'read:orders-*'] },
  reader: { id: 'AKIASLUICEREADER0001', secret: 'reader-secret-0123456789abcdef', scopes: ['read:orders-1'] },
  stranger: { id: 'AKIASLUICESTRANGER01', secret: 'stranger-secret-0123456789abcd', scopes: ['read:elsewhere'] },
}

describe('SigV4 verification on the Kinesis endpoint', () => {
  let s: Sluice
  const clients: KinesisClient[] = []
  const client = (key: { id: string; secret: string }, extra: Partial<KinesisClientConfig> = {}): KinesisClient => {
    const c = new KinesisClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: key.id, secretAccessKey: key.secret }, maxAttempts: 1, ...extra })
    clients.push(c)
    return c
  }
  /** A request signed by @smithy/signature-v4 and sent with fetch, so a test can change it after signing. */
  const signed = async (
    key: { id: string; secret: string },
    operation: string,
    body: Uint8Array,
    opts: {
      contentType?: string
      tamper?: (b: Uint8Array) => Uint8Array
      date?: Date
      /** send this X-Amz-Target instead of the signed one; with `unsignedTarget`, sign none */
      sendOperation?: string
      unsignedTarget?: boolean
    } = {},
  ): Promise<{ status: number; type: string | undefined; body: any }> => {
    const signed = await signKinesis(s.url, key, { target: opts.unsignedTarget ? undefined : operation, body, ...(opts.contentType ? { contentType: opts.contentType } : {}), ...(opts.date ? { date: opts.date } : {}) })
    const headers = { ...signed, 'x-amz-target': `Kinesis_20131202.${opts.sendOperation ?? operation}` }
    const res = await fetch(s.url + '/', { method: 'POST', headers, body: opts.tamper ? opts.tamper(body) : body })
    const text = await res.text()
    let parsed: any
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = text
    }
    return { status: res.status, type: parsed?.__type, body: parsed }
  }
  const json = (v: unknown) => bytes(JSON.stringify(v))

  before(async () => {
    const credentials: Record<string, { secretAccessKey: string; scopes: string[] }> = {}
    for (const k of Object.values(KEYS)) credentials[k.id] = { secretAccessKey: k.secret, scopes: k.scopes }
    s = await startSluice({
      env: { SLUICE_AUTH: 'on', SLUICE_AWS_CREDENTIALS: JSON.stringify(credentials), SLUICE_SHARD_READS_PER_SECOND: '1000' },
    })
    const admin = client(KEYS.admin)
    for (const name of ['orders-1', 'orders-2', 'secret-1']) {
      await admin.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }))
      await waitUntilStreamExists({ client: admin, maxWaitTime: 30 }, { StreamName: name })
    }
  })
  after(async () => {
    for (const c of clients) c.destroy()
    await s.close()
  })

  it('the SDK signs with a configured key and gets in, over HTTP/2 (default handler) and HTTP/1.1', async () => {
    const h2 = client(KEYS.writer)
    const h1 = client(KEYS.writer, { requestHandler: new NodeHttpHandler() })
    const a = await h2.send(new PutRecordCommand({ StreamName: 'orders-1', PartitionKey: 'p', Data: bytes('over h2') }))
    const b = await h1.send(new PutRecordsCommand({ StreamName: 'orders-2', Records: [{ PartitionKey: 'p', Data: bytes('over h1') }] }))
    assert.ok(a.SequenceNumber)
    assert.equal(b.FailedRecordCount, 0)
    const reader = client(KEYS.reader)
    const it = await reader.send(new GetShardIteratorCommand({ StreamName: 'orders-1', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))
    const got = await reader.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator! }))
    assert.deepEqual(got.Records?.map((r) => new TextDecoder().decode(r.Data)), ['over h2'])
  })

  it('refuses a wrong secret, an unknown key and a stale clock with AWS errors', async () => {
    await rejectsWith(client({ id: KEYS.admin.id, secret: 'not-the-secret-0123456789' }).send(new ListStreamsCommand({})), 'InvalidSignatureException', /signature we calculated does not match/)
    await rejectsWith(client({ id: 'AKIANOBODY0000000001', secret: 'whatever-0123456789' }).send(new ListStreamsCommand({})), 'UnrecognizedClientException', /security token included in the request is invalid/)
    // The SDK signs with its clock plus this offset: ten minutes behind, then ten ahead.
    await rejectsWith(client(KEYS.admin, { systemClockOffset: -10 * 60_000 }).send(new ListStreamsCommand({})), 'InvalidSignatureException', /Signature expired: \d{8}T\d{6}Z is now earlier than/)
    await rejectsWith(client(KEYS.admin, { systemClockOffset: 10 * 60_000 }).send(new ListStreamsCommand({})), 'InvalidSignatureException', /Signature not yet current/)
    // Four minutes off is inside the allowed skew.
    const near = await client(KEYS.admin, { systemClockOffset: -4 * 60_000 }).send(new ListStreamsCommand({}))
    assert.ok(near.StreamNames?.includes('orders-1'))
  })

  it('a body changed after signing is refused, and nothing is written', async () => {
    const body = json({ StreamName: 'orders-2', PartitionKey: 'p', Data: Buffer.from('signed').toString('base64') })
    const ok = await signed(KEYS.writer, 'PutRecord', body)
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    const tampered = await signed(KEYS.writer, 'PutRecord', body, {
      tamper: () => json({ StreamName: 'orders-2', PartitionKey: 'p', Data: Buffer.from('forged').toString('base64') }),
    })
    assert.equal(tampered.status, 400)
    assert.equal(tampered.type, 'InvalidSignatureException')
    const reader = client(KEYS.writer)
    const it = await reader.send(new GetShardIteratorCommand({ StreamName: 'orders-2', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))
    const got = await reader.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator! }))
    assert.deepEqual(got.Records?.map((r) => new TextDecoder().decode(r.Data)), ['over h1', 'signed'])
  })

  it('verifies CBOR bodies too (what the Java SDK and the KCL send)', async () => {
    const body = new Uint8Array(cborEncode({ StreamName: 'orders-1' }))
    const ok = await signed(KEYS.reader, 'DescribeStreamSummary', body, { contentType: 'application/x-amz-cbor-1.1' })
    assert.equal(ok.status, 200)
    const bad = await signed(KEYS.reader, 'DescribeStreamSummary', body, { contentType: 'application/x-amz-cbor-1.1', tamper: () => new Uint8Array(cborEncode({ StreamName: 'orders-2' })) })
    assert.equal(bad.status, 400)
  })

  it('the operation is part of what is signed: a signed request replayed as another operation is refused', async () => {
    const body = json({ StreamName: 'orders-2' })
    const replayed = await signed(KEYS.admin, 'DescribeStreamSummary', body, { sendOperation: 'DeleteStream' })
    assert.equal(replayed.status, 400)
    assert.equal(replayed.type, 'InvalidSignatureException')
    // Signed without the target at all: refused before anything runs.
    const unsigned = await signed(KEYS.admin, 'DeleteStream', body, { unsignedTarget: true })
    assert.equal(unsigned.status, 403)
    assert.equal(unsigned.type, 'IncompleteSignatureException')
    assert.equal((await client(KEYS.admin).send(new DescribeStreamSummaryCommand({ StreamName: 'orders-2' }))).StreamDescriptionSummary?.StreamStatus, 'ACTIVE')
  })

  it('a missing or malformed Authorization header gets AWS’s answer', async () => {
    const res = await fetch(s.url + '/', { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.ListStreams' }, body: '{}' })
    assert.equal(res.status, 403)
    assert.equal(((await res.json()) as { __type: string }).__type, 'MissingAuthenticationTokenException')
    const partial = await fetch(s.url + '/', {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.ListStreams', authorization: `AWS4-HMAC-SHA256 Credential=${KEYS.admin.id}/20260101/us-east-1/kinesis/aws4_request` },
      body: '{}',
    })
    assert.equal(partial.status, 403)
    assert.equal(((await partial.json()) as { __type: string }).__type, 'IncompleteSignatureException')
  })

  it('scopes decide per action and stream, and a denial does not say whether the stream exists', async () => {
    const writer = client(KEYS.writer)
    const reader = client(KEYS.reader)
    await rejectsWith(writer.send(new PutRecordCommand({ StreamName: 'secret-1', PartitionKey: 'p', Data: bytes('x') })), 'AccessDeniedException', /not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:000000000000:stream\/secret-1/)
    await rejectsWith(writer.send(new CreateStreamCommand({ StreamName: 'orders-3', ShardCount: 1 })), 'AccessDeniedException')
    await rejectsWith(writer.send(new ListStreamsCommand({})), 'AccessDeniedException', /stream\/\*/)
    await rejectsWith(reader.send(new PutRecordCommand({ StreamName: 'orders-1', PartitionKey: 'p', Data: bytes('x') })), 'AccessDeniedException')
    // Denied alike whether the stream exists or not; allowed, the truth.
    await rejectsWith(reader.send(new DescribeStreamSummaryCommand({ StreamName: 'orders-2' })), 'AccessDeniedException')
    await rejectsWith(reader.send(new DescribeStreamSummaryCommand({ StreamName: 'orders-404' })), 'AccessDeniedException')
    await rejectsWith(writer.send(new DescribeStreamSummaryCommand({ StreamName: 'orders-404' })), 'ResourceNotFoundException')
    // An iterator names its stream: one of a stream the caller may not read is refused.
    const admin = client(KEYS.admin)
    const it = await admin.send(new GetShardIteratorCommand({ StreamName: 'secret-1', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))
    await rejectsWith(reader.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator! })), 'AccessDeniedException', /stream\/secret-1/)
  })

  it('every action: a key scoped elsewhere is denied; the admin key is not', async () => {
    const admin = client(KEYS.admin)
    const it = await admin.send(new GetShardIteratorCommand({ StreamName: 'orders-1', ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' }))
    const bodies: Record<string, Record<string, unknown>> = {
      CreateStream: { StreamName: 'orders-9', ShardCount: 1 },
      DeleteStream: { StreamName: 'orders-9' },
      DescribeStream: { StreamName: 'orders-1' },
      DescribeStreamSummary: { StreamName: 'orders-1' },
      ListStreams: {},
      ListShards: { StreamName: 'orders-1' },
      PutRecord: { StreamName: 'orders-1', PartitionKey: 'p', Data: 'AA==' },
      PutRecords: { StreamName: 'orders-1', Records: [{ PartitionKey: 'p', Data: 'AA==' }] },
      GetShardIterator: { StreamName: 'orders-1', ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' },
      GetRecords: { ShardIterator: it.ShardIterator },
      IncreaseStreamRetentionPeriod: { StreamName: 'orders-1', RetentionPeriodHours: 48 },
      DecreaseStreamRetentionPeriod: { StreamName: 'orders-1', RetentionPeriodHours: 24 },
      AddTagsToStream: { StreamName: 'orders-1', Tags: { team: 'a' } },
      RemoveTagsFromStream: { StreamName: 'orders-1', TagKeys: ['team'] },
      ListTagsForStream: { StreamName: 'orders-1' },
    }
    const results: string[] = []
    for (const [operation, body] of Object.entries(bodies)) {
      const denied = await signed(KEYS.stranger, operation, json(body))
      assert.equal(denied.type, 'AccessDeniedException', `${operation} for a key scoped elsewhere: ${JSON.stringify(denied.body)}`)
      const allowed = await signed(KEYS.admin, operation, json(body))
      assert.equal(allowed.status, 200, `${operation} for the admin key: ${JSON.stringify(allowed.body)}`)
      results.push(`${operation}: denied ${denied.status}, admin ${allowed.status}`)
    }
    // DescribeLimits names no stream: any configured key may ask.
    assert.equal((await signed(KEYS.stranger, 'DescribeLimits', json({}))).status, 200)
  })

  it('the AWS CLI signs and gets in with a configured key; with a wrong secret it is refused', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sluice-awscli-sig-'))
    const env = (secret: string) => ({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      AWS_ACCESS_KEY_ID: KEYS.admin.id,
      AWS_SECRET_ACCESS_KEY: secret,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_PAGER: '',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_MAX_ATTEMPTS: '1',
    })
    try {
      const ok = await run('aws', ['--endpoint-url', s.url, '--output', 'json', 'kinesis', 'list-streams'], { env: env(KEYS.admin.secret), timeout: 60_000 })
      assert.ok(JSON.parse(ok.stdout).StreamNames.includes('orders-1'))
      await assert.rejects(run('aws', ['--endpoint-url', s.url, '--output', 'json', 'kinesis', 'list-streams'], { env: env('wrong-secret-0123456789'), timeout: 60_000 }), (err: { stderr: string }) => {
        assert.match(err.stderr, /InvalidSignatureException/)
        return true
      })
    } finally {
      rmSync(home, { recursive: true, force: true })
    }
  })

  it('the REST API keeps asking for API keys', async () => {
    const res = await s.request('GET', '/v1/streams')
    assert.equal(res.status, 401)
  })
})

describe('SLUICE_AWS_CREDENTIALS is checked at start', () => {
  it('names every problem', async () => {
    const { loadConfig } = await import('../src/config.js')
    assert.throws(
      () => loadConfig({ SLUICE_AWS_CREDENTIALS: JSON.stringify({ short: { secretAccessKey: 'x', scopes: ['fly:*'] } }) }),
      (err: Error) => {
        assert.match(err.message, /an access key id is 16 to 128 letters and digits/)
        assert.match(err.message, /secretAccessKey must be a string of at least 16 characters/)
        assert.match(err.message, /not a scope: "fly:\*"/)
        return true
      },
    )
    assert.throws(() => loadConfig({ SLUICE_AWS_CREDENTIALS: '{not json' }), /must be a JSON object/)
    assert.throws(() => loadConfig({ SLUICE_AWS_CREDENTIALS: '@/nonexistent/creds.json' }), /cannot read \/nonexistent\/creds.json/)
  })
})
