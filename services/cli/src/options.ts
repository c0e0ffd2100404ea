/** Parsers for option values: a bad value is a usage error (exit 2) naming the option, before anything is sent. */
import { InvalidArgumentError } from 'commander'
import { API_KEY_ID_PATTERN, SCOPE_PATTERN } from '@sluice/protocol'

export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  const rule = max === Number.MAX_SAFE_INTEGER ? `must be a whole number, at least ${min}` : `must be a whole number from ${min} to ${max}`
  return (value) => {
    const n = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN
    if (!(n >= min && n <= max)) throw new InvalidArgumentError(rule)
    return n
  }
}

/** ms since the epoch (up to 15 digits) or an ISO 8601 date or date-time, as the read API takes it. */
export function timestamp(value: string): string {
  if (/^\d{1,15}$/.test(value)) return value
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(value))) {
    // A date-time without Z or an offset is this machine's local time (the server would refuse it:
    // it cannot know the zone): sent as ms since the epoch.
    if (/T[^Z+-]*$/.test(value)) return String(Date.parse(value))
    return value
  }
  throw new InvalidArgumentError('must be ms since the epoch or an ISO 8601 date-time such as 2026-03-07T12:00:00Z')
}

const SCOPE_RE = new RegExp(SCOPE_PATTERN)
const KEY_ID_RE = new RegExp(API_KEY_ID_PATTERN)

/** Repeatable and variadic: `--scope a b --scope c` gives [a, b, c]. */
export function scopes(value: string, previous: string[] | undefined): string[] {
  if (!SCOPE_RE.test(value)) throw new InvalidArgumentError('a scope is read, write or admin, a colon, then a stream name, a prefix ending in * or * (e.g. write:orders, read:logs-*, admin:*)')
  return [...(previous ?? []), value]
}

export function keyId(value: string): string {
  if (!KEY_ID_RE.test(value)) throw new InvalidArgumentError('must be a key id: 16 hex digits, as `sluice keys list` shows')
  return value
}
