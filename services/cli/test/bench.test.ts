/**
 * `sluice bench` as a child process against a real ingest: what it reports acknowledged is exactly
 * what the stream holds, spread over every shard; a stream's write limits show as throttled records
 * (and acknowledged ones stay within the limit plus its burst); a stream that does not exist is exit 3.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { shardIdFor } from '@sluice/protocol'
import { readAll, startSluice, type Sluice } from '@sluice/ingest/testing'
import type { BenchResult } from '../src/commands/bench.js'
import { exited, runCli, show, type CliResult } from './run-cli.js'

describe('sluice bench', () => {
  let s: Sluice
  let sluice: (args: string[]) => Promise<CliResult>
  const stored = async (stream: string, shards: number) => (await Promise.all(Array.from({ length: shards }, (_, i) => readAll(s, stream, shardIdFor(i))))).map((r) => r.length)
  before(async () => {
    s = await startSluice()
    sluice = (args) => runCli(['--endpoint', s.url, ...args])
  })
  after(async () => s?.close())

  it('reports exactly what the stream acknowledged and holds, spread over its shards', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'b', shardCount: 2, writeLimits: { recordsPerSecond: 1_000_000, bytesPerSecond: 1_000_000_000 } })).status, 201)
    const r = await sluice(['bench', '--stream', 'b', '--duration', '1', '--records', '50', '--size', '64', '--concurrency', '4', '--json'])
    exited(r, 0)
    const result = JSON.parse(r.stdout) as BenchResult
    assert.ok(result.records > 0 && result.records % 50 === 0, show(r))
    assert.equal(result.requests, result.records / 50)
    assert.equal(result.throttledRecords + result.failedRecords + result.failedRequests, 0)
    assert.ok(result.recordsPerSecond > 0 && result.latencyMs.p50 > 0 && result.latencyMs.p50 <= result.latencyMs.p99 && result.latencyMs.p99 <= result.latencyMs.max)
    const perShard = await stored('b', 2)
    assert.equal(perShard[0]! + perShard[1]!, result.records, 'acknowledged = stored')
    assert.ok(perShard.every((n) => n > 0), `every shard got records: ${perShard}`)
  })

  it("shows a stream's write limits as throttled records, and puts no more than the limit plus its burst", async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'slow', shardCount: 1, writeLimits: { recordsPerSecond: 100 } })).status, 201)
    const r = await sluice(['bench', '--stream', 'slow', '--duration', '2', '--records', '50', '--size', '10', '--concurrency', '2'])
    exited(r, 0)
    const m = /^([\d,]+) records acknowledged in ([\d.]+) s: 2 requests in flight of 50 × 10 B to slow\n/.exec(r.stdout)
    assert.ok(m, show(r))
    const header = r.stdout.split('\n')[1]!
    assert.match(header, /records\/s\s+MB\/s\s+requests\s+p50 ms\s+p90 ms\s+p99 ms\s+max ms\s+throttled\s+failed/)
    const cells = r.stdout.split('\n')[2]!.trim().split(/\s+/)
    const acked = Number(m[1]!.replace(/,/g, ''))
    const throttled = Number(cells[7]!.replace(/,/g, ''))
    assert.ok(throttled > 0, `some records were throttled: ${show(r)}`)
    // 100 a second with a one-second burst, over the run (and the Retry-After waits inside it).
    assert.ok(acked <= 100 * (Number(m[2]) + 1) + 50, `acknowledged ${acked} in ${m[2]} s`)
    assert.equal((await stored('slow', 1))[0], acked, 'acknowledged = stored')
  })

  it('a stream that does not exist is exit 3 at once; bad values are usage errors', async () => {
    const missing = await sluice(['bench', '--stream', 'nope', '--duration', '1'])
    exited(missing, 3)
    assert.match(missing.stderr, /^sluice: Stream nope not found \[StreamNotFound\]\n$/)
    const tooMuch = await sluice(['bench', '--stream', 'b', '--records', '500', '--size', '20000'])
    exited(tooMuch, 2)
    assert.match(tooMuch.stderr, /--records 500 of --size 20000: a request may carry at most/)
    exited(await sluice(['bench', '--stream', 'b', '--records', '501']), 2)
  })
})
