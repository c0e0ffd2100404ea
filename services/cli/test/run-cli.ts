/**
 * Runs the compiled `sluice` as a child process, the way a user or a script does. Every run has a
 * deadline: past it the child is SIGKILLed and the run reports `timedOut` (with what it printed), so a
 * CLI that fails to exit fails its test instead of hanging the suite. A child still running when the
 * test process exits is killed too.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const SLUICE_JS = fileURLToPath(new URL('../src/main.js', import.meta.url))

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** The deadline passed and the child was killed. */
  timedOut: boolean
  ms: number
}

export interface CliOptions {
  /** Written to stdin, which is then closed; without it stdin is empty (/dev/null). */
  input?: string | Buffer
  env?: Record<string, string>
  /** Default 30 s. */
  timeoutMs?: number
}

export interface CliProcess {
  readonly child: ChildProcess
  stdout(): string
  stderr(): string
  /** Settles when the child exited (or was killed at its deadline). */
  readonly done: Promise<CliResult>
}

const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

export function startCli(args: readonly string[], options: CliOptions = {}): CliProcess {
  const env: NodeJS.ProcessEnv = { ...process.env }
  // Hermetic: nothing from the test runner's environment may pick an endpoint or a key.
  delete env.SLUICE_ENDPOINT
  delete env.SLUICE_API_KEY
  delete env.NODE_TEST_CONTEXT
  Object.assign(env, options.env)
  const started = Date.now()
  const child = spawn(process.execPath, [SLUICE_JS, ...args], { env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
  running.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  if (options.input !== undefined) {
    child.stdin!.on('error', () => undefined) // the CLI may exit before reading everything
    child.stdin!.end(options.input)
  }
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, options.timeoutMs ?? 30_000)
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', (err) => {
      clearTimeout(timer)
      running.delete(child)
      reject(err)
    })
    // 'close': the process exited and its pipes are drained, so stdout and stderr are complete.
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      resolve({ code, signal, stdout, stderr, timedOut, ms: Date.now() - started })
    })
  })
  return { child, stdout: () => stdout, stderr: () => stderr, done }
}

/** Runs the CLI to its end; asserts nothing (the tests do), but never waits past the deadline. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).done
}

/** For failure messages: everything the run showed. */
export function show(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}${r.timedOut ? ' TIMED OUT' : ''} after ${r.ms} ms\n--- stdout ---\n${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`
}

/** The run ended by itself (not at its deadline) with this exit code. */
export function exited(r: CliResult, code: number): void {
  assert.ok(!r.timedOut, `the CLI exits by itself:\n${show(r)}`)
  assert.equal(r.code, code, show(r))
}
