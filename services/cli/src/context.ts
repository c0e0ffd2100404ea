/**
 * What every command gets from the global options: the endpoint, the API key, a fetch with a
 * per-request timeout, a REST client, stdout as an Output, and a signal that aborts on Ctrl-C/SIGTERM.
 */
import { SluiceClient } from '@sluice/client'
import { Output } from './output.js'
import { UsageError, type ExitCodeValue } from './errors.js'
import type { Command } from 'commander'

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:4600'

export interface GlobalOptions {
  endpoint: string
  apiKey?: string
  /** seconds */
  timeout: number
}

export interface CliContext {
  endpoint: string
  apiKey: string | undefined
  /** fetch with the request timeout; the SDK adds the API key. */
  fetch: typeof fetch
  client: SluiceClient
  out: Output
  /** Aborted by SIGINT or SIGTERM. */
  interrupted: AbortSignal
}

/**
 * A request that gets no answer within `ms` fails as a network error (which Producer and Consumer
 * retry, and a one-shot command reports) instead of hanging.
 */
export function fetchWithTimeout(ms: number): typeof fetch {
  return (input, init) => {
    const timeout = AbortSignal.timeout(ms)
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout
    return fetch(input, { ...init, signal })
  }
}

export function checkEndpoint(endpoint: string): string {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    throw new UsageError(`--endpoint ${endpoint}: not a URL (e.g. ${DEFAULT_ENDPOINT})`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--endpoint ${endpoint}: must be http:// or https://`)
  return endpoint.replace(/\/+$/, '')
}

/** How a command runs its action: with the context of its global options; a returned code is the exit code. */
export type RunCommand = (cmd: Command, action: (ctx: CliContext) => Promise<ExitCodeValue | void>) => Promise<void>

export function createContext(options: GlobalOptions, out: Output, interrupted: AbortSignal): CliContext {
  const endpoint = checkEndpoint(options.endpoint)
  const apiKey = options.apiKey || undefined
  const f = fetchWithTimeout(options.timeout * 1000)
  return { endpoint, apiKey, fetch: f, client: new SluiceClient({ endpoint, fetch: f, ...(apiKey ? { apiKey } : {}) }), out, interrupted }
}
