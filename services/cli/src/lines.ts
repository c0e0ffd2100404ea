/**
 * Splits a byte stream into lines without decoding it: a record is the exact bytes of its line (so
 * text in any encoding and binary data without a newline byte survive). `\n` ends a line and a `\r`
 * before it is dropped; the last line needs no newline. A line longer than `maxBytes` is not kept in
 * memory: it is reported by its length and skipped.
 */
import type { Readable } from 'node:stream'

export type Line = { bytes: Buffer } | { tooLongBytes: number }

export async function* readLines(input: Readable, maxBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = []
  let length = 0
  let overflow = false
  const finish = (): Line => {
    let line: Line
    if (overflow) line = { tooLongBytes: length }
    else {
      let bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, length)
      if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1)
      // A copy: a slice would keep the whole read chunk alive for as long as the record is buffered.
      line = { bytes: Buffer.from(bytes) }
    }
    parts = []
    length = 0
    overflow = false
    return line
  }
  const add = (piece: Buffer): void => {
    length += piece.length
    if (overflow) return
    // One more byte than allowed: a trailing \r may still be dropped.
    if (length > maxBytes + 1) {
      overflow = true
      parts = []
    } else if (piece.length > 0) parts.push(piece)
  }
  for await (const chunk of input) {
    const buf: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    let start = 0
    for (let nl = buf.indexOf(0x0a, start); nl !== -1; nl = buf.indexOf(0x0a, start)) {
      add(buf.subarray(start, nl))
      const line = finish()
      if ('bytes' in line && line.bytes.length > maxBytes) yield { tooLongBytes: line.bytes.length }
      else yield line
      start = nl + 1
    }
    add(buf.subarray(start))
  }
  if (length > 0 || overflow) {
    const line = finish()
    if ('bytes' in line && line.bytes.length > maxBytes) yield { tooLongBytes: line.bytes.length }
    else yield line
  }
}
