/**
 * HTTP/1.1 and cleartext HTTP/2 ("prior knowledge", as the AWS SDK's default handler speaks to an
 * http:// endpoint) on one port. Node's http2 server only negotiates both over TLS, so each new
 * connection is sniffed: a client that opens with the HTTP/2 preface ("PRI * HTTP/2.0") goes to
 * the HTTP/2 server, every other to the HTTP/1.1 server. Both call the same fastify handler.
 */
import { createServer as createHttp1Server, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { constants as http2Constants, createServer as createHttp2Server, type Http2Server, type Http2Session, type ServerHttp2Stream } from 'node:http2'
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

export interface ServerLimits {
  /** Most open connections, HTTP/1.1 and HTTP/2 alike; the kernel's accept goes on, Node closes the extra ones at once. */
  maxConnections: number
  /** Time a client has to send a request's headers (HTTP/2: to open its first stream), from its first byte. */
  headersTimeoutMs: number
  /** Time a client has to send a whole request, headers and body (at least headersTimeoutMs). */
  requestTimeoutMs: number
  /** How long an idle keep-alive connection (or HTTP/2 session) stays open. */
  keepAliveTimeoutMs: number
  /** A connection on which no byte moves either way for this long is closed (0: never). */
  connectionTimeoutMs: number
}

/**
 * How often Node looks for connections past their headers or request timeout. Its default is 30 s,
 * which would let a slow client stay up to 30 s past its timeout.
 */
function checkingIntervalMs(limits: ServerLimits): number {
  return Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4)))
}

export function createDualProtocolServer(handler: Handler, limits: ServerLimits): DualProtocolServer {
  const server = createHttp1Server({ connectionsCheckingInterval: checkingIntervalMs(limits) }, handler)
  // A custom server must set these itself (fastify only sets them on servers it creates), or Node's
  // defaults apply: a 5 s keep-alive that closes connections clients expect to reuse, and 60 s / 300 s
  // for headers / requests, long enough for slow clients (slowloris) to hold connections open.
  server.keepAliveTimeout = limits.keepAliveTimeoutMs
  server.headersTimeout = limits.headersTimeoutMs
  server.requestTimeout = limits.requestTimeoutMs
  server.maxConnections = limits.maxConnections
  server.setTimeout(limits.connectionTimeoutMs)
  const http2 = createHttp2Server({}, handler as unknown as Parameters<typeof createHttp2Server>[1])
  const sessions = new Set<Http2Session>()
  http2.on('session', (session: Http2Session) => {
    sessions.add(session)
    session.setTimeout(limits.keepAliveTimeoutMs, () => session.close())
    // As an HTTP/1.1 client must send its headers in time, a session must open a stream in time.
    const firstStream = setTimeout(() => session.destroy(), server.headersTimeout)
    session.once('stream', () => clearTimeout(firstStream))
    session.once('close', () => {
      clearTimeout(firstStream)
      sessions.delete(session)
    })
  })
  // A stream must have sent its whole request within the request timeout, like an HTTP/1.1 request
  // (Node applies requestTimeout to HTTP/1.1 only).
  http2.on('stream', (stream: ServerHttp2Stream) => {
    if (stream.endAfterHeaders) return
    let received = false
    stream.once('end', () => (received = true))
    const timer = setTimeout(() => {
      if (!received) stream.close(http2Constants.NGHTTP2_CANCEL)
    }, server.requestTimeout)
    stream.once('close', () => clearTimeout(timer))
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
    // As long as Node gives a client to send a request's headers, counted from the connection (not
    // from the last byte: a client sending the HTTP/2 preface a byte a second must not stay forever).
    const deadline = setTimeout(() => socket.destroy(), server.headersTimeout)
    socket.once('close', () => {
      clearTimeout(deadline)
      undecided.delete(socket)
    })
    // A client that hangs up before its first bytes leaves the socket half-open (node:http servers
    // allow that), and no parser will ever end it: end it now, not at the deadline, or it holds one
    // of SLUICE_MAX_CONNECTIONS until then.
    const onEnd = (): void => void socket.destroy()
    socket.once('end', onEnd)
    let seen = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      seen = Buffer.concat([seen, chunk])
      const n = Math.min(seen.length, PREFACE.length)
      const isHttp2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n))
      if (isHttp2 && seen.length < PREFACE.length) return // not enough bytes to tell yet
      undecided.delete(socket)
      clearTimeout(deadline)
      socket.off('data', onData)
      socket.off('end', onEnd)
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
