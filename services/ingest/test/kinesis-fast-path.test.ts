/**
 * Kinesis puts take a short way in (src/kinesis/fast-path.ts) that must answer exactly as the
 * fastify route does. Two services, one with the fast path and one without, each on its own Redis
 * with the same streams, get the same requests over real HTTP/1.1 and HTTP/2; their answers, request
 * metrics and log lines must be the same, and the fast path must have taken exactly the requests it
 * is meant to take (the others go to fastify).
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { connect } from 'node:http2'
import { connect as netConnect } from 'node:net'
import { Writable } from 'node:stream'
import { fastPathOf } from '../src/app.js'
import { Lifecycle } from '../src/shutdown.js'
import { readAll, signKinesis, startSluice, type Sluice } from './harness.js'

const SIGV4 = 'AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/kinesis/aws4_request, SignedHeaders=host, Signature=00ff'
const MiB = 1024 * 1024

interface Answer {
  status: number
  headers: Record<string, string>
  body: string
}

interface Sent {
  target?: string
  body: string | Uint8Array
  headers?: Record<string, string | undefined>
  path?: string
}

/** The headers a Kinesis client reads, and the body with what differs between two services (sequence numbers, request ids) masked. */
function comparable(a: Answer): unknown {
  // Request ids too: both services see the same requests in the same order, so the same counter values.
  const pick = ['content-type', 'x-amzn-errortype', 'retry-after', 'content-length', 'connection', 'x-request-id', 'x-amzn-requestid']
  const headers = Object.fromEntries(pick.filter((h) => a.headers[h] !== undefined).map((h) => [h, a.headers[h]]))
  return { status: a.status, headers, body: a.body.replace(/"SequenceNumber":"\d+"/g, '"SequenceNumber":"<n>"') }
}

function headersOf(sent: Sent): Record<string, string> {
  const all: Record<string, string | undefined> = {
    'content-type': 'application/x-amz-json-1.1',
    authorization: SIGV4,
    'x-amz-target': `Kinesis_20131202.${sent.target ?? 'PutRecords'}`,
    ...sent.headers,
  }
  return Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined))
}

async function http1(base: string, sent: Sent): Promise<Answer> {
  // Without a length, the body goes chunked (fetch gives every other body one).
  const chunked = sent.headers !== undefined && 'content-length' in sent.headers
  const body = chunked ? new Blob([sent.body]).stream() : sent.body
  const res = await fetch(base + (sent.path ?? '/'), { method: 'POST', headers: headersOf(sent), body, ...(chunked ? { duplex: 'half' } : {}) } as RequestInit)
  return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() }
}

async function http2(base: string, sent: Sent): Promise<Answer> {
  const session = connect(base)
  try {
    return await new Promise<Answer>((resolve, reject) => {
      // A length, as the AWS SDK's HTTP/2 handler sends it (a body without one goes to fastify).
      const length = sent.headers && 'content-length' in sent.headers ? {} : { 'content-length': String(Buffer.byteLength(sent.body)) }
      const stream = session.request({ ':method': 'POST', ':path': sent.path ?? '/', ...length, ...headersOf(sent) })
      const chunks: Buffer[] = []
      let status = 0
      let headers: Record<string, string> = {}
      stream.on('response', (h) => {
        status = Number(h[':status'])
        headers = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(':')).map(([k, v]) => [k, String(v)]))
      })
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks).toString('utf8') }))
      stream.on('error', reject)
      stream.end(sent.body)
    })
  } finally {
    session.close()
  }
}

const put = (records: Array<Record<string, unknown>>, stream = 'target'): string => JSON.stringify({ StreamName: stream, Records: records })
const record = (i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ PartitionKey: `k${i}`, Data: Buffer.from(`r${i}`).toString('base64'), ...extra })

/**
 * Requests the fast path takes; each is answered by both services and compared. `slow`: a stream
 * that takes 1 record a second, fresh for each round.
 */
const taken = (slow: string): Array<[string, Sent]> => [
  ['one record', { body: put([record(1)]) }],
  ['records with explicit hash keys', { body: put([record(2, { ExplicitHashKey: '0' }), record(3, { ExplicitHashKey: '340282366920938463463374607431768211455' }), record(4)]) }],
  ['PutRecord with SequenceNumberForOrdering', { target: 'PutRecord', body: JSON.stringify({ StreamName: 'target', ...record(5), SequenceNumberForOrdering: '0' }) }],
  ['JSON 1.0', { body: put([record(6)]), headers: { 'content-type': 'application/x-amz-json-1.0' } }],
  ['the client’s request id', { body: put([record(7)]), headers: { 'x-request-id': 'mine-123' } }],
  ['an unknown stream', { target: 'PutRecord', body: JSON.stringify({ StreamName: 'nope', ...record(8) }) }],
  ['a stream named by ARN', { body: JSON.stringify({ StreamARN: 'arn:aws:kinesis:eu-west-1:000000000000:stream/target', Records: [record(9)] }) }],
  ['not JSON', { body: '{not json' }],
  ['an empty body', { body: '' }],
  ['null', { body: 'null' }],
  ['an array', { body: '[]' }],
  ['invalid UTF-8', { body: Buffer.concat([Buffer.from('{"StreamName":"target","Records":[{"PartitionKey":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","Data":"AAAA"}]}')]) }],
  ['a __proto__ member', { body: '{"StreamName":"target","Records":[{"PartitionKey":"k","Data":"AAAA","__proto__":{}}]}' }],
  ['Data not base64', { body: put([record(10, { Data: '@@@@' })]) }],
  ['a record of the wrong type', { body: put(['AAAA' as unknown as Record<string, unknown>]) }],
  ['no records', { body: put([]) }],
  ['501 records', { body: put(Array.from({ length: 501 }, (_, i) => record(i))) }],
  ['over 5 MiB of records', { body: put(Array.from({ length: 5 }, (_, i) => record(i, { Data: Buffer.alloc(MiB, i).toString('base64') }))) }],
  ['no Authorization header', { body: put([record(11)]), headers: { authorization: undefined } }],
  ['an Authorization header without a signature', { body: put([record(12)]), headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/kinesis/aws4_request' } }],
  ['a throttled PutRecord: first', { target: 'PutRecord', body: JSON.stringify({ StreamName: slow, ...record(13) }) }],
  ['a throttled PutRecord: second', { target: 'PutRecord', body: JSON.stringify({ StreamName: slow, ...record(14) }) }],
  ['a throttled PutRecords', { body: put([record(15)], slow) }],
]

/** Requests it leaves to fastify. */
const LEFT: Array<[string, Sent]> = [
  ['another action', { target: 'DescribeLimits', body: '{}' }],
  ['CBOR', { body: new Uint8Array([0xa0]), headers: { 'content-type': 'application/x-amz-cbor-1.1' } }],
  ['a charset parameter', { body: put([record(20)]), headers: { 'content-type': 'application/x-amz-json-1.1; charset=utf-8' } }],
  ['a compressed body', { body: put([record(21)]), headers: { 'content-encoding': 'gzip' } }],
  ['a query string', { body: put([record(22)]), path: '/?x=1' }],
  ['no Content-Length (HTTP/1.1: chunked)', { body: put([record(23)]), headers: { 'content-length': undefined } }],
]

describe('Kinesis puts: the fast path answers as the fastify route does', () => {
  let fast: Sluice
  let slow: Sluice
  const lifecycle = new Lifecycle()
  const logs = { fast: [] as string[], slow: [] as string[] }
  const collect = (into: string[]): Writable =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        into.push(...chunk.toString('utf8').split('\n').filter(Boolean))
        done()
      },
    })

  before(async () => {
    const env = { SLUICE_LOG_LEVEL: 'debug' }
    ;[fast, slow] = await Promise.all([
      startSluice({ env, logStream: collect(logs.fast), lifecycle }),
      startSluice({ env, logStream: collect(logs.slow), kinesisFastPath: false }),
    ])
    for (const s of [fast, slow]) {
      assert.equal((await s.request('POST', '/v1/streams', { name: 'target', shardCount: 3 })).status, 201)
      for (const name of ['slow-HTTP/1.1', 'slow-HTTP/2', 'slow-spot'].map((n) => n.replace(/[/.]/g, '_'))) {
        assert.equal((await s.request('POST', '/v1/streams', { name, shardCount: 1, writeLimits: { recordsPerSecond: 1 } })).status, 201)
      }
    }
  })
  after(async () => {
    await Promise.all([fast?.close(), slow?.close()])
  })

  it('takes the puts it is meant to take, and answers each as fastify does, over HTTP/1.1 and HTTP/2', async () => {
    assert.ok(fastPathOf.get(fast.app), 'the service has a fast path')
    assert.equal(fastPathOf.get(slow.app), undefined)
    let expected = 0
    for (const [protocol, send] of [['HTTP/1.1', http1], ['HTTP/2', http2]] as const) {
      for (const [name, sent] of taken(`slow-${protocol}`.replace(/[/.]/g, '_'))) {
        const before = fastPathOf.get(fast.app)!.taken
        const a = await send(fast.url, sent)
        const b = await send(slow.url, sent)
        assert.equal(fastPathOf.get(fast.app)!.taken, before + 1, `${protocol} ${name}: taken by the fast path`)
        expected++
        assert.deepEqual(comparable(a), comparable(b), `${protocol} ${name}`)
        assert.match(a.headers['x-request-id'] ?? '', sent.headers?.['x-request-id'] ? /^mine-123$/ : /^req-[0-9a-z]+$/, `${protocol} ${name}: the request id`)
      }
      for (const [name, sent] of LEFT) {
        const a = await send(fast.url, sent)
        const b = await send(slow.url, sent)
        assert.deepEqual(comparable(a), comparable(b), `${protocol} ${name}`)
      }
      assert.equal(fastPathOf.get(fast.app)!.taken, expected, `${protocol}: the others went to fastify`)
    }
    // The same records were written, and nothing for the refused requests.
    for (const [stream, shards] of [['target', 3], ['slow-HTTP_1_1', 1], ['slow-HTTP_2', 1]] as const) {
      const stored = async (s: Sluice) => {
        const out: string[] = []
        for (let i = 0; i < shards; i++) {
          for (const r of await readAll(s, stream, `shardId-00000000000${i}`)) out.push(`${i} ${r.partitionKey} ${r.data}`)
        }
        return out
      }
      const written = await stored(fast)
      assert.ok(written.length > 0)
      assert.deepEqual(written, await stored(slow), stream)
    }
    // The answers are what a client relies on, not merely equal: a spot check (on both, so that
    // their metrics stay comparable).
    for (const s of [fast, slow]) {
      const ok = JSON.parse((await http1(s.url, taken('')[1]![1])).body) as { FailedRecordCount: number; Records: Array<{ SequenceNumber: string; ShardId: string }> }
      assert.equal(ok.FailedRecordCount, 0)
      assert.deepEqual(ok.Records.map((r) => r.ShardId).slice(0, 2), ['shardId-000000000000', 'shardId-000000000002'], 'explicit hash keys 0 and 2^128-1')
      assert.ok(BigInt(ok.Records[0]!.SequenceNumber) > 0n)
      const spot = taken('slow-spot')
      assert.equal((await http1(s.url, spot[20]![1])).status, 200)
      const throttled = await http1(s.url, spot[21]![1])
      assert.equal(throttled.status, 400)
      assert.equal(JSON.parse(throttled.body).__type, 'ProvisionedThroughputExceededException')
    }
  })

  it('closes an HTTP/1.1 connection after a body it cannot parse, as fastify does: a request pipelined behind it is not answered', async () => {
    const pipelined = (base: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const url = new URL(base)
        const socket = netConnect(Number(url.port), url.hostname)
        const request = (body: string): string =>
          `POST / HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\n` +
          `Authorization: ${SIGV4}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
        let got = ''
        socket.setEncoding('utf8')
        socket.on('data', (d: string) => (got += d))
        socket.on('close', () => resolve(got))
        socket.on('error', reject)
        socket.setTimeout(5000, () => socket.destroy(new Error(`still open after 5 s; got: ${got}`)))
        socket.write(request('{not json') + request(put([record(40)])))
      })
    const before = fastPathOf.get(fast.app)!.taken
    const [a, b] = [await pipelined(fast.url), await pipelined(slow.url)]
    // Node hands both requests to the server (it parses ahead) but sends only the first answer.
    assert.equal(fastPathOf.get(fast.app)!.taken, before + 2)
    for (const got of [a, b]) {
      assert.equal(got.match(/^HTTP\/1\.1 /gm)?.length, 1, got)
      assert.match(got, /^HTTP\/1\.1 400 /)
      assert.match(got, /\r\nconnection: close\r\n/i)
    }
    // Whatever became of the second put, it became of it on both.
    const k40 = async (s: Sluice) => {
      let n = 0
      for (const shard of ['0', '1', '2']) n += (await readAll(s, 'target', `shardId-00000000000${shard}`)).filter((r) => r.partitionKey === 'k40').length
      return n
    }
    assert.equal(await k40(fast), await k40(slow))
  })

  it('a client that goes away mid-body is nobody’s internal error, either way in', async () => {
    /**
     * Sends headers and part of a body, and hangs up once the server has the request; resolves when
     * the server has seen the request end (its error handling, and any log line, runs before that).
     */
    const abort = (s: Sluice): Promise<void> =>
      new Promise((resolve, reject) => {
        const url = new URL(s.url)
        const socket = netConnect(Number(url.port), url.hostname)
        s.app.server.once('request', (req: IncomingMessage) => {
          req.once('close', () => setImmediate(resolve))
          socket.destroy()
        })
        socket.on('error', reject)
        socket.write(
          `POST / HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\n` +
            `Authorization: ${SIGV4}\r\nContent-Length: 1000\r\n\r\n{"StreamName":"target",`,
        )
      })
    const errors = (all: string[]) => all.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)
    const before = fastPathOf.get(fast.app)!.taken
    await abort(fast)
    await abort(slow)
    assert.equal(fastPathOf.get(fast.app)!.taken, before + 1)
    assert.deepEqual(errors(logs.fast), [])
    assert.deepEqual(errors(logs.slow), [])
  })

  it('leaves puts to fastify while the service drains (fastify answers them with Connection: close)', async () => {
    const before = fastPathOf.get(fast.app)!.taken
    lifecycle.draining = true
    try {
      const a = await http1(fast.url, { body: put([record(41)]) })
      assert.equal(a.status, 200)
      assert.equal(a.headers.connection, 'close')
      assert.equal(fastPathOf.get(fast.app)!.taken, before)
    } finally {
      lifecycle.draining = false
    }
    assert.equal((await http1(fast.url, { body: put([record(42)]) })).status, 200)
    assert.equal(fastPathOf.get(fast.app)!.taken, before + 1)
    // The other service gets the same requests, for the comparisons below.
    for (const r of [41, 42]) assert.equal((await http1(slow.url, { body: put([record(r)]) })).status, 200)
  })

  it('counts its requests in the request metric and logs them as fastify does', async () => {
    const series = async (s: Sluice) =>
      (await s.request('GET', '/metrics')).text
        .split('\n')
        .filter((l) => l.startsWith('sluice_http_request_duration_seconds_count{') && l.includes('route="/"'))
        .sort()
    const fastSeries = await series(fast)
    assert.ok(fastSeries.some((l) => l.includes('status="200"')) && fastSeries.some((l) => l.includes('status="400"')), fastSeries.join('\n'))
    assert.deepEqual(fastSeries, await series(slow))

    // Every line about a request (request ids included: the same requests in the same order), all
    // but the time it took.
    const lines = (all: string[]) =>
      all
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.reqId !== undefined)
        .map(({ time: _time, pid: _pid, hostname: _host, responseTimeMs, ...l }): Record<string, unknown> => ({ ...l, responseTimeMs: typeof responseTimeMs }))
    const fastLines = lines(logs.fast)
    assert.ok(fastLines.filter((l) => l.route === '/').length >= 2 * taken('').length, `${fastLines.length} request lines`)
    assert.deepEqual(fastLines, lines(logs.slow))
  })

  it('answers ServiceUnavailable with Retry-After when Redis is gone, as fastify does', async () => {
    await Promise.all([fast.redis.kill(), slow.redis.kill()])
    const sent: Sent = { body: put([record(30)]) }
    const before = fastPathOf.get(fast.app)!.taken
    const [a, b] = [await http1(fast.url, sent), await http1(slow.url, sent)]
    assert.equal(fastPathOf.get(fast.app)!.taken, before + 1)
    assert.equal(a.status, 503)
    assert.deepEqual({ ...a.headers, date: '', 'x-request-id': '', 'x-amzn-requestid': '', 'content-length': '' }, { ...b.headers, date: '', 'x-request-id': '', 'x-amzn-requestid': '', 'content-length': '' })
    assert.equal(a.headers['retry-after'], '1')
    assert.equal(JSON.parse(a.body).__type, 'ServiceUnavailable')
    assert.equal(JSON.parse(b.body).__type, 'ServiceUnavailable')
    const series = async (s: Sluice) => (await s.request('GET', '/metrics')).text.split('\n').filter((l) => l.startsWith('sluice_http_request_duration_seconds_count{route="/"'))
    const fastSeries = await series(fast)
    assert.ok(fastSeries.some((l) => l.includes('status="503"} 1')), fastSeries.join('\n'))
    assert.deepEqual(fastSeries, await series(slow))
  })
})

describe('Kinesis puts: the fast path with auth on', () => {
  const KEY = { id: 'AKIASLUICEWRITER0001', secret: 'writer-secret-0123456789abcdef' }
  const ADMIN = { id: 'AKIASLUICEADMIN00001', secret: 'admin-secret-0123456789abcdef' }
  const credentials = JSON.stringify({
    [KEY.id]: { secretAccessKey: KEY.secret, scopes: ['write:signed-*'] },
    [ADMIN.id]: { secretAccessKey: ADMIN.secret, scopes: ['admin:*'] },
  })
  const services: Sluice[] = []
  after(async () => {
    await Promise.all(services.map((s) => s.close()))
  })

  it('is off without AWS keys to verify signatures with: every Kinesis request is refused, as before', async () => {
    const s = await startSluice({ env: { SLUICE_AUTH: 'on' } })
    services.push(s)
    assert.equal(fastPathOf.get(s.app), undefined)
    const a = await http1(s.url, { body: put([record(1)]) })
    assert.equal(a.status, 400)
    assert.equal(JSON.parse(a.body).__type, 'UnrecognizedClientException')
  })

  it('verifies signatures as the route does: signed puts are taken and accepted; forged, tampered, unsigned and out-of-scope ones refused alike', async () => {
    const env = { SLUICE_AUTH: 'on', SLUICE_AWS_CREDENTIALS: credentials }
    const [fast, slow] = await Promise.all([startSluice({ env }), startSluice({ env, kinesisFastPath: false })])
    services.push(fast, slow)
    const sign = (base: string, target: string, body: string, key = KEY) => signKinesis(base, key, { target, body, region: 'eu-west-1' })
    const signedPut = async (base: string, stream: string, opts: { secret?: string; tamper?: boolean } = {}): Promise<Sent> => {
      const body = put([record(1)], stream)
      const headers = await sign(base, 'PutRecords', body, opts.secret === undefined ? KEY : { ...KEY, secret: opts.secret })
      return { body: opts.tamper ? put([record(2)], stream) : body, headers: { ...headers, host: undefined } }
    }
    const cases: Array<[string, (base: string) => Promise<Sent>, number]> = [
      ['signed', (base) => signedPut(base, 'signed-1'), 200],
      ['a wrong secret', (base) => signedPut(base, 'signed-1', { secret: 'not-the-secret-0123456789' }), 400],
      ['a body changed after signing', (base) => signedPut(base, 'signed-1', { tamper: true }), 400],
      ['no scope on the stream', (base) => signedPut(base, 'other-1'), 400],
      ['unsigned', async () => ({ body: put([record(3)], 'signed-1') }), 403],
    ]
    // Streams made over REST would need an API key: they are made over Kinesis, signed.
    for (const s of [fast, slow]) {
      for (const name of ['signed-1', 'other-1']) {
        const body = JSON.stringify({ StreamName: name, ShardCount: 1 })
        const res = await fetch(s.url + '/', { method: 'POST', headers: await sign(s.url, 'CreateStream', body, ADMIN), body })
        assert.equal(res.status, 200, await res.text())
      }
    }
    for (const [name, make, status] of cases) {
      const before = fastPathOf.get(fast.app)!.taken
      const a = await http1(fast.url, await make(fast.url))
      const b = await http1(slow.url, await make(slow.url))
      assert.equal(fastPathOf.get(fast.app)!.taken, before + 1, `${name}: taken`)
      assert.equal(a.status, status, `${name}: ${a.body}`)
      assert.deepEqual(comparable(a), comparable(b), name)
    }
  })
})
