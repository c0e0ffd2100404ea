/**
 * Starts the ingest app in-process against a real redis-server from testkit, listening on a free
 * port, and gives tests a small JSON HTTP client.
 */
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { fileURLToPath } from 'node:url'
import { SignatureV4 } from '@smithy/signature-v4'
import type { GetRecordsResponse, StreamRecord } from '@sluice/protocol'
import { startProcess, startRedis, type ChildHandle, type RedisServer } from '@sluice/testkit'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import type { Lifecycle } from '../src/shutdown.js'

export interface HttpAnswer<T = any> {
  status: number
  headers: Headers
  body: T
  text: string
}

export interface Sluice {
  url: string
  app: FastifyInstance
  redis: RedisServer
  dataDir: string
  request<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpAnswer<T>>
  close(): Promise<void>
}

export async function request<T = any>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer<T>> {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] ??= 'application/json'
  }
  const res = await fetch(base + path, init)
  const text = await res.text()
  let parsed: unknown = undefined
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {
    parsed = undefined
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text }
}

export async function startSluice(
  options: { env?: Record<string, string>; redis?: RedisServer; now?: () => number; logStream?: Writable; kinesisFastPath?: boolean; lifecycle?: Lifecycle } = {},
): Promise<Sluice> {
  const redis = options.redis ?? (await startRedis())
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-ingest-'))
  const config = loadConfig({ SLUICE_REDIS_URL: redis.url, SLUICE_DATA_DIR: dataDir, SLUICE_LOG_LEVEL: 'silent', ...options.env })
  const app = await buildApp({
    config,
    ...(options.now ? { now: options.now } : {}),
    ...(options.logStream ? { logStream: options.logStream } : {}),
    ...(options.kinesisFastPath !== undefined ? { kinesisFastPath: options.kinesisFastPath } : {}),
    ...(options.lifecycle ? { lifecycle: options.lifecycle } : {}),
  })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  return {
    url: address,
    app,
    redis,
    dataDir,
    request: (method, path, body, headers) => request(address, method, path, body, headers),
    async close() {
      // A client that keeps using the server (a reader that outlived its consumer's close()) would
      // hold fastify's close open until the test runner's timeout: fail fast and say why instead.
      const late: string[] = []
      const seeLate = (req: { method?: string; url?: string }): void => {
        if (late.length < 5) late.push(`${req.method} ${req.url}`)
      }
      let serverClosed = false
      app.server.on('request', seeLate)
      app.server.once('close', () => (serverClosed = true))
      let timer: NodeJS.Timeout | undefined
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          app.server.getConnections((_err, open) => {
            app.server.closeAllConnections()
            const where = serverClosed ? 'the server closed, an onClose hook did not finish' : `${open} connection(s) still open`
            reject(new Error(`startSluice().close() still waiting after 15 s: ${where}; requests since close began: ${late.join(', ') || 'none'}`))
          })
        }, 15_000)
      })
      try {
        await Promise.race([app.close(), stuck])
      } finally {
        clearTimeout(timer)
        app.server.off('request', seeLate)
        if (!options.redis) await redis.close()
      }
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The promise rejects with an error of this name (an AWS SDK exception class), and this message. */
export async function rejectsWith(p: Promise<unknown>, name: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.equal(err.name, name, `${err.name}: ${err.message}`)
    if (message) assert.match(err.message, message)
    return true
  })
}

/** The ingest service as a process of its own (what `npm run serve` runs), ready when this resolves. */
export function startIngestProcess(options: { redisUrl: string; port: number; dataDir: string; env?: Record<string, string> }): Promise<ChildHandle> {
  return startProcess({
    command: process.execPath,
    args: [fileURLToPath(new URL('../src/server.js', import.meta.url))],
    env: { SLUICE_REDIS_URL: options.redisUrl, SLUICE_PORT: String(options.port), SLUICE_DATA_DIR: options.dataDir, SLUICE_LOG_LEVEL: 'warn', ...options.env },
    readyUrl: `http://127.0.0.1:${options.port}/readyz`,
    readyTimeoutMs: 20_000,
  })
}

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64')
}

export function fromB64(data: string): string {
  return Buffer.from(data, 'base64').toString('utf8')
}

/** Reads a shard from TRIM_HORIZON until caught up, following nextIterator. */
export async function readAll(s: Pick<Sluice, 'request'>, stream: string, shardId: string): Promise<StreamRecord[]> {
  const out: StreamRecord[] = []
  let lastIterator = ''
  let r = await s.request<GetRecordsResponse>('GET', `/v1/streams/${stream}/shards/${shardId}/records?from=TRIM_HORIZON&limit=10000`)
  for (;;) {
    if (r.status === 429) {
      // Read limits are per shard (5 reads/s by default): wait as told, like any client.
      await new Promise((resolve) => setTimeout(resolve, Number(r.headers.get('retry-after') ?? 1) * 1000))
      const again = out.length === 0 ? `from=TRIM_HORIZON` : `iterator=${encodeURIComponent(lastIterator)}`
      r = await s.request<GetRecordsResponse>('GET', `/v1/streams/${stream}/shards/${shardId}/records?${again}&limit=10000`)
      continue
    }
    if (r.status !== 200) throw new Error(`read ${shardId}: ${r.status} ${r.text}`)
    out.push(...r.body.records)
    if (r.body.records.length === 0) return out
    lastIterator = r.body.nextIterator
    r = await s.request<GetRecordsResponse>('GET', `/v1/streams/${stream}/shards/${shardId}/records?iterator=${encodeURIComponent(r.body.nextIterator)}&limit=10000`)
  }
}

/** SHA-256 and HMAC-SHA256 from node:crypto, in the shape @smithy/signature-v4 takes (tests sign requests with it). */
class Sha256 {
  private readonly h
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key = secret === undefined ? undefined : typeof secret === 'string' ? secret : Buffer.from(secret instanceof ArrayBuffer ? secret : secret.buffer, secret instanceof ArrayBuffer ? 0 : secret.byteOffset, secret.byteLength)
    this.h = key === undefined ? createHash('sha256') : createHmac('sha256', key)
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(typeof data === 'string' ? data : Buffer.from(data instanceof ArrayBuffer ? data : data.buffer, data instanceof ArrayBuffer ? 0 : data.byteOffset, data.byteLength))
  }
  async digest(): Promise<Uint8Array> {
    return this.h.digest()
  }
}

/**
 * The headers of a Kinesis request signed with @smithy/signature-v4 for `base` (its host is signed,
 * so a signature is good for one service); `target` undefined signs no X-Amz-Target.
 */
export async function signKinesis(
  base: string,
  key: { id: string; secret: string },
  request: { target: string | undefined; body: string | Uint8Array; region?: string; contentType?: string; date?: Date },
): Promise<Record<string, string>> {
  const url = new URL(base)
  const signer = new SignatureV4({ service: 'kinesis', region: request.region ?? 'us-east-1', credentials: { accessKeyId: key.id, secretAccessKey: key.secret }, sha256: Sha256 })
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      query: {},
      headers: {
        host: url.host,
        'content-type': request.contentType ?? 'application/x-amz-json-1.1',
        ...(request.target === undefined ? {} : { 'x-amz-target': `Kinesis_20131202.${request.target}` }),
      },
      body: request.body,
    },
    request.date ? { signingDate: request.date } : {},
  )
  return signed.headers as Record<string, string>
}
