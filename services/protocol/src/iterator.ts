/**
 * Shard iterators: opaque to clients, signed by the server (HMAC-SHA256, truncated to 128 bits), and
 * valid for five minutes. The token is base64url(payload) "." base64url(mac); the payload is a small
 * JSON object. A token is never trusted before its signature checks out, and decoding never throws.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export interface IteratorPosition {
  stream: string
  /** The stream's incarnation: an iterator of a deleted stream must not read a re-created one. */
  generation: number
  shardIndex: number
  /** Read starting at entryId inclusive, or strictly after it. */
  kind: 'at' | 'after'
  /** Redis stream entry id "<ms>-<seq>" */
  entryId: string
}

export type IteratorDecodeResult =
  | { ok: true; position: IteratorPosition; issuedAtMs: number }
  | { ok: false; reason: 'malformed' | 'expired' }

export const ITERATOR_TTL_MS = 300_000

export interface IteratorCodec {
  encode(position: IteratorPosition, nowMs: number): string
  decode(token: string, nowMs: number): IteratorDecodeResult
}

const VERSION = 1
const MAC_BYTES = 16
const MAX_TOKEN_LENGTH = 1024
const STREAM_RE = /^[a-zA-Z0-9_.-]{1,128}$/
const ENTRY_ID_RE = /^\d{1,20}-\d{1,20}$/
const BASE64URL_RE = /^[A-Za-z0-9_-]+$/

interface Payload {
  v: number
  s: string
  g: number
  h: number
  k: 'a' | 'f'
  e: string
  t: number
}

function isPayload(p: unknown): p is Payload {
  if (typeof p !== 'object' || p === null) return false
  const o = p as Record<string, unknown>
  return (
    o.v === VERSION &&
    typeof o.s === 'string' &&
    STREAM_RE.test(o.s) &&
    typeof o.g === 'number' &&
    Number.isSafeInteger(o.g) &&
    o.g > 0 &&
    typeof o.h === 'number' &&
    Number.isInteger(o.h) &&
    o.h >= 0 &&
    o.h <= 999_999 &&
    (o.k === 'a' || o.k === 'f') &&
    typeof o.e === 'string' &&
    ENTRY_ID_RE.test(o.e) &&
    typeof o.t === 'number' &&
    Number.isSafeInteger(o.t) &&
    o.t >= 0
  )
}

/**
 * Expiry: a token issued at t is valid while now <= t + ttl, and expired from t + ttl + 1 ms on.
 */
export function createIteratorCodec(secret: Uint8Array, ttlMs: number = ITERATOR_TTL_MS): IteratorCodec {
  if (secret.length < 16) throw new Error('the iterator secret must be at least 16 bytes')
  const key = Buffer.from(secret)
  const mac = (payload: string): Buffer => createHmac('sha256', key).update(payload).digest().subarray(0, MAC_BYTES)

  return {
    encode(position, nowMs) {
      const payload: Payload = {
        v: VERSION,
        s: position.stream,
        g: position.generation,
        h: position.shardIndex,
        k: position.kind === 'at' ? 'a' : 'f',
        e: position.entryId,
        t: nowMs,
      }
      const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')
      return `${body}.${mac(body).toString('base64url')}`
    },

    decode(token, nowMs) {
      const malformed = { ok: false, reason: 'malformed' } as const
      if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return malformed
      const dot = token.indexOf('.')
      if (dot < 1 || dot !== token.lastIndexOf('.')) return malformed
      const body = token.slice(0, dot)
      const sig = token.slice(dot + 1)
      if (!BASE64URL_RE.test(body) || !BASE64URL_RE.test(sig)) return malformed
      const given = Buffer.from(sig, 'base64url')
      // Re-encoding must give the same text: base64url has several spellings of the same bytes
      // (unused low bits), and a changed character must never pass.
      if (given.length !== MAC_BYTES || given.toString('base64url') !== sig) return malformed
      if (!timingSafeEqual(given, mac(body))) return malformed
      let payload: unknown
      try {
        payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
      } catch {
        return malformed
      }
      if (!isPayload(payload)) return malformed
      if (nowMs > payload.t + ttlMs) return { ok: false, reason: 'expired' }
      return {
        ok: true,
        issuedAtMs: payload.t,
        position: {
          stream: payload.s,
          generation: payload.g,
          shardIndex: payload.h,
          kind: payload.k === 'a' ? 'at' : 'after',
          entryId: payload.e,
        },
      }
    },
  }
}
