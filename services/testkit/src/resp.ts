/**
 * A minimal RESP2 client for the harness itself (readiness probes, CLUSTER INFO): one command per
 * connection, replies parsed for the simple types. Tests talk to Redis through ioredis instead.
 */
import { createConnection } from 'node:net'

export type RespReply = string | number | null | RespReply[] | Error

function encode(args: readonly string[]): string {
  let out = `*${args.length}\r\n`
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
  return out
}

/** Parses one reply from buf at offset; returns [reply, next offset] or null if incomplete. */
function parse(buf: Buffer, at: number): [RespReply, number] | null {
  const eol = buf.indexOf('\r\n', at)
  if (eol < 0) return null
  const type = String.fromCharCode(buf[at]!)
  const line = buf.toString('utf8', at + 1, eol)
  const next = eol + 2
  switch (type) {
    case '+':
      return [line, next]
    case '-':
      return [new Error(line), next]
    case ':':
      return [Number(line), next]
    case '$': {
      const len = Number(line)
      if (len < 0) return [null, next]
      if (buf.length < next + len + 2) return null
      return [buf.toString('utf8', next, next + len), next + len + 2]
    }
    case '*': {
      const n = Number(line)
      if (n < 0) return [null, next]
      const items: RespReply[] = []
      let pos = next
      for (let i = 0; i < n; i++) {
        const r = parse(buf, pos)
        if (!r) return null
        items.push(r[0])
        pos = r[1]
      }
      return [items, pos]
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`)
  }
}

/**
 * Sends one command on a fresh connection and resolves with its reply; an error reply (-ERR, -LOADING)
 * resolves as an Error value, so a caller can tell "Redis said no" from "no answer". Rejects when the
 * connection fails, closes without a reply, or nothing comes back within `timeoutMs` (a SIGSTOPped
 * server still accepts connections: the kernel completes the handshake, nobody answers).
 */
export function redisCommand(port: number, args: readonly string[], timeoutMs = 2000, host = '127.0.0.1'): Promise<RespReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port })
    let buf = Buffer.alloc(0)
    let settled = false
    const finish = (then: () => void): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      then()
    }
    const timer = setTimeout(
      () => finish(() => reject(new Error(`redis at ${host}:${port} did not answer ${args[0]} within ${timeoutMs} ms`))),
      timeoutMs,
    )
    socket.once('error', (err) => finish(() => reject(err)))
    socket.once('close', () => finish(() => reject(new Error(`redis at ${host}:${port} closed the connection without answering ${args[0]}`))))
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      let reply: [RespReply, number] | null
      try {
        reply = parse(buf, 0)
      } catch (err) {
        finish(() => reject(err))
        return
      }
      if (reply) {
        const value = reply[0]
        finish(() => resolve(value))
      }
    })
    socket.once('connect', () => socket.write(encode(args)))
  })
}
