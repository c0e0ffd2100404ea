/**
 * Real redis-server processes for tests, each on a free port in its own directory, configured on the
 * command line (no config file). Fault tests kill (-9), freeze (SIGSTOP) and restart them; restart
 * keeps the port and the data directory, so what comes back is what the AOF had.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { adoptChild, adoptTemporaryDir, exitOf, isRunning, removeTemporaryDir, signalAndWait } from './lifecycle.js'
import { freePort, isPortFree } from './ports.js'
import { redisCommand } from './resp.js'
import { waitFor } from './wait.js'

export interface StartRedisOptions {
  /** Default true: Sluice's durability is the AOF. */
  appendonly?: boolean
  /** Default 'everysec', as in production; 'always' for tests that kill -9 and count. */
  appendfsync?: 'always' | 'everysec' | 'no'
  /** e.g. '50mb'; unset means no limit. */
  maxmemory?: string
  /** Default 'noeviction', as Sluice requires. */
  maxmemoryPolicy?: string
  /** Default: a free port. */
  port?: number
  /** Default: a fresh temporary directory, removed by close() (and when the test process exits). */
  dir?: string
  /** More redis-server arguments, e.g. ['--maxclients', '20']. */
  extraArgs?: string[]
  /** How long start and restart may take, AOF loading included (default 30,000 ms). */
  startTimeoutMs?: number
}

export interface RedisServer {
  readonly host: string
  readonly port: number
  /** redis://127.0.0.1:PORT */
  readonly url: string
  /** The data directory (AOF in appendonlydir/, the log in redis.log). */
  readonly dir: string
  /** The server's stdout (its log), appended across restarts. */
  readonly logFile: string
  /** The current process; a restart changes it. */
  readonly pid: number
  /** Sends the signal (default SIGKILL, i.e. kill -9) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** SIGSTOP: Redis freezes with its sockets open, as a hung server does. */
  stop(): void
  /** SIGCONT */
  resume(): void
  /**
   * Starts it again (killing it first with SIGKILL if it still runs) on the same port, directory and
   * options; resolves once it answers PING, i.e. has finished loading its AOF (PING answers LOADING
   * until then).
   */
  restart(): Promise<void>
  /** The end of the server's log, for failure messages. */
  log(): string
  /** Stops it (SIGTERM; SIGKILL if it hangs) and removes its directory if testkit made it. Idempotent. */
  close(): Promise<void>
}

const installed = new Set<string>()
/** Fails fast with the fix, instead of with a spawn ENOENT deep inside a test. */
export function requireRedisBinaries(commands: readonly string[] = ['redis-server']): void {
  for (const command of commands) {
    if (installed.has(command)) continue
    const r = spawnSync(command, ['--version'], { encoding: 'utf8' })
    if (r.error || r.status !== 0) {
      throw new Error(
        `${command} is not installed (or not on PATH). Install it with \`apt-get install redis-server\` ` +
          '(as root, or with sudo), or run `npm test`, which installs it.',
      )
    }
    installed.add(command)
  }
}

/**
 * One readiness probe: PING must answer PONG (not LOADING: the AOF is loaded), and the server on the
 * port must be the process we started — another test's redis-server that won a race for the port
 * would otherwise pass for ours.
 */
async function answersAs(port: number, pid: number): Promise<boolean> {
  const pong = await redisCommand(port, ['PING'], 1000)
  if (pong instanceof Error) throw pong
  if (pong !== 'PONG') return false
  const info = await redisCommand(port, ['INFO', 'server'], 1000)
  const owner = typeof info === 'string' ? /process_id:(\d+)/.exec(info)?.[1] : undefined
  if (Number(owner) !== pid) throw new Error(`port ${port} is answered by redis-server pid ${owner ?? '?'}, not ours (${pid})`)
  return true
}

function tailOf(file: string, from = 0, chars = 8000): string {
  try {
    return readFileSync(file, 'utf8').slice(from).slice(-chars)
  } catch {
    return ''
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

class PortTakenError extends Error {
  override name = 'PortTakenError'
}

/** Spawns redis-server and waits until it is ready; rejects with its log if it exits first. */
async function launch(args: string[], port: number, logFile: string, timeoutMs: number): Promise<ChildProcess> {
  const logStart = sizeOf(logFile)
  const out = openSync(logFile, 'a')
  let child: ChildProcess
  try {
    child = spawn('redis-server', args, { stdio: ['ignore', out, out] })
  } finally {
    closeSync(out) // the child has its own copy of the descriptor
  }
  adoptChild(child)
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', reject)
  })
  const pid = child.pid
  if (pid === undefined) throw new Error('redis-server did not start')
  const gone = new AbortController()
  const onExit = (): void => gone.abort()
  child.once('exit', onExit)
  try {
    await waitFor(() => answersAs(port, pid), {
      timeoutMs,
      intervalMs: 20,
      signal: gone.signal,
      message: `redis-server (pid ${pid}) to answer PING on port ${port}`,
    })
  } catch (err) {
    const log = tailOf(logFile, logStart)
    if (gone.signal.aborted) {
      const { code, signal } = await exitOf(child)
      const message = `redis-server exited (${signal ?? `code ${code}`}) before it was ready:\n${log}`
      throw /Address already in use/.test(log) ? new PortTakenError(message) : new Error(message)
    }
    await signalAndWait(child, 'SIGKILL')
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- redis.log ---\n${log}`, { cause: err })
  } finally {
    child.off('exit', onExit)
  }
  return child
}

/**
 * startRedis with the port picked by `pickPort` (retried on a lost race for the port, which another
 * test file running in parallel can win between our check and redis-server's bind).
 */
export async function startRedisOn(pickPort: () => Promise<number>, options: StartRedisOptions): Promise<RedisServer> {
  requireRedisBinaries()
  const ownsDir = options.dir === undefined
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sluice-redis-'))
  if (ownsDir) adoptTemporaryDir(dir)
  mkdirSync(dir, { recursive: true })
  const logFile = join(dir, 'redis.log')
  const timeoutMs = options.startTimeoutMs ?? 30_000
  const argsFor = (port: number): string[] => [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    // No RDB snapshots: the AOF is the durability, as in infra/redis/sluice.conf.
    '--save', '',
    '--appendonly', options.appendonly === false ? 'no' : 'yes',
    '--appendfsync', options.appendfsync ?? 'everysec',
    '--appenddirname', 'appendonlydir',
    '--maxmemory-policy', options.maxmemoryPolicy ?? 'noeviction',
    ...(options.maxmemory !== undefined ? ['--maxmemory', options.maxmemory] : []),
    ...(options.extraArgs ?? []),
  ]

  let port = 0
  let child: ChildProcess | undefined
  for (let attempt = 1; child === undefined; attempt++) {
    port = await pickPort()
    try {
      child = await launch(argsFor(port), port, logFile, timeoutMs)
    } catch (err) {
      if (!(err instanceof PortTakenError && options.port === undefined && attempt < 5)) {
        if (ownsDir) removeTemporaryDir(dir)
        throw err
      }
    }
  }
  let current: ChildProcess = child
  const args = argsFor(port)

  const server: RedisServer = {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    logFile,
    get pid() {
      return current.pid ?? -1
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      await signalAndWait(current, signal)
    },
    stop: () => void current.kill('SIGSTOP'),
    resume: () => void current.kill('SIGCONT'),
    async restart() {
      await signalAndWait(current, 'SIGKILL')
      // The kernel closes the listening socket with the process; this only guards against a stranger.
      await waitFor(() => isPortFree(port), { timeoutMs: 5000, message: `port ${port} to be released` })
      current = await launch(args, port, logFile, timeoutMs)
    },
    log: () => tailOf(logFile),
    async close() {
      if (isRunning(current)) await signalAndWait(current, 'SIGTERM', 5000)
      if (ownsDir) removeTemporaryDir(dir)
    },
  }
  return server
}

/** A real redis-server on a free port (or `options.port`), ready when this resolves. */
export function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const { port } = options
  return startRedisOn(port === undefined ? freePort : () => Promise.resolve(port), options)
}
