import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { base64DecodedLength, base64EncodedLength, isBase64 } from '../src/index.js'

describe('base64 checks', () => {
  it('accept every standard, padded encoding', () => {
    for (let n = 0; n < 64; n++) {
      const text = randomBytes(n).toString('base64')
      assert.equal(isBase64(text), true, text)
      assert.equal(base64DecodedLength(text), n)
      assert.equal(base64EncodedLength(n), text.length)
    }
  })
  it('refuse everything else', () => {
    for (const bad of ['A', 'AA', 'AAA', 'AA=A', 'A===', '====', '=AAA', 'AAAA=', 'AA-_', 'AA A', 'AAA\n', 'AAA\u00e9', 'QQ==QQ==', 'AA==AAAA',
      // Node's decoder reads only the low byte of these (0x41 'A', 0x2B '+'), skips NUL and "*"
      '\u0141\u0141\u0141\u0141', 'AAA\u012b', 'AA\u0000A', 'AAA*', 'AA\uD800A', 'AB-A']) {
      assert.equal(isBase64(bad), false, JSON.stringify(bad))
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
