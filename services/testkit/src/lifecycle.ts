/**
 * Ownership of what the harness starts: child processes and temporary directories.
 *
 * Children are unref'd. A test that fails before its cleanup would otherwise keep the test file's
 * process alive for as long as the child runs — for a redis-server, forever, and node:test waits for
 * it. Instead the process ends, and on the way out (normal exit, uncaught error, SIGINT, SIGTERM,
 * SIGHUP) every child still running is SIGKILLed and every temporary directory removed. Waiting for a
 * child's exit refs it again for the length of the wait, so `await kill()` works even when nothing
 * else keeps the event loop busy.
 */
import type { ChildProcess } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'

export interface ExitStatus {
  /** The exit code, or null when a signal ended the process. */
  code: number | null
  signal: NodeJS.Signals | null
}

const children = new Set<ChildProcess>()
const temporaryDirs = new Set<string>()

export function adoptChild(child: ChildProcess): void {
  children.add(child)
  child.unref()
  child.once('exit', () => children.delete(child))
  // A failed spawn (ENOENT) emits 'error' and never 'exit'; the starter reports it. Later errors
  // (a signal to a process that is already gone) need no handling but must not crash the test run.
  child.on('error', () => {
    if (child.pid === undefined) children.delete(child)
  })
}

/** A directory removed when the process exits, unless released first. */
export function adoptTemporaryDir(dir: string): void {
  temporaryDirs.add(dir)
}

export function removeTemporaryDir(dir: string): void {
  temporaryDirs.delete(dir)
  rmSync(dir, { recursive: true, force: true })
}

export function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null
}

/** Resolves when the child has exited (at once if it already has); keeps the event loop alive meanwhile. */
export function exitOf(child: ChildProcess): Promise<ExitStatus> {
  if (!isRunning(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
  child.ref()
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      child.unref()
      resolve({ code, signal })
    })
  })
}

/**
 * Sends `signal` and resolves once the child has exited. A stopped (SIGSTOPped) process acts on a
 * signal only when continued, so every signal but SIGKILL is followed by SIGCONT. When `killAfterMs`
 * is given and the child is still there by then, it is SIGKILLed: a hung shutdown must not hang the
 * test run.
 */
export async function signalAndWait(child: ChildProcess, signal: NodeJS.Signals, killAfterMs?: number): Promise<ExitStatus> {
  const exited = exitOf(child)
  if (!isRunning(child)) return exited
  child.kill(signal)
  if (signal !== 'SIGKILL') child.kill('SIGCONT')
  if (killAfterMs === undefined) return exited
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
  try {
    return await exited
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Whether a process with this pid exists and has not exited. A zombie (exited, not yet reaped — the
 * fate of an orphan in a container whose PID 1 does not reap) counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The state letter follows the command name in parentheses, which may itself contain ") ".
    const close = stat.lastIndexOf(')')
    return stat.charAt(close + 2) !== 'Z'
  } catch (err) {
    // ENOENT: it went away between the two checks. Anything else (no /proc): kill(0) said it exists.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT'
  }
}

function killEverything(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL')
    } catch {
      // Already gone: nothing to do.
    }
  }
  children.clear()
  for (const dir of temporaryDirs) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      // Best effort on the way out; a leftover temp dir is harmless, a throw here would hide the real failure.
    }
  }
  temporaryDirs.clear()
}

process.on('exit', killEverything)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killEverything()
    // Listening for a signal replaces its default action. When nobody else listens, raise it again so
    // the process still ends the way it was asked to (and its parent sees the signal).
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
  })
}
