/**
 * Child processes for tests: every one started here is killed when the test process ends, even on a
 * failed assertion or a signal, so no redis-server or service outlives its test file.
 */
import { spawn, type ChildProcess } from 'node:child_process'

const live = new Set<ChildProcess>()

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  live.clear()
}

process.once('exit', killAll)
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAll()
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1))
  })
}

export function track(child: ChildProcess): void {
  live.add(child)
  child.once('exit', () => live.delete(child))
}

export interface ExitStatus {
  code: number | null
  signal: NodeJS.Signals | null
}

/** Resolves when the child has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<ExitStatus> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

/** Keeps the last `limit` characters of a stream of output. */
export class OutputTail {
  private text = ''
  constructor(private readonly limit = 64 * 1024) {}
  push(chunk: Buffer | string): void {
    this.text += chunk.toString()
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit)
  }
  toString(): string {
    return this.text.slice(-this.limit)
  }
}

export interface StartProcessOptions {
  command: string
  args: string[]
  env?: Record<string, string>
  cwd?: string
  /** Polled until it answers 200; startProcess resolves then. */
  readyUrl?: string
  readyTimeoutMs?: number
}

export interface ChildHandle {
  pid: number
  /** Sends the signal (default SIGTERM) and resolves with the exit code (null when killed by a signal). */
  kill(signal?: NodeJS.Signals): Promise<number | null>
  /** SIGSTOP: the process freezes, its sockets stay open. */
  stop(): void
  /** SIGCONT */
  resume(): void
  exited: Promise<ExitStatus>
  /** The last 64 KiB of stdout and stderr, for failure messages. */
  output(): string
}

export async function startProcess(options: StartProcessOptions): Promise<ChildHandle> {
  const child = spawn(options.command, options.args, {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  track(child)
  const tail = new OutputTail()
  child.stdout?.on('data', (c: Buffer) => tail.push(c))
  child.stderr?.on('data', (c: Buffer) => tail.push(c))
  const exited = exitOf(child)
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', reject)
  })
  await spawned
  const pid = child.pid!
  const handle: ChildHandle = {
    pid,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') return (await exited).code
      return null
    },
    stop: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    exited,
    output: () => tail.toString(),
  }
  if (options.readyUrl) {
    const url = options.readyUrl
    const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000)
    let gone = false
    void exited.then(() => (gone = true))
    for (;;) {
      if (gone) throw new Error(`${options.command} exited before it was ready:\n${tail.toString()}`)
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
        await res.arrayBuffer()
        if (res.status === 200) break
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(`${options.command} was not ready at ${url} in time:\n${tail.toString()}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return handle
}
