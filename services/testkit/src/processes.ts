/**
 * Real child processes for fault tests (the ingest service, consumers): started with their own
 * environment, optionally awaited until an HTTP readiness URL answers 200, then killed, frozen and
 * thawed from the outside. Output is kept (the last 64 KiB) for failure messages.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import { adoptChild, exitOf, isRunning, signalAndWait, type ExitStatus } from './lifecycle.js'
import { WaitTimeoutError, waitFor } from './wait.js'

export interface StartProcessOptions {
  command: string
  args: string[]
  /** Added to (and overriding) the test process's environment. */
  env?: Record<string, string>
  cwd?: string
  /** Polled with GET until it answers 200; startProcess resolves then. */
  readyUrl?: string
  /** How long readyUrl may take (default 15,000 ms); then the child is killed and startProcess rejects. */
  readyTimeoutMs?: number
}

export interface ChildHandle {
  readonly pid: number
  /**
   * Sends the signal (default SIGTERM) and resolves with the exit code once the process has exited
   * (null when a signal ended it; `exited` says which). Works on a stopped process too. For signals
   * that do not end the process, use signal().
   */
  kill(signal?: NodeJS.Signals): Promise<number | null>
  /** Sends any signal without waiting (SIGHUP, SIGUSR2, …). */
  signal(signal: NodeJS.Signals): void
  /** SIGSTOP: the process freezes with its sockets open, as a hung process does. */
  stop(): void
  /** SIGCONT */
  resume(): void
  /** Settles when the process exits. Awaiting it keeps the test process alive until then. */
  readonly exited: Promise<ExitStatus>
  /** The last 64 KiB of stdout and stderr, interleaved, for failure messages. */
  output(): string
}

/** Keeps the last `limit` characters of a stream of text. */
class OutputTail {
  private text = ''
  constructor(private readonly limit = 64 * 1024) {}
  push(chunk: string): void {
    this.text += chunk
    // Trim in steps rather than on every chunk, so a chatty child costs amortised O(1) per byte.
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit)
  }
  toString(): string {
    return this.text.slice(-this.limit)
  }
}

function collect(stream: Readable | null, tail: OutputTail): void {
  if (!stream) return
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => tail.push(chunk))
  // The pipes must not keep the test process alive either (see lifecycle.ts).
  if (stream instanceof Socket) stream.unref()
}

/** After 'exit' the pipes may still hold the last lines; wait for them briefly so output() has them. */
function outputDrained(streams: (Readable | null)[], maxMs: number): Promise<void> {
  const open = streams.filter((s): s is Readable => s !== null && !s.readableEnded && !s.destroyed)
  if (open.length === 0) return Promise.resolve()
  return new Promise((resolve) => {
    // A grandchild that inherited the pipe could keep it open indefinitely: cap the wait.
    const timer = setTimeout(resolve, maxMs)
    let pending = open.length
    for (const s of open) {
      s.once('close', () => {
        if (--pending === 0) {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  })
}

function describe(options: StartProcessOptions): string {
  return [options.command, ...options.args].join(' ').slice(0, 200)
}

export async function startProcess(options: StartProcessOptions): Promise<ChildHandle> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env }
  // node:test marks its worker processes with this; a node child that inherits it would take itself
  // for a test worker and change how it reports.
  delete env.NODE_TEST_CONTEXT
  const child = spawn(options.command, options.args, { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  adoptChild(child)
  const tail = new OutputTail()
  collect(child.stdout, tail)
  collect(child.stderr, tail)
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', (err) => reject(new Error(`could not start ${describe(options)}: ${err.message}`, { cause: err })))
  })
  const pid = child.pid
  if (pid === undefined) throw new Error(`could not start ${describe(options)}: no pid`)

  const waitExit = async (): Promise<ExitStatus> => {
    const status = await exitOf(child)
    await outputDrained([child.stdout, child.stderr], 500)
    return status
  }
  const handle: ChildHandle = {
    pid,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      await signalAndWait(child, signal)
      return (await waitExit()).code
    },
    signal: (signal) => void child.kill(signal),
    stop: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    // A getter: only a caller that asks for it pays for keeping the event loop alive.
    get exited() {
      return waitExit()
    },
    output: () => tail.toString(),
  }

  if (options.readyUrl !== undefined) await untilReady(child, options.readyUrl, options.readyTimeoutMs ?? 15_000, describe(options), tail)
  return handle
}

async function untilReady(child: ChildProcess, url: string, timeoutMs: number, what: string, tail: OutputTail): Promise<void> {
  // An exit during the wait ends it at once instead of at the deadline.
  const gone = new AbortController()
  const onExit = (): void => gone.abort()
  if (!isRunning(child)) onExit()
  child.once('exit', onExit)
  try {
    await waitFor(
      async () => {
        const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
        await res.arrayBuffer()
        if (res.status !== 200) throw new Error(`answered ${res.status}`)
        return true
      },
      { timeoutMs, intervalMs: 50, signal: gone.signal, message: `${what} to answer 200 at ${url}` },
    )
  } catch (err) {
    if (gone.signal.aborted) {
      const { code, signal } = await exitOf(child)
      await outputDrained([child.stdout, child.stderr], 500)
      throw new Error(`${what} exited (${signal ?? `code ${code}`}) before it was ready:\n${tail.toString()}`)
    }
    if (err instanceof WaitTimeoutError) {
      await signalAndWait(child, 'SIGKILL')
      throw new Error(`${err.message}\n--- its output ---\n${tail.toString()}`, { cause: err })
    }
    throw err
  } finally {
    child.off('exit', onExit)
  }
}
