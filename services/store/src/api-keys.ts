/**
 * API keys: bearer tokens with scopes per stream name or prefix.
 *
 * A token is `sluice_<id>_<secret>`. Redis keeps, per id, the key's name, scopes and a salted scrypt
 * hash of the secret — never the secret — in `sluice:{catalog}:apikeys`. scrypt is slow on purpose
 * (tens of ms), so a verified token is remembered in memory for a few seconds (by its SHA-256, not
 * the token itself): a revoked key stops working within that time.
 *
 * A scope is `<action>:<pattern>`: action `read` (records, iterators, consumer groups), `write`
 * (puts) or `admin` (create, delete, configure); pattern a stream name, a prefix ending in `*`, or
 * `*` for every stream. `admin` implies `read` and `write`.
 */
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import { LRUCache } from 'lru-cache'
import { SCOPE_PATTERN } from '@sluice/protocol'
import { guarded } from './errors.js'
import { catalogKeys } from './keys.js'
import type { SluiceRedis } from './connection.js'

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number }) => Promise<Buffer>
const SCRYPT = { N: 16384, r: 8, p: 1 }
const TOKEN_RE = /^sluice_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/
const SCOPE_RE = new RegExp(SCOPE_PATTERN)

export type ScopeAction = 'read' | 'write' | 'admin'

export interface Scope {
  action: ScopeAction
  /** a stream name, a prefix ending in `*`, or `*` */
  pattern: string
}

export interface ApiKeyInfo {
  id: string
  name: string
  scopes: string[]
  createdAt: number
}

/** Parses `read:orders`, `write:logs-*`, `admin:*`; null if it is not a scope. */
export function parseScope(text: string): Scope | null {
  const m = SCOPE_RE.exec(text)
  return m ? { action: m[1] as ScopeAction, pattern: m[2]! } : null
}

function matches(pattern: string, stream: string): boolean {
  if (pattern === '*') return true
  if (pattern.endsWith('*')) return stream.startsWith(pattern.slice(0, -1))
  return pattern === stream
}

/**
 * Whether scopes allow `action` on `stream`. `action` 'any' asks for any scope on the stream (e.g.
 * describing it); `stream` '*' asks for a scope on every stream (e.g. listing them all).
 */
export function allows(scopes: readonly Scope[], action: ScopeAction | 'any', stream: string): boolean {
  return scopes.some((s) => {
    if (action !== 'any' && s.action !== action && s.action !== 'admin') return false
    return stream === '*' ? s.pattern === '*' : matches(s.pattern, stream)
  })
}

interface StoredKey {
  name: string
  scopes: string[]
  salt: string
  hash: string
  createdAt: number
}

export class ApiKeys {
  private readonly verified = new LRUCache<string, { id: string; scopes: Scope[] }>({ max: 10_000, ttl: 5_000 })

  constructor(private readonly redis: SluiceRedis) {}

  /** Creates a key; the token is returned once and stored only as a hash. */
  async create(name: string, scopes: readonly string[]): Promise<ApiKeyInfo & { token: string }> {
    if (scopes.length === 0) throw new RangeError('a key needs at least one scope')
    for (const s of scopes) if (!parseScope(s)) throw new RangeError(`not a scope: "${s}" (read|write|admin:<stream, prefix* or *>)`)
    const id = randomBytes(8).toString('hex')
    const secret = randomBytes(32).toString('base64url')
    const salt = randomBytes(16)
    const hash = await scrypt(secret, salt, 32, SCRYPT)
    const stored: StoredKey = { name, scopes: [...scopes], salt: salt.toString('base64'), hash: hash.toString('base64'), createdAt: Date.now() }
    await guarded(this.redis.hset(catalogKeys.apiKeys, id, JSON.stringify(stored)))
    return { id, name, scopes: stored.scopes, createdAt: stored.createdAt, token: `sluice_${id}_${secret}` }
  }

  async list(): Promise<ApiKeyInfo[]> {
    const all = await guarded(this.redis.hgetall(catalogKeys.apiKeys))
    return Object.entries(all)
      .map(([id, json]) => {
        const k = JSON.parse(json) as StoredKey
        return { id, name: k.name, scopes: k.scopes, createdAt: k.createdAt }
      })
      .sort((a, b) => a.createdAt - b.createdAt)
  }

  /** Removes a key; false if there was none. Verified tokens are forgotten here at once, elsewhere within seconds. */
  async revoke(id: string): Promise<boolean> {
    for (const [k, v] of this.verified.entries()) if (v.id === id) this.verified.delete(k)
    return (await guarded(this.redis.hdel(catalogKeys.apiKeys, id))) === 1
  }

  async count(): Promise<number> {
    return guarded(this.redis.hlen(catalogKeys.apiKeys))
  }

  /** The scopes of a valid token; null for anything else (malformed, unknown, revoked, wrong secret). */
  async verify(token: string): Promise<Scope[] | null> {
    const digest = createHash('sha256').update(token).digest('base64')
    const cached = this.verified.get(digest)
    if (cached) return cached.scopes
    const m = TOKEN_RE.exec(token)
    if (!m) return null
    const [, id, secret] = m as unknown as [string, string, string]
    const json = await guarded(this.redis.hget(catalogKeys.apiKeys, id))
    if (!json) return null
    const stored = JSON.parse(json) as StoredKey
    const expected = Buffer.from(stored.hash, 'base64')
    const actual = await scrypt(secret, Buffer.from(stored.salt, 'base64'), expected.length, SCRYPT)
    if (!timingSafeEqual(actual, expected)) return null
    const scopes = stored.scopes.map(parseScope).filter((s): s is Scope => s !== null)
    this.verified.set(digest, { id, scopes })
    return scopes
  }
}
