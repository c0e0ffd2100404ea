/**
 * The archiver against scenario a's ingest rate: a fresh Redis (AOF everysec), s3rver, the ingest and
 * the archiver as their own processes; the load generator puts for `duration` seconds while the
 * archiver runs, then the archiver finishes what is left. It keeps up when it is done shortly after
 * the load stops (within its object age bound and one pass); its CPU is read from /proc.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, startProcess, startRedis, startS3 } from '@sluice/testkit'

export interface ArchiverBenchResult {
  ingestRecordsPerSec: number
  records: number
  loadSeconds: number
  /** after the load stopped, until every record was archived */
  catchUpSeconds: number
  archiverRecordsPerSec: number
  /** CPU seconds of the archiver process per wall second, over load + catch-up */
  archiverCores: number
  objects: number
  recordBytes: number
  compressedBytes: number
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after "(comm) ".
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function metric(text: string, name: string): number {
  let sum = 0
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  return sum
}

export async function benchArchiver(
  repo: string,
  dataDir: string,
  load: (endpoint: string, stream: string, ingestPid: number) => { recordsPerSec: number },
): Promise<ArchiverBenchResult> {
  const redis = await startRedis({ appendonly: true, appendfsync: 'everysec' })
  const s3 = await startS3({ buckets: ['sluice'] })
  const s3Env = {
    SLUICE_S3_ENDPOINT: s3.endpoint,
    SLUICE_S3_BUCKET: 'sluice',
    SLUICE_S3_FORCE_PATH_STYLE: '1',
    SLUICE_S3_REGION: s3.region,
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  }
  const port = await freePort()
  const metricsPort = await freePort()
  const ingest = await startProcess({
    command: process.execPath,
    args: [join(repo, 'services/ingest/dist/src/server.js')],
    env: { ...s3Env, SLUICE_REDIS_URL: redis.url, SLUICE_PORT: String(port), SLUICE_DATA_DIR: dataDir, SLUICE_LOG_LEVEL: 'warn', SLUICE_MAX_UNARCHIVED_BYTES: String(1 << 30) },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
  })
  const archiver = await startProcess({
    command: process.execPath,
    args: [join(repo, 'services/archiver/dist/src/server.js')],
    // Objects close after 2 s here (60 s by default), so "caught up" is seen within the run.
    env: { ...s3Env, SLUICE_REDIS_URL: redis.url, SLUICE_ARCHIVER_METRICS_PORT: String(metricsPort), SLUICE_ARCHIVE_MAX_AGE_MS: '2000', SLUICE_LOG_LEVEL: 'warn' },
    readyUrl: `http://127.0.0.1:${metricsPort}/healthz`,
  })
  const endpoint = `http://127.0.0.1:${port}`
  try {
    const created = await fetch(`${endpoint}/v1/streams`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench-archive', shardCount: 4, writeLimits: { recordsPerSecond: 1_000_000, bytesPerSecond: 1_000_000_000 } }),
    })
    if (created.status !== 201) throw new Error(`creating bench-archive answered ${created.status}`)
    const cpu0 = cpuSeconds(archiver.pid)
    const t0 = Date.now()
    const r = load(endpoint, 'bench-archive', ingest.pid)
    const loadEnd = Date.now()
    const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    // Every acknowledged record, as the ingest counts them.
    const written = async (): Promise<number> => metric(await (await fetch(`${endpoint}/metrics`)).text(), 'sluice_records_accepted_total')
    const target = await written()
    let text = await scrape()
    while (metric(text, 'sluice_archiver_records_total') < target) {
      if (Date.now() - loadEnd > 120_000) throw new Error(`the archiver did not catch up within 120 s (${metric(text, 'sluice_archiver_records_total')} of ${target})`)
      await new Promise((resolve) => setTimeout(resolve, 100))
      text = await scrape()
    }
    const done = Date.now()
    const cpu = cpuSeconds(archiver.pid) - cpu0
    const wall = (done - t0) / 1000
    return {
      ingestRecordsPerSec: r.recordsPerSec,
      records: target,
      loadSeconds: (loadEnd - t0) / 1000,
      catchUpSeconds: (done - loadEnd) / 1000,
      archiverRecordsPerSec: Math.round(target / wall),
      archiverCores: cpu / wall,
      objects: metric(text, 'sluice_archiver_objects_total'),
      recordBytes: metric(text, 'sluice_archiver_bytes_total'),
      compressedBytes: metric(text, 'sluice_archiver_compressed_bytes_total'),
    }
  } finally {
    await archiver.kill('SIGTERM')
    await ingest.kill('SIGTERM')
    await s3.close()
    await redis.close()
  }
}
