import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { base64DecodedLength, canonicalBase64, isBase64 } from '../src/index.js'

describe('base64 checks', () => {
  it('accept every standard, padded encoding', () => {
    for (let n = 0; n < 64; n++) {
      const text = randomBytes(n).toString('base64')
      assert.equal(isBase64(text), true, text)
      assert.equal(base64DecodedLength(text), n)
    }
  })
  it('refuse everything else', () => {
    for (const bad of ['A', 'AA', 'AAA', 'AA=A', 'A===', '====', '=AAA', 'AAAA=', 'AA-_', 'AA A', 'AAA\n', 'AAA\u00e9', 'QQ==QQ==', 'AA==AAAA',
      // Node's decoder reads only the low byte of these (0x41 'A', 0x2B '+'), skips NUL and "*"
      '\u0141\u0141\u0141\u0141', 'AAA\u012b', 'AA\u0000A', 'AAA*', 'AA\uD800A', 'AB-A']) {
      assert.equal(isBase64(bad), false, JSON.stringify(bad))
    }
  })
  it('spell every encoding canonically: the bits after the last byte cleared, the bytes unchanged', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
    for (let n = 0; n < 40; n++) {
      const bytes = randomBytes(n)
      const text = bytes.toString('base64')
      assert.equal(canonicalBase64(text), text, 'what Buffer writes is canonical')
      const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
      if (pad === 0) continue
      // Every other spelling of the same bytes: the unused low bits of the last character set.
      const at = text.length - 1 - pad
      const v = alphabet.indexOf(text[at]!)
      for (let extra = 1; extra < (pad === 2 ? 16 : 4); extra++) {
        const odd = text.slice(0, at) + alphabet[v | extra] + text.slice(at + 1)
        assert.ok(isBase64(odd), odd)
        assert.deepEqual(Buffer.from(odd, 'base64'), bytes, 'Node reads it as the same bytes')
        assert.equal(canonicalBase64(odd), text, odd)
      }
    }
  })
  it('decide the same beyond the largest record size (the exact scan takes over)', () => {
    const big = randomBytes(1024 * 1024 + 7).toString('base64')
    assert.equal(isBase64(big), true)
    assert.equal(isBase64(big.slice(0, 1000) + '*' + big.slice(1001)), false)
    const atLimit = randomBytes(1024 * 1024).toString('base64')
    assert.equal(isBase64(atLimit), true)
    assert.equal(isBase64('\u0141' + atLimit.slice(1)), false)
  })
})
