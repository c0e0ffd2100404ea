/**
 * An optional observer of store operations (how long each took, and how it ended), so the services
 * can export Redis latency and errors without the store depending on a metrics library.
 */
import { classifyRedisError } from './errors.js'

export type StoreOutcomeLabel = 'ok' | 'unavailable' | 'error'
export type StoreObserver = (operation: string, seconds: number, outcome: StoreOutcomeLabel) => void

export async function observed<T>(observer: StoreObserver | undefined, operation: string, call: () => Promise<T>): Promise<T> {
  if (!observer) return call()
  const started = process.hrtime.bigint()
  try {
    const result = await call()
    observer(operation, Number(process.hrtime.bigint() - started) / 1e9, 'ok')
    return result
  } catch (err) {
    observer(operation, Number(process.hrtime.bigint() - started) / 1e9, classifyRedisError(err) ? 'unavailable' : 'error')
    throw err
  }
}
