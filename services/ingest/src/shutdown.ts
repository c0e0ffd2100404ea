/**
 * Graceful shutdown that loses no answer. `app.close()` alone is not enough: on Node 20 closing the
 * server also drops keep-alive sockets that look idle while their next request may already be on
 * the wire, and that client sees a reset with no idea whether its put was applied. So:
 *   1. drain: readiness turns 503 and every answer carries `Connection: close`, so each open socket
 *      closes after its next answer;
 *   2. stop accepting connections, but leave the open ones alone;
 *   3. when no request has arrived for a short while, close the sockets that are still idle, and
 *      wait for the busy ones to be answered; at the deadline, close whatever is left;
 *   4. close the app (Redis and other resources).
 */
import type { Socket } from 'node:net'
import type { Http2Session } from 'node:http2'
import type { FastifyInstance } from 'fastify'

/** Shared between buildApp (hooks, readiness) and the process that owns the server. */
export class Lifecycle {
  draining = false
  lastRequestAtMs = 0
}

const QUIET_MS = 500
const POLL_MS = 20

export function trackSockets(app: FastifyInstance): Set<Socket> {
  const sockets = new Set<Socket>()
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  return sockets
}

export async function drainAndClose(
  app: FastifyInstance,
  lifecycle: Lifecycle,
  sockets: Set<Socket>,
  timeoutMs: number,
  http2Sessions: ReadonlySet<Http2Session> = new Set(),
): Promise<void> {
  lifecycle.draining = true
  lifecycle.lastRequestAtMs = Date.now()
  // HTTP/2: GOAWAY lets the streams in flight finish and tells the client to open no new ones.
  for (const session of http2Sessions) session.close()
  const server = app.server
  const closeIdle = server.closeIdleConnections.bind(server)
  // Stop accepting; Node would also close "idle" keep-alive sockets here, which is the race above.
  server.closeIdleConnections = () => undefined
  // close() calls back only once every socket is gone; the loop below is what waits for that.
  server.close()
  const deadline = Date.now() + timeoutMs
  while (sockets.size > 0 && Date.now() < deadline) {
    if (Date.now() - lifecycle.lastRequestAtMs >= QUIET_MS) closeIdle()
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  if (sockets.size > 0) {
    app.log.warn({ open: sockets.size }, 'shutdown timeout: closing the remaining connections')
    server.closeAllConnections()
    for (const socket of sockets) socket.destroy()
  }
  server.closeIdleConnections = closeIdle
  await app.close()
}
