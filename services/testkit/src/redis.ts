/**
 * Real redis-server processes for tests: single servers (with AOF as asked) and 3-master clusters,
 * on free ports, each in its own temporary directory. Fault tests kill (-9), freeze (SIGSTOP) and
 * restart them; restart keeps the port and the data directory, so AOF recovery is what is tested.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, mkdirSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, isPortFree } from './ports.js'
import { exitOf, track } from './processes.js'
import { redisCommand } from './resp.js'
import { waitFor } from './wait.js'

export interface StartRedisOptions {
  appendonly?: boolean
  appendfsync?: 'always' | 'everysec' | 'no'
  maxmemory?: string
  maxmemoryPolicy?: string
  port?: number
  dir?: string
  extraArgs?: string[]
}

export interface RedisServer {
  host: string
  port: number
  url: string
  dir: string
  readonly pid: number
  /** Sends the signal (default SIGKILL, i.e. kill -9) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** SIGSTOP: Redis freezes with its sockets open, as a hung server does. */
  stop(): void
  /** SIGCONT */
  resume(): void
  /** Starts it again on the same port and directory; resolves when it answers and has loaded its AOF. */
  restart(): Promise<void>
  /** The server's log, for failure messages. */
  log(): string
  close(): Promise<void>
}

let checked = false
function requireRedisServer(): void {
  if (checked) return
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (r.error || r.status !== 0) {
    throw new Error(
      'redis-server is not installed (or not on PATH). Run `npm test`, which installs it, or `apt-get install redis-server`.',
    )
  }
  checked = true
}

/** Resolves when the server answers PING with PONG (not LOADING, not refused). */
export async function waitForRedis(port: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    async () => {
      const reply = await redisCommand(port, ['PING'], 1000)
      if (reply instanceof Error) throw reply
      return reply === 'PONG'
    },
    { timeoutMs, intervalMs: 20, message: `redis-server on port ${port} to answer PING` },
  )
}

function spawnRedis(args: string[], logFile: string): ChildProcess {
  const out = openSync(logFile, 'a')
  try {
    const child = spawn('redis-server', args, { stdio: ['ignore', out, out] })
    track(child)
    return child
  } finally {
    closeSync(out)
  }
}

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  requireRedisServer()
  const ownsDir = options.dir === undefined
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sluice-redis-'))
  mkdirSync(dir, { recursive: true })
  const port = options.port ?? (await freePort())
  const logFile = join(dir, 'redis.log')
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', options.appendonly === false ? 'no' : 'yes',
    '--appendfsync', options.appendfsync ?? 'everysec',
    '--appenddirname', 'appendonlydir',
    '--maxmemory-policy', options.maxmemoryPolicy ?? 'noeviction',
    ...(options.maxmemory ? ['--maxmemory', options.maxmemory] : []),
    ...(options.extraArgs ?? []),
  ]
  let child = spawnRedis(args, logFile)
  const started = async (): Promise<void> => {
    let failed = false
    void exitOf(child).then(() => (failed = true))
    try {
      await waitForRedis(port)
    } catch (err) {
      if (failed) throw new Error(`redis-server exited at start:\n${readLog()}`)
      throw err
    }
  }
  const readLog = (): string => {
    try {
      return readFileSync(logFile, 'utf8').slice(-8000)
    } catch {
      return ''
    }
  }
  await started()
  const server: RedisServer = {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return child.pid!
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) {
        // A stopped process only acts on SIGTERM after SIGCONT; SIGKILL works either way.
        if (signal !== 'SIGKILL') child.kill('SIGCONT')
        child.kill(signal)
      }
      await exitOf(child)
    },
    stop: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    async restart() {
      if (child.exitCode === null && child.signalCode === null) await server.kill('SIGKILL')
      await waitFor(() => isPortFree(port), { timeoutMs: 5000, message: `port ${port} to be released` })
      child = spawnRedis(args, logFile)
      await started()
    },
    log: readLog,
    async close() {
      await server.kill('SIGTERM').catch(() => undefined)
      if (ownsDir) rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}

export interface RedisClusterHandle {
  nodes: { host: string; port: number }[]
  close(): Promise<void>
}

/** A port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort()
    if (p + 10000 <= 65535 && (await isPortFree(p + 10000))) return p
  }
  throw new Error('no free port pair for a cluster node')
}

export async function startRedisCluster(options: { masters?: number } = {}): Promise<RedisClusterHandle> {
  requireRedisServer()
  const masters = options.masters ?? 3
  const servers: RedisServer[] = []
  try {
    for (let i = 0; i < masters; i++) {
      servers.push(
        await startRedis({
          port: await clusterPort(),
          appendonly: false,
          extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'],
        }),
      )
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    )
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`)
    for (const s of servers) {
      await waitFor(
        async () => {
          const info = await redisCommand(s.port, ['CLUSTER', 'INFO'])
          return typeof info === 'string' && info.includes('cluster_state:ok') && info.includes('cluster_slots_assigned:16384')
        },
        { timeoutMs: 20_000, intervalMs: 50, message: `cluster node ${s.port} to report cluster_state:ok` },
      )
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()))
    throw err
  }
  return {
    nodes: servers.map((s) => ({ host: s.host, port: s.port })),
    close: async () => {
      await Promise.all(servers.map((s) => s.close()))
    },
  }
}
