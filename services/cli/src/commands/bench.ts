/**
 * `sluice bench --stream S`: how fast this service takes puts into an existing stream, from here.
 * A closed loop: `--concurrency` PutRecords requests in flight, each of `--records` records of
 * `--size` random bytes under random partition keys (so they spread over every shard), for
 * `--duration` seconds. A fully throttled request (429) waits its Retry-After, as a producer would;
 * the stream's write limits apply, so the figures say what the stream takes, not only the service.
 * Counts only what the service acknowledged, and prints records/s, MB/s, request latency and
 * what was throttled or failed (a table, or `--json`).
 */
import { randomBytes } from 'node:crypto'
import { type Command } from 'commander'
import { SluiceError } from '@sluice/client'
import { MAX_PUT_PAYLOAD_BYTES, MAX_RECORDS_PER_PUT, MAX_RECORD_DATA_BYTES, type PutRecordEntry } from '@sluice/protocol'
import type { CliContext, RunCommand } from '../context.js'
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js'
import { wholeNumber } from '../options.js'
import { formatCount, formatTable } from '../table.js'

interface BenchOptions {
  stream: string
  duration: number
  records: number
  size: number
  concurrency: number
  json: boolean
}

export interface BenchResult {
  stream: string
  seconds: number
  concurrency: number
  recordsPerRequest: number
  recordBytes: number
  /** acknowledged by the service */
  records: number
  recordsPerSecond: number
  /** record data, 10^6 bytes a second */
  megabytesPerSecond: number
  requests: number
  latencyMs: { p50: number; p90: number; p99: number; max: number }
  /** records refused by the stream's write limits (ProvisionedThroughputExceeded, or a 429) */
  throttledRecords: number
  /** records failed otherwise, and requests that got no answer */
  failedRecords: number
  failedRequests: number
}

/** Different bodies to send, so the partition keys (and shards) vary from request to request. */
const BODIES = 16
/** A partition key: 8 random bytes in hex. */
const KEY_CHARS = 16

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

async function bench(ctx: CliContext, o: BenchOptions): Promise<ExitCodeValue> {
  if (o.records * (o.size + KEY_CHARS) > MAX_PUT_PAYLOAD_BYTES) {
    throw new UsageError(`--records ${o.records} of --size ${o.size}: a request may carry at most ${MAX_PUT_PAYLOAD_BYTES} bytes of data and keys`)
  }
  // Fails fast and clearly (no such stream, no access, no service) before any load.
  await ctx.client.describeStream(o.stream, ctx.interrupted)
  const bodies: PutRecordEntry[][] = Array.from({ length: BODIES }, () =>
    Array.from({ length: o.records }, () => ({ partitionKey: randomBytes(KEY_CHARS / 2).toString('hex'), data: randomBytes(o.size).toString('base64') })),
  )
  const latencies: number[] = []
  const result = { records: 0, requests: 0, throttledRecords: 0, failedRecords: 0, failedRequests: 0 }
  let fatal: unknown
  const stop = new AbortController()
  const onInterrupt = (): void => stop.abort()
  ctx.interrupted.addEventListener('abort', onInterrupt, { once: true })
  const started = Date.now()
  // No request starts after the deadline; those in flight then finish and count (none is cut off, so
  // what is reported acknowledged is exactly what the stream got).
  const deadline = started + o.duration * 1000

  const worker = async (w: number): Promise<void> => {
    for (let i = w; !stop.signal.aborted && Date.now() < deadline; i += o.concurrency) {
      const sentAt = performance.now()
      try {
        const { answer, retryAfterMs } = await ctx.client.putRecords(o.stream, bodies[i % BODIES]!, stop.signal)
        latencies.push(performance.now() - sentAt)
        result.requests++
        for (const r of answer.records) {
          if ('sequenceNumber' in r) result.records++
          else if (r.errorCode === 'ProvisionedThroughputExceeded') result.throttledRecords++
          else result.failedRecords++
        }
        if (answer.failedRecordCount === answer.records.length && retryAfterMs !== undefined) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(retryAfterMs, Math.max(0, deadline - Date.now()))))
        }
      } catch (err) {
        if (stop.signal.aborted) return // interrupted, or another worker met a refusal
        if (err instanceof SluiceError && (err.status === 400 || err.status === 401 || err.status === 403 || err.status === 404)) {
          fatal ??= err
          stop.abort()
          return
        }
        result.failedRequests++
        result.failedRecords += o.records
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)))
  ctx.interrupted.removeEventListener('abort', onInterrupt)
  if (fatal !== undefined) throw fatal

  const seconds = (Date.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits
  const r: BenchResult = {
    stream: o.stream,
    seconds: round(seconds, 2),
    concurrency: o.concurrency,
    recordsPerRequest: o.records,
    recordBytes: o.size,
    records: result.records,
    recordsPerSecond: Math.round(result.records / seconds),
    megabytesPerSecond: round((result.records * o.size) / 1e6 / seconds, 2),
    requests: result.requests,
    latencyMs: { p50: round(percentile(latencies, 50)), p90: round(percentile(latencies, 90)), p99: round(percentile(latencies, 99)), max: round(percentile(latencies, 100)) },
    throttledRecords: result.throttledRecords,
    failedRecords: result.failedRecords,
    failedRequests: result.failedRequests,
  }
  if (o.json) {
    await ctx.out.line(JSON.stringify(r))
  } else {
    await ctx.out.line(`${formatCount(r.records)} records acknowledged in ${r.seconds} s: ${o.concurrency} requests in flight of ${o.records} × ${o.size} B to ${o.stream}`)
    await ctx.out.line(
      formatTable(
        ['records/s', 'MB/s', 'requests', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'throttled', 'failed'],
        [[formatCount(r.recordsPerSecond), r.megabytesPerSecond.toFixed(2), formatCount(r.requests), ...[r.latencyMs.p50, r.latencyMs.p90, r.latencyMs.p99, r.latencyMs.max].map((v) => v.toFixed(1)), formatCount(r.throttledRecords), formatCount(r.failedRecords)]],
        ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
    )
  }
  if (ctx.interrupted.aborted) return ExitCode.interrupted
  return r.failedRecords > 0 ? ExitCode.failure : ExitCode.ok
}

export function benchCommand(program: Command, run: RunCommand): void {
  program
    .command('bench')
    .description('put load into an existing stream for a while and report records/s, MB/s and latency (exit 1 if records failed other than by throttling)')
    .requiredOption('--stream <name>', 'stream name (its records stay in it)')
    .option('--duration <seconds>', 'how long', wholeNumber(1, 3600), 10)
    .option('--records <n>', 'records per request', wholeNumber(1, MAX_RECORDS_PER_PUT), 500)
    .option('--size <bytes>', 'bytes of random data per record', wholeNumber(1, MAX_RECORD_DATA_BYTES), 100)
    .option('--concurrency <n>', 'requests in flight', wholeNumber(1, 1024), 8)
    .option('--json', 'one JSON object instead of the table', false)
    .addHelpText('after', "\nThe stream's write limits apply: a fully throttled request waits its Retry-After, as a producer would.")
    .action((o: BenchOptions, cmd: Command) => run(cmd, (ctx) => bench(ctx, o)))
}
