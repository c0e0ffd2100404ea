/**
 * Faults under load, with real processes (no mock of Redis):
 *   - redis-server frozen (SIGSTOP) for 5 s while producers (REST and Kinesis) and readers run: every
 *     answer is 2xx, 429 or 503 (503s carry Retry-After), none is a 500, none hangs, and the first 2xx
 *     comes within 2 s of SIGCONT; every acknowledged record is there afterwards;
 *   - the ingest process killed with -9 three times under load and started again: every acknowledged
 *     record is present with its sequence number, and no refused record (throttled, or in a request
 *     answered 4xx) is present. Records whose answer was lost with the process may be either.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, startRedis, waitFor, type ChildHandle, type RedisServer } from '@sluice/testkit'
import { b64, readAll, request, startIngestProcess, startSluice } from './harness.js'

const SIGV4 = 'AWS4-HMAC-SHA256 Credential=AKIDFAULTS/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd'
const UNLIMITED = { recordsPerSecond: 1_000_000, bytesPerSecond: 1_000_000_000 }

interface Outcome {
  /** When the answer (or the failure) came, ms since the epoch */
  at: number
  ms: number
  status: number | 'no answer'
  what: string
}

/** Runs `step` in `n` loops until stop() resolves them; a loop pauses `pauseMs` between steps. */
function loops(n: number, step: (loop: number) => Promise<void>, pauseMs = 0) {
  let running = true
  const done = Promise.all(
    Array.from({ length: n }, async (_, loop) => {
      while (running) {
        await step(loop)
        if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs))
      }
    }),
  )
  return { stop: async () => ((running = false), await done) }
}

/** A request with a deadline: a hang is reported as such, never waited out. */
async function timed(url: string, init: RequestInit, hangMs: number): Promise<{ status: number | 'no answer'; text: string; headers: Headers | null; ms: number; error?: string }> {
  const started = Date.now()
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(hangMs) })
    const text = await res.text()
    return { status: res.status, text, headers: res.headers, ms: Date.now() - started }
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } }
    return { status: 'no answer', text: '', headers: null, ms: Date.now() - started, error: e.name === 'TimeoutError' ? 'hang' : (e.cause?.code ?? e.message) }
  }
}

describe('faults under load', () => {
  const cleanup: Array<() => Promise<unknown>> = []
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined)
  })

  it('redis-server frozen for 5 s under load: only 2xx, 429 or 503, no hang, the first 2xx within 2 s of SIGCONT', async (t) => {
    const COMMAND_TIMEOUT_MS = 1000
    // A request makes a few Redis calls at most: anything this slow is a hang.
    const HANG_MS = 4 * COMMAND_TIMEOUT_MS + 2000
    const redis = await startRedis()
    cleanup.push(() => redis.close())
    const s = await startSluice({ redis, env: { SLUICE_REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS), SLUICE_SHARD_READS_PER_SECOND: '100000' } })
    cleanup.push(() => s.close())
    assert.equal((await s.request('POST', '/v1/streams', { name: 'frozen', shardCount: 4, writeLimits: UNLIMITED })).status, 201)

    const outcomes: Outcome[] = []
    const acknowledged = new Set<string>()
    let n = 0
    const note = (what: string, r: Awaited<ReturnType<typeof timed>>): void => {
      outcomes.push({ at: Date.now(), ms: r.ms, status: r.status, what: `${what}${r.error ? ` (${r.error})` : ''} ${r.text.slice(0, 120)}` })
      if (r.status === 503) assert.ok(Number(r.headers?.get('retry-after')) >= 1, `${what}: a 503 without Retry-After`)
    }
    const restPut = async (): Promise<void> => {
      const records = Array.from({ length: 20 }, () => ({ partitionKey: `k${++n}`, data: b64(`frozen-${n}`) }))
      const r = await timed(`${s.url}/v1/streams/frozen/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ records }) }, HANG_MS)
      note('REST put', r)
      if (r.status === 200) (JSON.parse(r.text).records as Array<{ sequenceNumber?: string }>).forEach((x, i) => x.sequenceNumber && acknowledged.add(`${x.sequenceNumber} ${records[i]!.data}`))
    }
    const kinesisPut = async (): Promise<void> => {
      const records = Array.from({ length: 20 }, () => ({ PartitionKey: `k${++n}`, Data: b64(`frozen-${n}`) }))
      const r = await timed(
        s.url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.PutRecords', authorization: SIGV4 },
          body: JSON.stringify({ StreamName: 'frozen', Records: records }),
        },
        HANG_MS,
      )
      note('Kinesis PutRecords', r)
      if (r.status === 200) (JSON.parse(r.text).Records as Array<{ SequenceNumber?: string }>).forEach((x, i) => x.SequenceNumber && acknowledged.add(`${x.SequenceNumber} ${records[i]!.Data}`))
    }
    const iterators = new Map<number, string>()
    const reader = async (shard: number): Promise<void> => {
      const it = iterators.get(shard)
      const query = it ? `iterator=${encodeURIComponent(it)}` : 'from=TRIM_HORIZON'
      const r = await timed(`${s.url}/v1/streams/frozen/shards/shardId-00000000000${shard}/records?${query}&limit=1000`, {}, HANG_MS)
      note('read', r)
      if (r.status === 200) iterators.set(shard, JSON.parse(r.text).nextIterator)
    }

    const load = [loops(4, restPut), loops(2, kinesisPut), loops(2, (i) => reader(i), 20)]
    await waitFor(() => acknowledged.size >= 500, { timeoutMs: 10_000, message: '500 records acknowledged before the freeze' })
    const stoppedAt = Date.now()
    redis.stop()
    await new Promise((resolve) => setTimeout(resolve, 5000))
    redis.resume()
    const resumedAt = Date.now()
    const firstOk = await waitFor(() => outcomes.find((o) => o.at >= resumedAt && o.status === 200), { timeoutMs: HANG_MS, message: 'a 2xx after SIGCONT' })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await Promise.all(load.map((l) => l.stop()))

    // Answers that came while Redis was stopped (those in flight when it stopped may still end in 2xx).
    const during = outcomes.filter((o) => o.at > stoppedAt && o.at < resumedAt)
    const count = (xs: Outcome[]): string => {
      const by = new Map<string, number>()
      for (const o of xs) by.set(String(o.status), (by.get(String(o.status)) ?? 0) + 1)
      return [...by].map(([k, v]) => `${k}×${v}`).join(', ')
    }
    t.diagnostic(`${outcomes.length} answers: ${count(outcomes)}; while frozen: ${count(during)}; slowest ${Math.max(...outcomes.map((o) => o.ms))} ms; first 2xx ${firstOk.at - resumedAt} ms after SIGCONT`)
    const wrong = outcomes.filter((o) => o.status !== 200 && o.status !== 429 && o.status !== 503)
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} answers were neither 2xx, 429 nor 503`)
    assert.ok(during.filter((o) => o.status === 503).length >= 5, 'the freeze was felt: 503s while Redis was stopped')
    assert.ok(firstOk.at - resumedAt <= 2000, `first 2xx ${firstOk.at - resumedAt} ms after SIGCONT`)

    const present = new Set<string>()
    for (let i = 0; i < 4; i++) for (const r of await readAll(s, 'frozen', `shardId-00000000000${i}`)) present.add(`${r.sequenceNumber} ${r.data}`)
    const lost = [...acknowledged].filter((a) => !present.has(a))
    assert.equal(lost.length, 0, `${lost.length} of ${acknowledged.size} acknowledged records missing, e.g. ${lost.slice(0, 3).join(', ')}`)
  })

  it('kill -9 of the ingest process under load, three times: every acknowledged record present, no refused record present', async (t) => {
    const redis: RedisServer = await startRedis()
    cleanup.push(() => redis.close())
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-kill9-'))
    cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }))
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const startIngest = () => startIngestProcess({ redisUrl: redis.url, port, dataDir })
    let ingest: ChildHandle = await startIngest()
    cleanup.push(() => ingest.kill('SIGKILL'))
    // Limits low enough that the load is throttled: throttled records are refused records.
    const created = await request(base, 'POST', '/v1/streams', { name: 'k9', shardCount: 4, writeLimits: { recordsPerSecond: 400, bytesPerSecond: 1_000_000 } })
    assert.equal(created.status, 201, created.text)

    const acknowledged = new Map<string, string>() // data → sequence number
    const refused = new Set<string>()
    const unknown = new Set<string>()
    const statuses = new Map<string, number>()
    let n = 0
    const tally = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1)
    const settle = (status: number | 'no answer', error: string | undefined, results: Array<{ ok: boolean; sequenceNumber?: string }> | null, data: string[]): void => {
      tally(status === 'no answer' ? `no answer (${error})` : String(status))
      if (status === 'no answer') {
        // Refused at connect: the request never reached a server. Anything else may have been applied.
        if (error !== 'ECONNREFUSED') for (const d of data) unknown.add(d)
        return
      }
      if (!results) {
        for (const d of data) refused.add(d)
        return
      }
      results.forEach((r, i) => (r.ok ? acknowledged.set(data[i]!, r.sequenceNumber!) : refused.add(data[i]!)))
    }
    const restPut = async (loop: number): Promise<void> => {
      // Every fifth request of loop 0 carries a bad record: refused whole, nothing written.
      const bad = loop === 0 && n % 5 === 0
      const records = Array.from({ length: 25 }, (_, i) => ({ partitionKey: `k${++n}`, data: bad && i === 24 ? '!' : b64(`k9-${n}`) }))
      const r = await timed(`${base}/v1/streams/k9/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ records }) }, 10_000)
      const body = r.status === 200 || r.status === 429 ? (JSON.parse(r.text).records as Array<{ sequenceNumber?: string }>) : null
      if (typeof r.status === 'number' && r.status !== 200 && r.status !== 429) assert.ok(r.status === 400 && bad, `REST put answered ${r.status}: ${r.text.slice(0, 200)}`)
      settle(r.status, r.error, body?.map((x) => ({ ok: x.sequenceNumber !== undefined, ...(x.sequenceNumber ? { sequenceNumber: x.sequenceNumber } : {}) })) ?? null, records.map((x) => x.data))
    }
    const kinesisPut = async (): Promise<void> => {
      const records = Array.from({ length: 25 }, () => ({ PartitionKey: `k${++n}`, Data: b64(`k9-${n}`) }))
      const r = await timed(
        base,
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.PutRecords', authorization: SIGV4 },
          body: JSON.stringify({ StreamName: 'k9', Records: records }),
        },
        10_000,
      )
      if (typeof r.status === 'number') assert.equal(r.status, 200, `Kinesis PutRecords answered ${r.status}: ${r.text.slice(0, 200)}`)
      const body = r.status === 200 ? (JSON.parse(r.text).Records as Array<{ SequenceNumber?: string }>) : null
      settle(r.status, r.error, body?.map((x) => ({ ok: x.SequenceNumber !== undefined, ...(x.SequenceNumber ? { sequenceNumber: x.SequenceNumber } : {}) })) ?? null, records.map((x) => x.Data))
    }
    // While the process is down, connections are refused at once: a short pause keeps the loops from spinning.
    const load = [loops(4, restPut, 5), loops(2, () => kinesisPut(), 5)]

    for (let round = 1; round <= 3; round++) {
      const before = acknowledged.size
      await waitFor(() => acknowledged.size >= before + 1000 && refused.size > 0, { timeoutMs: 15_000, message: `1,000 more records acknowledged before kill ${round}` })
      await ingest.kill('SIGKILL')
      ingest = await startIngest()
    }
    await waitFor(() => statuses.has('200'), { timeoutMs: 5000, message: 'puts answered after the last restart' })
    await Promise.all(load.map((l) => l.stop()))
    t.diagnostic(`answers: ${[...statuses].map(([k, v]) => `${k}×${v}`).join(', ')}; records acknowledged ${acknowledged.size}, refused ${refused.size}, outcome unknown ${unknown.size}`)

    const s = await startSluice({ redis, env: { SLUICE_SHARD_READS_PER_SECOND: '100000' } })
    cleanup.push(() => s.close())
    const present = new Map<string, string>()
    for (let i = 0; i < 4; i++) for (const r of await readAll(s, 'k9', `shardId-00000000000${i}`)) present.set(r.data, r.sequenceNumber)
    const lost = [...acknowledged].filter(([data, seq]) => present.get(data) !== seq)
    assert.equal(lost.length, 0, `${lost.length} of ${acknowledged.size} acknowledged records missing or moved, e.g. ${lost.slice(0, 3).join(', ')}`)
    const written = [...refused].filter((d) => present.has(d))
    assert.equal(written.length, 0, `${written.length} refused records are in the stream, e.g. ${written.slice(0, 3).join(', ')}`)
    assert.ok(refused.size > 0 && [...statuses.keys()].some((k) => k.startsWith('no answer')), 'the load saw refusals and lost answers')
    for (const data of present.keys()) assert.ok(acknowledged.has(data) || unknown.has(data), `${data} is in the stream but was never sent or was refused`)
  })
})
