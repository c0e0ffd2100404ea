/**
 * End to end through the SDK: latency from Producer.put to the Consumer's handler at a steady
 * 2,000 records/s on one shard, and how fast one consumer drains one shard.
 */
import { Consumer, Producer } from '@sluice/client'

export interface EndToEndResult {
  ratePerSec: number
  records: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  drainRecords: number
  drainRecordsPerSec: number
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0
}

async function create(endpoint: string, name: string): Promise<void> {
  const res = await fetch(`${endpoint}/v1/streams`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, shardCount: 1, writeLimits: { recordsPerSecond: 1_000_000, bytesPerSecond: 1_000_000_000 } }),
  })
  if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${await res.text()}`)
}

export async function endToEnd(endpoint: string, seconds: number): Promise<EndToEndResult> {
  // Latency at 2,000 records/s.
  await create(endpoint, 'e2e')
  const latencies: number[] = []
  let measuring = false
  const consumer = new Consumer({ endpoint, stream: 'e2e', group: 'bench', leaseTtlMs: 5000, minPollMs: 2, maxPollMs: 10 })
  const consuming = consumer.run(async (batch) => {
    const now = Date.now()
    if (measuring) for (const r of batch.records) latencies.push(now - Number(Buffer.from(r.data).toString().slice(0, 13)))
  })
  const producer = new Producer({ endpoint, stream: 'e2e', lingerMs: 2 })
  const rate = 2000
  const tickMs = 10
  const pad = 'x'.repeat(87)
  const run = async (ms: number): Promise<void> => {
    const until = Date.now() + ms
    let sent = 0
    const start = Date.now()
    while (Date.now() < until) {
      const due = Math.floor(((Date.now() - start + tickMs) / 1000) * rate) - sent
      for (let i = 0; i < due; i++) void producer.put(`k${(sent + i) % 64}`, `${Date.now()}${pad}`)
      sent += Math.max(0, due)
      await new Promise((resolve) => setTimeout(resolve, tickMs))
    }
  }
  await run(2000)
  measuring = true
  await run(seconds * 1000)
  await producer.flush()
  await new Promise((resolve) => setTimeout(resolve, 500))
  measuring = false
  await producer.close()
  await consumer.close()
  await consuming
  latencies.sort((a, b) => a - b)

  // Drain: one consumer, one shard, records already there.
  await create(endpoint, 'drain')
  const filler = new Producer({ endpoint, stream: 'drain', maxBufferedRecords: 50_000 })
  const total = 200_000
  const puts: Promise<unknown>[] = []
  for (let i = 0; i < total; i++) puts.push(filler.put(`k${i}`, pad))
  await Promise.all(puts)
  await filler.close()
  let got = 0
  const drainer = new Consumer({ endpoint, stream: 'drain', group: 'drain', batchSize: 10_000, minPollMs: 2, maxPollMs: 10 })
  const t0 = performance.now()
  let t1 = t0
  const draining = drainer.run(async (batch) => {
    got += batch.records.length
    if (got >= total) {
      t1 = performance.now()
      void drainer.close()
    }
  })
  await draining
  return {
    ratePerSec: rate,
    records: latencies.length,
    p50Ms: pct(latencies, 50),
    p99Ms: pct(latencies, 99),
    maxMs: latencies.at(-1) ?? 0,
    drainRecords: got,
    drainRecordsPerSec: Math.round(got / ((t1 - t0) / 1000)),
  }
}
