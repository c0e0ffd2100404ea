/**
 * A real S3-protocol server (s3rver) as its own process, on a free port, with its data in a
 * directory: tests put, get and list through the AWS SDK as they would against AWS, and fault tests
 * kill (-9), freeze (SIGSTOP) and restart it; restart keeps the port and the data directory.
 *
 * The process is s3rver-main.js (see there for why not s3rver's CLI). It reports over IPC the port it
 * bound, so the server that answers is known to be ours, and it exits when the test process does,
 * even one killed -9.
 *
 * s3rver as an S3, in short: objects persist as files (no fsync); ETag is the quoted hex MD5 of the
 * body; Content-MD5 and x-amz-checksum-* are accepted but not checked; SigV4 signatures are not
 * checked either (only the access key id must be S3RVER), SigV2 ones are.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { adoptChild, adoptTemporaryDir, exitOf, isRunning, removeTemporaryDir, signalAndWait } from './lifecycle.js'
import { freePort, isPortFree } from './ports.js'
import type { S3rverReport } from './s3rver-main.js'
import { waitFor } from './wait.js'

export interface StartS3Options {
  /** Default: a free port. */
  port?: number
  /** Default: a fresh temporary directory, removed by close() (and when the test process exits). */
  dir?: string
  /** Buckets that exist when startS3 resolves (one that already exists in `dir` keeps its objects). */
  buckets?: string[]
  /** How long start and restart may take (default 15,000 ms). */
  timeoutMs?: number
}

export interface S3Server {
  /** http://127.0.0.1:PORT — use path-style addressing (forcePathStyle: true). */
  readonly endpoint: string
  readonly port: number
  /** The data directory: one subdirectory per bucket, plus the log. */
  readonly dir: string
  /** 'us-east-1'; s3rver serves any region. */
  readonly region: string
  /** What s3rver accepts: S3RVER / S3RVER, its one built-in account. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string }
  /** The server's output (its failures; requests are not logged), appended across restarts. */
  readonly logFile: string
  /** The current process; a restart changes it. */
  readonly pid: number
  /** Sends the signal (default SIGKILL, i.e. kill -9) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** SIGSTOP: connections are still accepted (by the kernel) but nothing answers, as with a hung S3. */
  stop(): void
  /** SIGCONT: requests sent meanwhile are answered. */
  resume(): void
  /** Starts it again (killing it first with SIGKILL if it still runs) on the same port and data directory. */
  restart(): Promise<void>
  /** The end of the server's log, for failure messages. */
  log(): string
  /** Stops it (SIGTERM; SIGKILL if it hangs) and removes its directory if testkit made it. Idempotent. */
  close(): Promise<void>
}

const runner = fileURLToPath(new URL('./s3rver-main.js', import.meta.url))
/** Without the legacy provider a truncated ListObjectsV2 answers 500 (see s3rver-main.ts). */
const nodeFlags = process.allowedNodeEnvironmentFlags.has('--openssl-legacy-provider') ? ['--openssl-legacy-provider'] : []

/** The log from byte `from` on (its last 8,000 characters), for failure messages. */
function logSince(file: string, from = 0): string {
  try {
    return readFileSync(file).subarray(from).toString('utf8').slice(-8000)
  } catch {
    return ''
  }
}

class PortTakenError extends Error {
  override name = 'PortTakenError'
}

function isReport(message: unknown): message is S3rverReport {
  const type = (message as { type?: unknown } | null)?.type
  return type === 'listening' || type === 'failed'
}

/** The runner's one report, or why there is none. */
function firstReport(child: ChildProcess, timeoutMs: number): Promise<S3rverReport | 'exited' | 'timed out'> {
  return new Promise((resolve) => {
    // This timer also keeps the test process alive meanwhile: the child is unref'd (lifecycle.ts).
    const timer = setTimeout(() => settle('timed out'), timeoutMs)
    const onMessage = (message: unknown): void => {
      if (isReport(message)) settle(message)
    }
    const onExit = (): void => settle('exited')
    function settle(outcome: S3rverReport | 'exited' | 'timed out'): void {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      child.off('error', onExit)
      resolve(outcome)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
    child.once('error', onExit)
  })
}

/** Spawns the runner and waits until it has bound `port` and answers HTTP; rejects with its log otherwise. */
async function launch(port: number, dir: string, buckets: readonly string[], logFile: string, timeoutMs: number): Promise<ChildProcess> {
  const deadline = Date.now() + timeoutMs
  const logStart = statSync(logFile, { throwIfNoEntry: false })?.size ?? 0
  const args = [...nodeFlags, runner, '--directory', dir, '--address', '127.0.0.1', '--port', String(port), ...buckets.flatMap((b) => ['--bucket', b])]
  const out = openSync(logFile, 'a')
  let child: ChildProcess
  try {
    child = spawn(process.execPath, args, { stdio: ['ignore', out, out, 'ipc'] })
  } finally {
    closeSync(out) // the child has its own copy of the descriptor
  }
  adoptChild(child)
  const outcome = await firstReport(child, timeoutMs)
  // The channel stays open (closing it tells the runner to exit) but must not keep this process alive.
  child.channel?.unref()
  const failure = (what: string): string => `s3rver on 127.0.0.1:${port} ${what}\n--- ${logFile} ---\n${logSince(logFile, logStart)}`
  if (outcome === 'exited') {
    const { code, signal } = await exitOf(child)
    throw new Error(failure(`exited (${signal ?? `code ${code}`}) before it was ready`))
  }
  if (outcome === 'timed out' || outcome.type === 'failed') {
    await signalAndWait(child, 'SIGKILL')
    if (outcome === 'timed out') throw new Error(failure(`did not report within ${timeoutMs} ms`))
    throw outcome.code === 'EADDRINUSE' ? new PortTakenError(failure('could not listen: the port is taken')) : new Error(failure(`failed: ${outcome.message}`))
  }
  try {
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) })
        await res.arrayBuffer()
        if (res.status !== 200) throw new Error(`ListBuckets answered ${res.status}`)
        return true
      },
      { timeoutMs: Math.max(deadline - Date.now(), 1000), intervalMs: 20, message: `s3rver (pid ${outcome.pid}) to answer HTTP on port ${port}` },
    )
  } catch (err) {
    await signalAndWait(child, 'SIGKILL')
    throw new Error(failure(err instanceof Error ? err.message : String(err)), { cause: err })
  }
  return child
}

/** A real s3rver on a free port (or `options.port`) with `options.buckets`, ready when this resolves. */
export async function startS3(options: StartS3Options = {}): Promise<S3Server> {
  const ownsDir = options.dir === undefined
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sluice-s3-'))
  if (ownsDir) adoptTemporaryDir(dir)
  mkdirSync(dir, { recursive: true })
  const logFile = join(dir, 's3rver.log')
  const timeoutMs = options.timeoutMs ?? 15_000
  const buckets = options.buckets ?? []

  let port = 0
  let child: ChildProcess | undefined
  // Another test file may take a free port between our check and s3rver's bind: then try another.
  for (let attempt = 1; child === undefined; attempt++) {
    port = options.port ?? (await freePort())
    try {
      child = await launch(port, dir, buckets, logFile, timeoutMs)
    } catch (err) {
      if (!(err instanceof PortTakenError && options.port === undefined && attempt < 5)) {
        if (ownsDir) removeTemporaryDir(dir)
        throw err
      }
    }
  }
  let current: ChildProcess = child

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    dir,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
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
      current = await launch(port, dir, buckets, logFile, timeoutMs)
    },
    log: () => logSince(logFile),
    async close() {
      if (isRunning(current)) await signalAndWait(current, 'SIGTERM', 5000)
      if (ownsDir) removeTemporaryDir(dir)
    },
  }
}
