/**
 * HTTP/1.1 and cleartext HTTP/2 ("prior knowledge", as the AWS SDK's default handler speaks to an
 * http:// endpoint) on one port. Node's http2 server only negotiates both over TLS, so each new
 * connection is sniffed: a client that opens with the HTTP/2 preface ("PRI * HTTP/2.0") goes to
 * the HTTP/2 server, every other to the HTTP/1.1 server. Both call the same fastify handler.
 */
import { createServer as createHttp1Server, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttp2Server, type Http2Server, type Http2Session } from 'node:http2'
import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

export interface DualProtocolServer {
  /** What fastify listens and closes through (it owns the TCP listener). */
  server: Server
  http2: Http2Server
  /** Open HTTP/2 sessions, so a graceful shutdown can send each a GOAWAY. */
  sessions: Set<Http2Session>
}

const PREFACE = Buffer.from('PRI * HTTP/2.0')

/**
 * The socket as a JS stream that first yields the bytes already read. (HTTP/2 reads the native
 * handle of a real socket directly, so bytes pushed back with unshift() would never reach it; a
 * plain Duplex is wrapped by Node and read through JS instead.)
 */
function replaying(socket: Socket, already: Buffer): Duplex {
  const stream = new Duplex({
    read() {
      socket.resume()
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback)
    },
    final(callback) {
      socket.end(callback)
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined)
      callback(err)
    },
  })
  stream.push(already)
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause()
  })
  socket.once('end', () => stream.push(null))
  socket.once('error', (err) => stream.destroy(err))
  socket.once('close', () => stream.destroy())
  return stream
}

export interface ServerTimeouts {
  /** How long an idle keep-alive connection stays open (fastify's default: 72 s, above common LB idle timeouts). */
  keepAliveTimeoutMs: number
  /** Most time to receive a whole request (0: Node's default). */
  requestTimeoutMs: number
  /** Socket inactivity timeout (0: none). */
  connectionTimeoutMs: number
  /** Idle HTTP/2 sessions are closed after this long. */
  http2SessionTimeoutMs: number
}

export function createDualProtocolServer(handler: Handler, timeouts: ServerTimeouts): DualProtocolServer {
  const server = createHttp1Server(handler)
  // What fastify sets on servers it creates itself; a custom server must set it too, or Node's 5 s
  // keep-alive default closes connections that clients expect to reuse.
  server.keepAliveTimeout = timeouts.keepAliveTimeoutMs
  if (timeouts.requestTimeoutMs > 0) server.requestTimeout = timeouts.requestTimeoutMs
  server.setTimeout(timeouts.connectionTimeoutMs)
  const http2 = createHttp2Server({}, handler as unknown as Parameters<typeof createHttp2Server>[1])
  const sessions = new Set<Http2Session>()
  http2.on('session', (session: Http2Session) => {
    sessions.add(session)
    session.setTimeout(timeouts.http2SessionTimeoutMs, () => session.close())
    session.once('close', () => sessions.delete(session))
  })
  const [http1OnConnection] = server.listeners('connection') as Array<(socket: Socket) => void>
  if (!http1OnConnection) throw new Error('node:http server has no connection listener to delegate to')
  server.removeAllListeners('connection')
  // Connections that have not sent their first bytes yet belong to neither server, so Node's own
  // bookkeeping (idle closing on close(), the headers timeout) does not see them. A client that
  // connects and never writes (undici does, when a request is aborted just as its connection
  // opens) would otherwise hold server.close() open forever.
  const undecided = new Set<Socket>()
  const closeIdle = server.closeIdleConnections.bind(server)
  const closeAll = server.closeAllConnections.bind(server)
  const dropUndecided = (): void => {
    for (const socket of undecided) socket.destroy()
    undecided.clear()
  }
  server.closeIdleConnections = () => {
    dropUndecided()
    closeIdle()
  }
  server.closeAllConnections = () => {
    dropUndecided()
    closeAll()
  }
  server.on('connection', (socket: Socket) => {
    undecided.add(socket)
    socket.once('close', () => undecided.delete(socket))
    // As long as Node gives a client to send a request's headers.
    socket.setTimeout(server.headersTimeout, () => socket.destroy())
    let seen = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      seen = Buffer.concat([seen, chunk])
      const n = Math.min(seen.length, PREFACE.length)
      const isHttp2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n))
      if (isHttp2 && seen.length < PREFACE.length) return // not enough bytes to tell yet
      undecided.delete(socket)
      socket.setTimeout(0)
      socket.removeAllListeners('timeout')
      socket.off('data', onData)
      socket.pause()
      if (isHttp2) {
        http2.emit('connection', replaying(socket, seen))
      } else {
        socket.unshift(seen)
        http1OnConnection.call(server, socket)
        socket.resume()
      }
    }
    socket.on('data', onData)
  })
  return { server, http2, sessions }
}
