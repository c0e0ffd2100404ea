import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { ITERATOR_TTL_MS, createIteratorCodec, type IteratorPosition } from '../src/index.js'

const secret = Buffer.from('0123456789abcdef0123456789abcdef')
const codec = createIteratorCodec(secret)
const position: IteratorPosition = { stream: 'orders.v2', generation: 42, shardIndex: 7, kind: 'after', entryId: '1795580449037-12' }
const t0 = 1_795_580_000_000
const MALFORMED = { ok: false, reason: 'malformed' } as const
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * Signs an arbitrary payload the way the codec does (version 1: base64url(JSON) "." base64url of the
 * first 16 bytes of HMAC-SHA256 over the first part), written out here independently so the decoder's
 * field checks are tested on tokens its own encoder would never make.
 */
function signByHand(payload: unknown, key: Uint8Array = secret): string {
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload), 'utf8')
  const body = bytes.toString('base64url')
  const mac = createHmac('sha256', key).update(body).digest().subarray(0, 16).toString('base64url')
  return `${body}.${mac}`
}

/** The wire payload of `position` as version 1 spells it. */
const wirePayload = { v: 1, s: position.stream, g: position.generation, h: position.shardIndex, k: 'f', e: position.entryId, t: t0 }

describe('shard iterators', () => {
  it('round-trip the position and issue time', () => {
    const token = codec.encode(position, t0)
    assert.deepEqual(codec.decode(token, t0 + 1000), { ok: true, position, issuedAtMs: t0 })
    const at: IteratorPosition = { stream: 'a', generation: Number.MAX_SAFE_INTEGER, shardIndex: 999_999, kind: 'at', entryId: '0-0' }
    assert.deepEqual(codec.decode(codec.encode(at, 0), 0), { ok: true, position: at, issuedAtMs: 0 })
    const longest: IteratorPosition = { stream: 'S'.repeat(128), generation: 1, shardIndex: 0, kind: 'after', entryId: `${'9'.repeat(20)}-${'9'.repeat(20)}` }
    assert.deepEqual(codec.decode(codec.encode(longest, t0), t0), { ok: true, position: longest, issuedAtMs: t0 })
  })

  it('are URL-safe, versioned and signed as documented', () => {
    const token = codec.encode(position, t0)
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    assert.equal(encodeURIComponent(token), token)
    assert.equal(token, signByHand(wirePayload))
    // The hand-signed form decodes too, so the two agree on the format rather than by accident.
    assert.deepEqual(codec.decode(signByHand(wirePayload), t0), { ok: true, position, issuedAtMs: t0 })
  })

  it('reject every single-character change, at every position', () => {
    const token = codec.encode(position, t0)
    let tried = 0
    for (let i = 0; i < token.length; i++) {
      for (const replacement of BASE64URL_ALPHABET + '.=+/ ') {
        if (replacement === token[i]) continue
        const forged = token.slice(0, i) + replacement + token.slice(i + 1)
        assert.deepEqual(codec.decode(forged, t0), MALFORMED, `position ${i} changed to ${JSON.stringify(replacement)}`)
        tried++
      }
      assert.deepEqual(codec.decode(token.slice(0, i) + token.slice(i + 1), t0), MALFORMED, `position ${i} removed`)
    }
    assert.ok(tried >= token.length * BASE64URL_ALPHABET.length)
    assert.deepEqual(codec.decode(token + 'A', t0), MALFORMED)
    assert.deepEqual(codec.decode(token + '.', t0), MALFORMED)
    assert.deepEqual(codec.decode('A' + token, t0), MALFORMED)
  })

  it('reject tokens signed with another secret, even before they would expire', () => {
    const other = createIteratorCodec(Buffer.from('another-secret-of-32-bytes-long!!'))
    const foreign = other.encode(position, t0)
    assert.deepEqual(other.decode(foreign, t0).ok, true)
    assert.deepEqual(codec.decode(foreign, t0), MALFORMED)
    // Signature first, expiry second: a forged token never learns it is "only" expired.
    assert.deepEqual(codec.decode(foreign, t0 + ITERATOR_TTL_MS + 1), MALFORMED)
  })

  it('expire after the TTL: still valid at issue + ttl, expired 1 ms later', () => {
    assert.equal(ITERATOR_TTL_MS, 300_000)
    const token = codec.encode(position, t0)
    assert.equal(codec.decode(token, t0 + ITERATOR_TTL_MS).ok, true)
    assert.deepEqual(codec.decode(token, t0 + ITERATOR_TTL_MS + 1), { ok: false, reason: 'expired' })
    const shortLived = createIteratorCodec(secret, 10)
    assert.equal(shortLived.decode(token, t0 + 10).ok, true)
    assert.deepEqual(shortLived.decode(token, t0 + 11), { ok: false, reason: 'expired' })
  })

  it('refuse input longer than 1024 characters before looking at it', () => {
    // Both signed and otherwise valid (extra members are ignored); only their length differs.
    const fits = signByHand({ ...wirePayload, pad: 'x'.repeat(600) })
    const tooLong = signByHand({ ...wirePayload, pad: 'x'.repeat(800) })
    assert.ok(fits.length <= 1024 && tooLong.length > 1024)
    assert.equal(codec.decode(fits, t0).ok, true)
    assert.deepEqual(codec.decode(tooLong, t0), MALFORMED)
    assert.deepEqual(codec.decode('A'.repeat(10_000_000), t0), MALFORMED)
  })

  it('never throw on garbage', () => {
    const garbage = [
      '', '.', '..', 'a.b', 'a..b', '.abc', 'abc.', 'x'.repeat(5000), '€.€', '\u0000', '%00.%00', '\ud800.\udc00',
      'eyJ2IjoxfQ.AAAAAAAAAAAAAAAAAAAAAA', // {"v":1} with a zero MAC
      codec.encode(position, t0).replace('.', '='),
    ]
    for (const junk of garbage) {
      assert.deepEqual(codec.decode(junk, t0), MALFORMED, JSON.stringify(junk.slice(0, 20)))
    }
    for (const notAString of [undefined, null, 42, {}, ['a.b'], Buffer.from('a.b')]) {
      assert.deepEqual(codec.decode(notAString as unknown as string, t0), MALFORMED, String(notAString))
    }
  })

  it('reject signed payloads that are not JSON objects', () => {
    const notObjects = ['not json', '{"v":1', 'null', '[]', '1', '"a"', 'true', Buffer.from([0xff, 0xfe, 0x00]), Buffer.from(JSON.stringify(wirePayload), 'utf16le')]
    for (const payload of notObjects) {
      assert.deepEqual(codec.decode(signByHand(payload), t0), MALFORMED, String(payload))
    }
  })

  it('reject signed payloads of another version or with any field out of range', () => {
    const { v: _version, ...withoutVersion } = wirePayload
    const cases: Array<[string, unknown]> = [
      ['no version', withoutVersion],
      ['version 2', { ...wirePayload, v: 2 }],
      ['version "1"', { ...wirePayload, v: '1' }],
      ['stream empty', { ...wirePayload, s: '' }],
      ['stream 129 characters', { ...wirePayload, s: 's'.repeat(129) }],
      ['stream with braces', { ...wirePayload, s: 'a{b}' }],
      ['stream with a slash', { ...wirePayload, s: 'a/b' }],
      ['stream not a string', { ...wirePayload, s: 7 }],
      ['generation 0', { ...wirePayload, g: 0 }],
      ['generation negative', { ...wirePayload, g: -1 }],
      ['generation fractional', { ...wirePayload, g: 1.5 }],
      ['generation 2^53', { ...wirePayload, g: 2 ** 53 }],
      ['generation as text', { ...wirePayload, g: '42' }],
      ['shard -1', { ...wirePayload, h: -1 }],
      ['shard 1000000', { ...wirePayload, h: 1_000_000 }],
      ['shard fractional', { ...wirePayload, h: 0.5 }],
      ['shard as text', { ...wirePayload, h: '7' }],
      ['kind unknown', { ...wirePayload, k: 'x' }],
      ['kind spelled out', { ...wirePayload, k: 'after' }],
      ['entry id without seq', { ...wirePayload, e: '12' }],
      ['entry id with 21-digit seq', { ...wirePayload, e: `1-${'1'.repeat(21)}` }],
      ['entry id with a sign', { ...wirePayload, e: '-1-0' }],
      ['entry id with trailing text', { ...wirePayload, e: '1-0 ' }],
      ['issue time missing', { ...wirePayload, t: undefined }],
      ['issue time negative', { ...wirePayload, t: -1 }],
      ['issue time fractional', { ...wirePayload, t: 1.5 }],
    ]
    for (const [what, payload] of cases) {
      assert.deepEqual(codec.decode(signByHand(payload), t0), MALFORMED, what)
    }
  })

  it('refuse a secret too short to be one', () => {
    assert.throws(() => createIteratorCodec(Buffer.from('short')))
    assert.doesNotThrow(() => createIteratorCodec(new Uint8Array(16)))
  })
})
