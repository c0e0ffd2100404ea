/**
 * Exit codes scripts can branch on, and the one place an error becomes a single line on stderr.
 *
 *   0  done
 *   1  failed: the service refused or could not be reached, or some records were not put
 *   2  usage: a wrong command, option or value (nothing was sent)
 *   3  not found: the stream, consumer group or API key does not exist
 *   4  access: no API key, an unknown or revoked one (401), or one without the scope (403)
 *   5  exists: `streams create` of a name in use
 *   130 interrupted (Ctrl-C) before `put` or `bench` was done
 */
import { SluiceError } from '@sluice/client'

export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  access: 4,
  exists: 5,
  interrupted: 130,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** An error of the command itself (bad input, a file that cannot be read), with its exit code. */
export class CliError extends Error {
  override readonly name: string = 'CliError'
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue = ExitCode.failure,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** A usage mistake found after parsing (options that need each other, a malformed value). */
export class UsageError extends CliError {
  override readonly name = 'UsageError'
  constructor(message: string) {
    super(message, ExitCode.usage)
  }
}

export function exitCodeOf(err: unknown): ExitCodeValue {
  if (err instanceof CliError) return err.exitCode
  if (err instanceof SluiceError) {
    if (err.status === 401 || err.status === 403) return ExitCode.access
    if (err.status === 404) return ExitCode.notFound
    if (err.code === 'StreamExists') return ExitCode.exists
  }
  return ExitCode.failure
}

/** The innermost cause's message: `fetch failed` says little, `connect ECONNREFUSED 127.0.0.1:1` says why. */
function rootCause(err: unknown): string | undefined {
  let e: unknown = err
  let message: string | undefined
  for (let depth = 0; depth < 10 && e instanceof Error; depth++) {
    message = e.message
    e = e.cause
  }
  return message
}

/** One line, no stack: what went wrong and, when it helps, what to do. */
export function describeError(err: unknown, context: { apiKeyGiven: boolean }): string {
  let text: string
  if (err instanceof SluiceError) {
    text = err.message
    if (err.code === 'NetworkError') {
      const root = rootCause(err.cause)
      if (root && !text.includes(root)) text += ` (${root})`
    } else if (err.status === 401 && !context.apiKeyGiven) {
      text += ' — give one with --api-key or SLUICE_API_KEY'
    }
    if (err.code !== 'NetworkError' && err.code !== 'InternalError') text += ` [${err.code}]`
  } else if (err instanceof Error) {
    text = err.message
  } else {
    text = String(err)
  }
  return text.replace(/\s*\n\s*/g, ' ').trim()
}
