/**
 * Slow clients cannot starve the others: 500 sockets that send a byte a second — in their headers,
 * in their body, or in an HTTP/2 preface — are closed by the server's timeouts (and reconnect, as an
 * attacker would), while an honest client opening a new connection for each put keeps its latency:
 * p99 at most twice its baseline (baseline and attack alternate three times). The ingest runs as its
 * own process, with small timeouts so the test is short. HTTP/2 gets the same timeouts (Node applies
 * them to HTTP/1.1 only; http-server.ts adds them): a session must open a stream, a stream must finish
 * its request.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { connect as http2Connect, constants as http2Constants } from 'node:http2'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, startRedis, waitFor } from '@sluice/testkit'
import { request, startIngestProcess, startSluice } from './harness.js'

const HEADERS_TIMEOUT_MS = 2000
const REQUEST_TIMEOUT_MS = 3000
/** Node looks for expired connections every quarter of the headers timeout here (http-server.ts). */
const SLACK_MS = HEADERS_TIMEOUT_MS / 4 + 1500

type Kind = 'headers' | 'body' | 'http2-preface'
const OPENINGS: Record<Kind, string> = {
  // Headers that never end.
  headers: 'POST /v1/streams/sl/records HTTP/1.1\r\nHost: sluice\r\nX-Slow: ',
  // Complete headers, then a body that never ends.
  body: 'POST /v1/streams/sl/records HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"records":[',
  // The first byte of the HTTP/2 preface ("PRI * HTTP/2.0…"): the server cannot tell the protocol yet.
  'http2-preface': 'P',
}
const TRICKLE: Record<Kind, string> = { headers: 'a', body: ' ', 'http2-preface': 'RI * HTTP/2.0\r\n\r\nSM\r\n\r\n' }
/** Longest the server may let each kind live: its timeout, the checking interval and slack. */
const ALLOWED_MS: Record<Kind, number> = {
  headers: HEADERS_TIMEOUT_MS + SLACK_MS,
  body: REQUEST_TIMEOUT_MS + SLACK_MS,
  'http2-preface': HEADERS_TIMEOUT_MS + SLACK_MS,
}

interface Closed {
  kind: Kind
  livedMs: number
  answer: string
}

/** 500 slow sockets, each reopened when the server closes it, until stop() or destroyAll(). */
function slowClients(port: number, counts: Record<Kind, number>) {
  let running = true
  const open = new Map<Socket, { kind: Kind; openedAt: number }>()
  /** Closed by the server (destroyAll's are not counted). */
  const closed: Closed[] = []
  const errors: string[] = []
  const launch = (kind: Kind): void => {
    if (!running) return
    const openedAt = Date.now()
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    let sent = 0
    let timer: NodeJS.Timeout | undefined
    open.set(socket, { kind, openedAt })
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => (answer += d))
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server closing a socket we write to is expected; anything else is not.
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') errors.push(`${kind}: ${err.code ?? err.message}`)
    })
    socket.on('connect', () => {
      socket.write(OPENINGS[kind])
      // A byte a second, starting at a random point of the second so the 500 do not move in step.
      timer = setTimeout(function trickle() {
        const t = TRICKLE[kind]
        socket.write(t[sent++ % t.length]!)
        timer = setTimeout(trickle, 1000)
      }, Math.random() * 1000)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      if (!open.delete(socket)) return // destroyed by destroyAll
      closed.push({ kind, livedMs: Date.now() - openedAt, answer: answer.slice(0, 40) })
      launch(kind)
    })
  }
  for (const [kind, n] of Object.entries(counts) as Array<[Kind, number]>) for (let i = 0; i < n; i++) launch(kind)
  return {
    open,
    closed,
    errors,
    /** How long the oldest socket of each kind still open has been open. */
    oldestOpenMs: (): Record<Kind, number> => {
      const oldest: Record<Kind, number> = { headers: 0, body: 0, 'http2-preface': 0 }
      for (const { kind, openedAt } of open.values()) oldest[kind] = Math.max(oldest[kind], Date.now() - openedAt)
      return oldest
    },
    destroyAll: () => {
      running = false
      const sockets = [...open.keys()]
      open.clear()
      for (const s of sockets) s.destroy()
    },
  }
}

/** One put on a connection of its own; resolves with its latency in ms. */
function honestPut(port: number, n: number): Promise<number> {
  const body = JSON.stringify({ records: [{ partitionKey: `honest-${n}`, data: 'aG9uZXN0' }] })
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path: '/v1/streams/sl/records', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume()
        res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`honest put answered ${res.statusCode}`))))
      },
    )
    req.setTimeout(10_000, () => req.destroy(new Error('honest put got no answer in 10 s')))
    req.on('error', reject)
    req.end(body)
  })
}

/** Honest puts one after the other for `ms`; their latencies. */
async function honestFor(port: number, ms: number): Promise<number[]> {
  const latencies: number[] = []
  const until = Date.now() + ms
  while (Date.now() < until) latencies.push(await honestPut(port, latencies.length))
  return latencies
}

const percentile = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

describe('slowloris', () => {
  const cleanup: Array<() => unknown> = []
  after(async () => {
    for (const c of cleanup.reverse()) await c()
  })

  it('500 sockets sending a byte a second are closed by the timeouts and do not slow an honest client', async (t) => {
    const redis = await startRedis()
    cleanup.push(() => redis.close())
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-slowloris-'))
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }))
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const ingest = await startIngestProcess({
      redisUrl: redis.url,
      port,
      dataDir,
      env: { SLUICE_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), SLUICE_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) },
    })
    cleanup.push(() => ingest.kill('SIGKILL'))
    const created = await request(base, 'POST', '/v1/streams', { name: 'sl', shardCount: 2, writeLimits: { recordsPerSecond: 1_000_000, bytesPerSecond: 1_000_000_000 } })
    assert.equal(created.status, 201, created.text)

    await honestFor(port, 2000) // warm-up: JIT, Redis
    // Baseline and attack alternate (B A B A B A B) and each is pooled: the machine is shared, and
    // load from elsewhere that comes and goes then falls on both alike.
    const baseline: number[] = []
    const during: number[] = []
    const closed: Closed[] = []
    const errors: string[] = []
    const openDuringAttack: number[] = []
    const oldestOpen: Array<Record<Kind, number>> = []
    for (let round = 0; round < 3; round++) {
      baseline.push(...(await honestFor(port, 1500)))
      const attack = slowClients(port, { headers: 300, body: 150, 'http2-preface': 50 })
      cleanup.push(() => attack.destroyAll())
      await waitFor(() => attack.open.size >= 490, { timeoutMs: 5000, message: '500 slow sockets connected' })
      // Long enough that every kind's first sockets reach their timeout: the server must close them.
      during.push(...(await honestFor(port, ALLOWED_MS.body)))
      openDuringAttack.push(attack.open.size)
      oldestOpen.push(attack.oldestOpenMs())
      attack.destroyAll()
      closed.push(...attack.closed)
      errors.push(...attack.errors)
    }
    baseline.push(...(await honestFor(port, 1500)))

    const p99 = { baseline: percentile(baseline, 99), during: percentile(during, 99) }
    const p50 = { baseline: percentile(baseline, 50), during: percentile(during, 50) }
    const lived = (kind: Kind) => closed.filter((c) => c.kind === kind).map((c) => c.livedMs)
    const summary = (Object.keys(OPENINGS) as Kind[]).map((k) => `${k}: ${lived(k).length} closed, longest ${Math.max(...lived(k))} ms (allowed ${ALLOWED_MS[k]})`)
    t.diagnostic(`honest puts: baseline ${baseline.length} (p50 ${p50.baseline.toFixed(2)} ms, p99 ${p99.baseline.toFixed(2)} ms), under attack ${during.length} (p50 ${p50.during.toFixed(2)} ms, p99 ${p99.during.toFixed(2)} ms)`)
    t.diagnostic(`slow sockets: ${closed.length} closed by the server over 3 attacks, ${openDuringAttack.join('/')} open at their ends; ${summary.join('; ')}`)

    assert.deepEqual(errors, [], 'slow sockets saw only the server closing them')
    for (const n of openDuringAttack) assert.ok(n >= 450, `the attack held about 500 connections open (${n})`)
    assert.ok(closed.length >= 3 * 500, `the timeouts closed every first generation of slow sockets (${closed.length} closed)`)
    for (const c of closed) assert.ok(c.livedMs <= ALLOWED_MS[c.kind], `a ${c.kind} socket lived ${c.livedMs} ms, allowed ${ALLOWED_MS[c.kind]}`)
    for (const oldest of oldestOpen) for (const k of Object.keys(oldest) as Kind[]) assert.ok(oldest[k] <= ALLOWED_MS[k], `a ${k} socket was still open after ${oldest[k]} ms`)
    // HTTP/1.1 sockets are told why (408) before they are closed.
    const http1 = closed.filter((c) => c.kind !== 'http2-preface')
    const told = http1.filter((c) => c.answer.startsWith('HTTP/1.1 408')).length
    assert.ok(told >= http1.length * 0.9, `${told} of ${http1.length} slow HTTP/1.1 sockets were answered 408`)
    assert.ok(during.length >= 100, `the honest client got ${during.length} puts through during the attacks`)
    assert.ok(p99.during <= 2 * p99.baseline, `honest p99 ${p99.during.toFixed(2)} ms under attack, more than twice its baseline ${p99.baseline.toFixed(2)} ms`)
  })

  it('connections beyond SLUICE_MAX_CONNECTIONS are closed at once, and taken again once below it', async () => {
    const s = await startSluice({ env: { SLUICE_MAX_CONNECTIONS: '10' } })
    cleanup.push(() => s.close())
    const port = Number(new URL(s.url).port)
    const opened = async (): Promise<{ socket: Socket; closedWithin: (ms: number) => Promise<boolean> }> => {
      const socket = connect(port, '127.0.0.1')
      socket.on('error', () => undefined)
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      await new Promise((resolve) => socket.once('connect', resolve))
      const closedWithin = (ms: number) => Promise.race([closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))])
      return { socket, closedWithin }
    }
    const held = await Promise.all(Array.from({ length: 10 }, opened))
    cleanup.push(async () => held.forEach((h) => h.socket.destroy()))
    const over = await opened()
    assert.equal(await over.closedWithin(1000), true, 'the 11th connection was closed')
    for (const h of held) assert.equal(await h.closedWithin(0), false, 'the first 10 stay open')
    held.pop()!.socket.destroy()
    await waitFor(async () => !(await (await opened()).closedWithin(300)), { timeoutMs: 5000, message: 'a connection taken again below the cap' })
  })

  it('HTTP/2 (h2c): a session that opens no stream and a stream whose request never ends are closed by the same timeouts', async () => {
    const s = await startSluice({ env: { SLUICE_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), SLUICE_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) } })
    cleanup.push(() => s.close())
    assert.equal((await s.request('POST', '/v1/streams', { name: 'h2', shardCount: 1 })).status, 201)
    const session = http2Connect(s.url)
    cleanup.push(() => session.destroy())
    const put = (body: string, end: boolean) => {
      const stream = session.request({ ':method': 'POST', ':path': '/v1/streams/h2/records', 'content-type': 'application/json' })
      stream.on('error', () => undefined)
      if (end) stream.end(body)
      else stream.write(body)
      return new Promise<{ status?: number; rstCode?: number; ms: number }>((resolve) => {
        const started = Date.now()
        stream.on('response', (h) => {
          stream.resume()
          stream.on('end', () => resolve({ status: Number(h[':status']), ms: Date.now() - started }))
        })
        stream.on('close', () => resolve({ rstCode: stream.rstCode, ms: Date.now() - started }))
      })
    }
    const ok = await put(JSON.stringify({ records: [{ partitionKey: 'k', data: 'AAAA' }] }), true)
    assert.equal(ok.status, 200, 'a put over h2c')
    const [slow, idleClosedAfter] = await Promise.all([
      put('{"records":[', false),
      (async () => {
        const idle = http2Connect(s.url)
        idle.on('error', () => undefined)
        const started = Date.now()
        await new Promise((resolve) => idle.once('close', resolve))
        return Date.now() - started
      })(),
    ])
    assert.equal(slow.status, undefined, 'the unfinished request was not answered')
    assert.equal(slow.rstCode, http2Constants.NGHTTP2_CANCEL, 'the server reset the stream')
    assert.ok(slow.ms >= REQUEST_TIMEOUT_MS - 100 && slow.ms <= REQUEST_TIMEOUT_MS + SLACK_MS, `reset after ${slow.ms} ms`)
    assert.ok(idleClosedAfter >= HEADERS_TIMEOUT_MS - 100 && idleClosedAfter <= HEADERS_TIMEOUT_MS + SLACK_MS, `a session without a stream closed after ${idleClosedAfter} ms`)
    const after = await put(JSON.stringify({ records: [{ partitionKey: 'k', data: 'AAAA' }] }), true)
    assert.equal(after.status, 200, 'the session itself stays usable')
  })
})
