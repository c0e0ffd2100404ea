/**
 * `npm run bench`: Sluice's put path against kinesalite, side by side in one run, so the figures are
 * ratios on the same noisy machine. Uses the shared load generator (../shared/bench/putload.mjs,
 * copied with its peers into .data/bench-peers and installed there; ../shared stays untouched).
 *
 * Sluice runs as it does in production: its own process (`node services/ingest/dist/src/server.js`)
 * against a private redis-server with AOF on (appendfsync everysec), limits enforced but raised for
 * the bench (writeLimits at create). kinesalite runs in memory, as in BASELINE.md. Within a scenario
 * the systems take turns run by run (A B C A B C), and every run starts from nothing: a fresh Sluice
 * stream on an empty, quiet Redis, or a fresh peer process (compare() and settleRedis()).
 *
 *   npm run bench -- [--scenarios a,b,c] [--runs 1] [--duration 10] [--warmup 3] [--peers kinesalite]
 *                    [--protocols rest,kinesis] [--skip-e2e] [--skip-archiver]
 */
import { spawnSync, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort, startProcess, startRedis } from '@sluice/testkit'
import { endToEnd, type EndToEndResult } from './end-to-end.js'
import { benchArchiver, type ArchiverBenchResult } from './archiver.js'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..')
const shared = process.env.SLUICE_SHARED_BENCH ?? resolve(repo, '../shared/bench')
const work = join(repo, '.data/bench-peers')
const resultsDir = join(repo, '.data/bench')

const SCENARIOS: Record<string, { batch: number; size: number; concurrency: number; goal: number; what: string }> = {
  a: { batch: 500, size: 100, concurrency: 8, goal: 5, what: '500 x 100 B per request, 8 in flight' },
  b: { batch: 100, size: 1024, concurrency: 8, goal: 4, what: '100 x 1 KiB per request, 8 in flight' },
  c: { batch: 1, size: 100, concurrency: 32, goal: 3, what: '1 x 100 B per request, 32 in flight' },
}

const { values: args } = parseArgs({
  options: {
    scenarios: { type: 'string', default: 'a,b,c' },
    runs: { type: 'string', default: '1' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    peers: { type: 'string', default: 'kinesalite' },
    // Sluice's REST API and its Kinesis endpoint (the same wire format the peers speak)
    protocols: { type: 'string', default: 'rest,kinesis' },
    // put → consumer handler latency at 2,000 records/s, and one consumer draining one shard
    'skip-e2e': { type: 'boolean', default: false },
    // the archiver under scenario a's load (Redis → s3rver)
    'skip-archiver': { type: 'boolean', default: false },
  },
})
const runs = Number(args.runs)
const duration = Number(args.duration)
const warmup = Number(args.warmup)

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

/** Copies the shared load generator and peers and installs their dependencies once. */
function preparePeers(): void {
  if (!existsSync(join(shared, 'putload.mjs'))) {
    throw new Error(`the shared bench kit is not at ${shared} (set SLUICE_SHARED_BENCH to its folder)`)
  }
  mkdirSync(work, { recursive: true })
  for (const f of ['putload.mjs', 'package.json', 'package-lock.json']) cpSync(join(shared, f), join(work, f))
  cpSync(join(shared, 'peers'), join(work, 'peers'), { recursive: true })
  const stamp = join(work, 'node_modules/.installed-from')
  const lock = readFileSync(join(work, 'package-lock.json'), 'utf8')
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lock) {
    log('bench: installing the load generator and peers into .data/bench-peers (once)…')
    const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: work, stdio: 'inherit' })
    if (r.status !== 0) throw new Error('npm ci in .data/bench-peers failed')
    writeFileSync(stamp, lock)
  }
}

interface PutloadResult {
  recordsPerSec: number
  payloadMBPerSec: number
  latencyMs: { p50: number | null; p99: number | null }
  errors: { requests: number; throttledRequests: number; failedRecords: number; byType: Record<string, number> }
  peer: { cpuPct: number | null; rssMiB?: number; peakRssMiB?: number } | null
  clientCpuPct: number
}

function putload(extra: string[]): PutloadResult {
  const r = spawnSync(process.execPath, [join(work, 'putload.mjs'), ...extra], {
    cwd: work,
    encoding: 'utf8',
    timeout: (duration + warmup + 120) * 1000,
  })
  if (r.status !== 0) throw new Error(`putload failed (${r.status}): ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PutloadResult
}

function waitPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms
  return new Promise((resolvePort, reject) => {
    const attempt = (): void => {
      const s = createConnection({ host: '127.0.0.1', port })
      s.once('connect', () => {
        s.destroy()
        resolvePort()
      })
      s.once('error', () => {
        s.destroy()
        if (Date.now() > until) reject(new Error(`port ${port} did not open`))
        else setTimeout(attempt, 100)
      })
    }
    attempt()
  })
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y)
  const n = s.length
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024
}

interface Row {
  system: string
  scenario: string
  recordsPerSec: number
  mbPerSec: number
  p50: number | null
  p99: number | null
  serverCpuPct: number | null
  serverRssMiB: number | null
  errors: number
  runs: number[]
}

function summarize(system: string, scenario: string, rs: PutloadResult[], rss: number | null): Row {
  const mid = rs.slice().sort((x, y) => x.recordsPerSec - y.recordsPerSec)[Math.floor(rs.length / 2)]!
  return {
    system,
    scenario,
    recordsPerSec: median(rs.map((r) => r.recordsPerSec)),
    mbPerSec: median(rs.map((r) => r.payloadMBPerSec)),
    p50: mid.latencyMs.p50,
    p99: mid.latencyMs.p99,
    serverCpuPct: mid.peer?.cpuPct ?? null,
    serverRssMiB: rss,
    errors: rs.reduce((n, r) => n + r.errors.requests + r.errors.failedRecords, 0),
    runs: rs.map((r) => r.recordsPerSec),
  }
}

interface SluiceUnderTest {
  port: number
  pid: number
  redisPort: number
  close(): Promise<void>
}

/** One ingest process and its Redis for the whole comparison, so its RSS trail covers every run. */
async function startSluice(): Promise<SluiceUnderTest> {
  const redis = await startRedis({ appendonly: true, appendfsync: 'everysec' })
  const port = await freePort()
  const dataDir = join(resultsDir, 'ingest-data')
  mkdirSync(dataDir, { recursive: true })
  try {
    const ingest = await startProcess({
      command: process.execPath,
      args: [join(repo, 'services/ingest/dist/src/server.js')],
      env: { SLUICE_REDIS_URL: redis.url, SLUICE_PORT: String(port), SLUICE_DATA_DIR: dataDir, SLUICE_LOG_LEVEL: 'warn' },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    })
    return {
      port,
      pid: ingest.pid,
      redisPort: redis.port,
      async close() {
        await ingest.kill('SIGTERM')
        await redis.close()
      },
    }
  } catch (err) {
    await redis.close()
    throw err
  }
}

function redisInfo(port: number, section: string): string {
  return spawnSync('redis-cli', ['-p', String(port), 'info', section], { encoding: 'utf8' }).stdout ?? ''
}

/**
 * Waits until Sluice's Redis has no AOF rewrite or save running and holds nearly nothing (the
 * previous run's stream was deleted, and its keys purged), so the next run, whichever system it
 * measures, starts on a quiet machine, and a Sluice run on an empty store, as a peer run starts on a
 * fresh process. Rewrites that happen during a run stay in that run's figures: they are what
 * durability costs.
 */
async function settleRedis(port: number): Promise<void> {
  const until = Date.now() + 120_000
  for (;;) {
    const memory = Number(/used_memory:(\d+)/.exec(redisInfo(port, 'memory'))?.[1] ?? 0)
    const persistence = redisInfo(port, 'persistence')
    const busy = /aof_rewrite_in_progress:1|rdb_bgsave_in_progress:1|aof_rewrite_scheduled:1/.test(persistence)
    if (!busy && memory < 64 * 1024 * 1024) return
    if (Date.now() > until) {
      log(`bench: Redis still busy after 120 s (used_memory ${memory}, rewrite or save running: ${busy}); going on`)
      return
    }
    await new Promise((r) => setTimeout(r, 250))
  }
}

interface System {
  name: string
  /** Before each run: make the stream (or start the process), warm up. */
  prepare(sc: string): Promise<void>
  run(sc: string, label: string): PutloadResult
  /** After each run: remove what it wrote. */
  finish(sc: string): Promise<void>
  /** RSS of the server after its last run, MiB. */
  rss(last: PutloadResult): number | null
}

function loadArgs(sc: string, endpoint: string, pid: number): string[] {
  const S = SCENARIOS[sc]!
  return ['--endpoint', endpoint, '--batch', String(S.batch), '--size', String(S.size), '--concurrency', String(S.concurrency), '--pid', String(pid)]
}

function sluiceSystem(sluice: SluiceUnderTest, protocol: string, rssTrail: number[]): System {
  const endpoint = `http://127.0.0.1:${sluice.port}`
  const stream = (sc: string): string => `bench-${protocol}-${sc}`
  const base = (sc: string): string[] => [...loadArgs(sc, endpoint, sluice.pid), '--protocol', protocol, '--stream', stream(sc)]
  return {
    name: `sluice-${protocol}`,
    async prepare(sc) {
      await settleRedis(sluice.redisPort)
      // Limits stay enforced, raised for the bench: the stream is made over REST with writeLimits
      // (the Kinesis API has no per-stream limits), then loaded through the protocol under test.
      const created = await fetch(`${endpoint}/v1/streams`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: stream(sc), shardCount: 4, writeLimits: { recordsPerSecond: 1_000_000, bytesPerSecond: 1_000_000_000 } }),
      })
      if (created.status !== 201) throw new Error(`creating ${stream(sc)} answered ${created.status} ${await created.text()}`)
      putload([...base(sc), '--duration', String(warmup), '--label', `sluice-${protocol}/${sc}/warmup`])
    },
    run(sc, label) {
      const r = putload([...base(sc), '--duration', String(duration), '--label', label])
      rssTrail.push(rssMiB(sluice.pid))
      return r
    },
    async finish(sc) {
      const deleted = await fetch(`${endpoint}/v1/streams/${stream(sc)}`, { method: 'DELETE' })
      if (deleted.status !== 204 && deleted.status !== 200) throw new Error(`deleting ${stream(sc)} answered ${deleted.status} ${await deleted.text()}`)
      log(`[sluice-${protocol}/${sc}] stream deleted; redis used_memory before: ${/used_memory_human:(\S+)/.exec(redisInfo(sluice.redisPort, 'memory'))?.[1] ?? '?'}`)
    },
    rss: () => rssTrail.at(-1) ?? null,
  }
}

type PeerTable = Record<string, { port: number; cmd: (tag: string) => [string, string[], Record<string, string>] }>

/** A peer runs fresh for each run, in memory, as in BASELINE.md. */
function peerSystem(peers: PeerTable, peerName: string, settle: () => Promise<void>): System {
  const peer = peers[peerName]
  if (!peer) throw new Error(`unknown peer ${peerName}`)
  let child: ReturnType<typeof spawn> | undefined
  let exited: Promise<unknown> | undefined
  const base = (sc: string): string[] => [...loadArgs(sc, `http://127.0.0.1:${peer.port}`, child!.pid!), '--stream', `bench-${sc}`]
  return {
    name: peerName,
    async prepare(sc) {
      await settle()
      const [cmd, cmdArgs, env] = peer.cmd(`${sc}-${Date.now()}`)
      child = spawn(cmd, cmdArgs, { env: { ...process.env, ...env }, stdio: 'ignore' })
      exited = new Promise((r) => child!.once('exit', r))
      await waitPort(peer.port, 30_000)
      putload([...base(sc), '--create', '4', '--duration', String(warmup)])
    },
    run(sc, label) {
      return putload([...base(sc), '--duration', String(duration), '--label', label])
    },
    async finish() {
      child?.kill('SIGTERM')
      await exited
      child = undefined
    },
    rss: (last) => last.peer?.rssMiB ?? null,
  }
}

/**
 * Every system under the same scenario back to back, run by run (A B C A B C …), so a change in the
 * shared machine's speed over the minutes of a bench lands on all of them alike and the ratios hold.
 */
async function compare(scenarios: string[]): Promise<{ rows: Row[]; rssTrail: number[] }> {
  const sluice = await startSluice()
  const rssTrail: number[] = [rssMiB(sluice.pid)]
  const rows: Row[] = []
  try {
    const peers = (await import(join(work, 'peers/peers.mjs'))) as { PEERS: PeerTable }
    const settle = (): Promise<void> => settleRedis(sluice.redisPort)
    const systems = [
      ...args.protocols.split(',').filter(Boolean).map((p) => sluiceSystem(sluice, p, rssTrail)),
      ...args.peers.split(',').filter(Boolean).map((p) => peerSystem(peers.PEERS, p, settle)),
    ]
    for (const sc of scenarios) {
      const results = new Map<System, PutloadResult[]>(systems.map((s) => [s, []]))
      // Every run starts from nothing: a fresh stream (or peer process), warmed up, removed after the
      // run. Otherwise a Sluice run would find the previous runs' data in Redis, and an AOF rewrite of
      // all of it would land on whichever system happened to run next.
      for (let i = 0; i < runs; i++) {
        for (const system of systems) {
          await system.prepare(sc)
          let r: PutloadResult
          try {
            r = system.run(sc, `${system.name}/${sc}/run${i + 1}`)
          } finally {
            await system.finish(sc)
          }
          results.get(system)!.push(r)
          log(`[${system.name}/${sc}] run ${i + 1}: ${r.recordsPerSec} rec/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, server cpu ${r.peer?.cpuPct}%, errors ${r.errors.requests}/${r.errors.failedRecords}`)
        }
      }
      for (const system of systems) {
        const rs = results.get(system)!
        rows.push(summarize(system.name, sc, rs, system.rss(rs.at(-1)!)))
      }
    }
  } finally {
    await sluice.close()
  }
  return { rows, rssTrail }
}

/** A fresh Redis and ingest for the end-to-end run, reads raised so polling is not the latency. */
async function benchEndToEnd(): Promise<EndToEndResult> {
  const redis = await startRedis({ appendonly: true, appendfsync: 'everysec' })
  const port = await freePort()
  const dataDir = join(resultsDir, 'ingest-data-e2e')
  mkdirSync(dataDir, { recursive: true })
  const ingest = await startProcess({
    command: process.execPath,
    args: [join(repo, 'services/ingest/dist/src/server.js')],
    env: { SLUICE_REDIS_URL: redis.url, SLUICE_PORT: String(port), SLUICE_DATA_DIR: dataDir, SLUICE_LOG_LEVEL: 'warn', SLUICE_SHARD_READS_PER_SECOND: '1000', SLUICE_SHARD_READ_BYTES_PER_SECOND: '1000000000' },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
  })
  try {
    return await endToEnd(`http://127.0.0.1:${port}`, duration)
  } finally {
    await ingest.kill('SIGTERM')
    await redis.close()
  }
}

function fmt(n: number | null, digits = 0): string {
  return n === null ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

async function main(): Promise<void> {
  const scenarios = args.scenarios.split(',').filter((s) => SCENARIOS[s])
  preparePeers()
  mkdirSync(resultsDir, { recursive: true })
  const started = new Date().toISOString()
  const compared = await compare(scenarios)
  const sluiceRows = compared.rows.filter((r) => r.system.startsWith('sluice-'))
  const peerRows = compared.rows.filter((r) => !r.system.startsWith('sluice-'))
  const e2e = args['skip-e2e'] ? undefined : await benchEndToEnd()
  let archive: ArchiverBenchResult | undefined
  if (!args['skip-archiver']) {
    const dataDir = join(resultsDir, 'ingest-data-archive')
    mkdirSync(dataDir, { recursive: true })
    const S = SCENARIOS.a!
    archive = await benchArchiver(repo, dataDir, (endpoint, stream, pid) =>
      putload(['--endpoint', endpoint, '--protocol', 'rest', '--stream', stream, '--batch', String(S.batch), '--size', String(S.size),
        '--concurrency', String(S.concurrency), '--pid', String(pid), '--duration', String(duration), '--label', 'sluice-rest/a/archiver']),
    )
  }
  const rows = compared.rows

  const lines = [
    `Sluice bench ${started} — ${runs} x ${duration} s per scenario after ${warmup} s warm-up; load generator and servers share this machine`,
    '',
    '| system | scenario | records/s | MB/s | p50 ms | p99 ms | server CPU % | server RSS MiB | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.system} | ${r.scenario} | ${fmt(r.recordsPerSec)} | ${fmt(r.mbPerSec, 2)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.serverCpuPct)} | ${fmt(r.serverRssMiB)} | ${r.errors} |`),
    '',
    '| scenario | sluice / kinesalite | goal | met |',
    '|---|---:|---:|---|',
  ]
  for (const ours of sluiceRows) {
    const sc = ours.scenario
    const theirs = peerRows.find((r) => r.scenario === sc && r.system === 'kinesalite')
    if (!theirs || theirs.recordsPerSec === 0) continue
    const ratio = ours.recordsPerSec / theirs.recordsPerSec
    lines.push(`| ${sc} (${SCENARIOS[sc]!.what}), ${ours.system} | ${ratio.toFixed(2)}x | ${SCENARIOS[sc]!.goal}x | ${ratio >= SCENARIOS[sc]!.goal ? 'yes' : 'no'} |`)
  }
  lines.push('', `ingest RSS (MiB) after start and after each run: ${compared.rssTrail.map((x) => x.toFixed(0)).join(' → ')}`)
  if (e2e) {
    lines.push(
      '',
      `end to end (SDK Producer → Consumer handler, 1 shard, ${e2e.ratePerSec} records/s, reads raised to 1,000/s): ` +
        `p50 ${e2e.p50Ms} ms, p99 ${e2e.p99Ms} ms, max ${e2e.maxMs} ms over ${e2e.records} records (goal p99 < 50 ms: ${e2e.p99Ms < 50 ? 'yes' : 'no'})`,
      `one consumer draining one shard: ${e2e.drainRecordsPerSec.toLocaleString('en-US')} records/s (${e2e.drainRecords.toLocaleString('en-US')} records of 100 B)`,
    )
  }
  if (archive) {
    const keptUp = archive.catchUpSeconds <= 2 + 3 && archive.archiverCores <= 0.5
    lines.push(
      '',
      `archiver under scenario a (REST, objects close after 2 s): ingest ${fmt(archive.ingestRecordsPerSec)} records/s for ${archive.loadSeconds.toFixed(1)} s; ` +
        `all ${fmt(archive.records)} records archived ${archive.catchUpSeconds.toFixed(1)} s after the load stopped ` +
        `(${fmt(archive.archiverRecordsPerSec)} records/s over the whole run), archiver CPU ${archive.archiverCores.toFixed(2)} cores; ` +
        `${fmt(archive.objects)} objects, compression ${(archive.recordBytes / Math.max(1, archive.compressedBytes)).toFixed(2)}x (record bytes / gzip bytes) ` +
        `(goal: keeps up using <= 0.5 core: ${keptUp ? 'yes' : 'no'})`,
    )
  }
  const report = lines.join('\n')
  console.log(report)
  const file = join(resultsDir, `bench-${started.replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify({ started, runs, duration, warmup, rows, rssTrail: compared.rssTrail, endToEnd: e2e, archiver: archive }, null, 2))
  log(`\nraw results: ${file}`)
}

main().catch((err: unknown) => {
  log(`bench failed: ${err instanceof Error ? err.stack : String(err)}`)
  process.exit(1)
})
