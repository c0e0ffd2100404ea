import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { base64DecodedLength, isBase64 } from '../src/index.js'

describe('base64 checks', () => {
  it('accept every standard, padded encoding', () => {
    for (let n = 0; n < 64; n++) {
      const text = randomBytes(n).toString('base64')
      assert.equal(isBase64(text), true, text)
      assert.equal(base64DecodedLength(text), n)
    }
  })
  it('refuse everything else', () => {
    for (const bad of ['A', 'AA', 'AAA', 'AA=A', 'A===', '====', '=AAA', 'AAAA=', 'AA-_', 'AA A', 'AAA\n', 'AAA\u00e9', 'QQ==QQ==', 'AA==AAAA']) {
      assert.equal(isBase64(bad), false, JSON.stringify(bad))
    }
  })
})
