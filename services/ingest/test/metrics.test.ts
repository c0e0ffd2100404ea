/**
 * /metrics, parsed as Prometheus text: the counters move by exactly what a known workload did.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { b64, startSluice, type Sluice } from './harness.js'

type Families = ReturnType<typeof parsePrometheusTextFormat>

interface Scrape {
  families: Families
  text: string
}

async function scrape(s: Sluice): Promise<Scrape> {
  const r = await s.request('GET', '/metrics')
  assert.equal(r.status, 200)
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/)
  return { families: parsePrometheusTextFormat(r.text), text: r.text }
}

/**
 * The `_count` of one labelled histogram series, read from the text: parse-prometheus-text-format
 * folds labelled histograms into one sample and loses their labels (it is right for counters).
 */
function histogramCount(scraped: Scrape, name: string, labels: Record<string, string>): number {
  for (const line of scraped.text.split('\n')) {
    if (!line.startsWith(`${name}_count{`)) continue
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return 0
}

function value(scraped: Scrape, name: string, labels: Record<string, string>): number {
  const family = scraped.families.find((m) => m.name === name)
  if (!family) return 0
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  return sample ? Number(sample.value ?? 0) : 0
}

describe('metrics', () => {
  let s: Sluice
  before(async () => {
    s = await startSluice()
  })
  after(async () => s.close())

  it('counts accepted, refused and read records and bytes exactly', async () => {
    await s.request('POST', '/v1/streams', { name: 'm', shardCount: 2, writeLimits: { recordsPerSecond: 10 } })
    const before = await scrape(s)
    const data = b64('hello') // 5 bytes
    const put1 = await s.request('POST', '/v1/streams/m/records', { records: Array.from({ length: 4 }, (_, i) => ({ partitionKey: `k${i}`, data })) })
    assert.equal(put1.body.failedRecordCount, 0)
    // One shard takes 10 per second with a burst of 10: 25 records on one key, 10 accepted, 15 throttled.
    const put2 = await s.request('POST', '/v1/streams/m/records', { records: Array.from({ length: 25 }, () => ({ partitionKey: 'same', data })) })
    const accepted2 = put2.body.records.filter((r: any) => r.sequenceNumber).length
    const throttled2 = 25 - accepted2
    assert.ok(throttled2 >= 10, `${throttled2} throttled`)
    const bad = await s.request('POST', '/v1/streams/m/records', { records: [{ partitionKey: 'k', data: 'AA==', explicitHashKey: (2n ** 128n).toString() }, { partitionKey: 'k', data: 'AA==' }] })
    assert.equal(bad.status, 400)
    const shard = put1.body.records[0].shardId
    const read = await s.request('GET', `/v1/streams/m/shards/${shard}/records?from=TRIM_HORIZON`)
    const readCount = read.body.records.length
    const readBytes = read.body.records.reduce((n: number, r: any) => n + Buffer.from(r.data, 'base64').length + Buffer.byteLength(r.partitionKey), 0)
    const after = await scrape(s)

    const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels)
    const acceptedBytes = 4 * 5 + [0, 1, 2, 3].reduce((n, i) => n + `k${i}`.length, 0) + accepted2 * (5 + 4)
    assert.equal(delta('sluice_records_accepted_total', { stream: 'm' }), 4 + accepted2)
    assert.equal(delta('sluice_record_bytes_accepted_total', { stream: 'm' }), acceptedBytes)
    assert.equal(delta('sluice_records_refused_total', { stream: 'm', reason: 'throttled' }), throttled2)
    assert.equal(delta('sluice_records_refused_total', { stream: 'm', reason: 'invalid' }), 2)
    assert.equal(delta('sluice_records_read_total', { stream: 'm' }), readCount)
    assert.equal(delta('sluice_record_bytes_read_total', { stream: 'm' }), readBytes)
    const count = (name: string, labels: Record<string, string>) => histogramCount(after, name, labels) - histogramCount(before, name, labels)
    assert.equal(count('sluice_http_request_duration_seconds', { route: '/v1/streams/:name/records', method: 'POST', status: '200' }), 2)
    assert.equal(count('sluice_http_request_duration_seconds', { route: '/v1/streams/:name/records', method: 'POST', status: '400' }), 1)
    assert.ok(count('sluice_redis_operation_duration_seconds', { operation: 'put-records', outcome: 'ok' }) >= 3)
  })

  it('reports consumer-group lag (records, seconds) and the leases each worker holds, from checkpoints', async () => {
    assert.equal((await s.request('POST', '/v1/streams', { name: 'lagged', shardCount: 1 })).status, 201)
    const put = await s.request('POST', '/v1/streams/lagged/records', { records: Array.from({ length: 10 }, (_, i) => ({ partitionKey: 'k', data: b64(String(i)) })) })
    const seqs = put.body.records.map((r: any) => r.sequenceNumber)
    const beat = await s.request('POST', '/v1/streams/lagged/groups/g1/workers/w1/heartbeat', { leaseTtlMs: 10_000 })
    assert.equal(beat.status, 200)
    const token = beat.body.shards[0].leaseToken
    let m = await scrape(s)
    assert.equal(value(m, 'sluice_consumer_group_lag_records', { stream: 'lagged', group: 'g1' }), 10, 'nothing checkpointed: all ten behind')
    assert.equal(value(m, 'sluice_consumer_group_leases_held', { stream: 'lagged', group: 'g1', worker: 'w1' }), 1)
    assert.equal((await s.request('PUT', '/v1/streams/lagged/groups/g1/shards/shardId-000000000000/checkpoint', { sequenceNumber: seqs[3], leaseToken: token })).status, 200)
    m = await scrape(s)
    assert.equal(value(m, 'sluice_consumer_group_lag_records', { stream: 'lagged', group: 'g1' }), 6, 'six records after the checkpoint')
    assert.ok(value(m, 'sluice_consumer_group_lag_seconds', { stream: 'lagged', group: 'g1' }) >= 0)
    // A worker that leaves holds nothing.
    assert.equal((await s.request('DELETE', '/v1/streams/lagged/groups/g1/workers/w1')).status, 204)
    m = await scrape(s)
    assert.equal(value(m, 'sluice_consumer_group_leases_held', { stream: 'lagged', group: 'g1', worker: 'w1' }), 0)
  })

  it('exports the Node.js defaults under the sluice_ prefix and keeps keys and ids out of labels', async () => {
    const f = (await scrape(s)).families
    for (const name of ['sluice_process_cpu_seconds_total', 'sluice_nodejs_eventloop_lag_seconds', 'sluice_nodejs_heap_size_used_bytes', 'sluice_nodejs_gc_duration_seconds']) {
      assert.ok(f.some((m) => m.name === name), name)
    }
    for (const family of f) {
      assert.match(family.name, /^sluice_/)
      for (const m of family.metrics) {
        for (const [k, v] of Object.entries(m.labels ?? {})) {
          assert.ok(!['partitionKey', 'key', 'shardId'].includes(k), `label ${k} on ${family.name}`)
          assert.doesNotMatch(v, /shardId-\d|hello/, `${family.name}{${k}="${v}"}`)
        }
      }
    }
  })
})
