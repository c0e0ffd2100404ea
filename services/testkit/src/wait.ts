/**
 * Poll until something is true, with a deadline: the alternative to sleep-then-check. The probe
 * counts as done when it returns (or resolves to) a truthy value; a throw counts as "not yet" and
 * is reported in the timeout message.
 */
export interface WaitOptions {
  timeoutMs?: number
  intervalMs?: number
  message?: string
}

export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const intervalMs = options.intervalMs ?? 25
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value) return value
    } catch (err) {
      lastError = err
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.message ?? 'a condition'}${why}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
