/**
 * The connection timeout (SLUICE_CONNECTION_TIMEOUT_MS, ServerLimits.connectionTimeoutMs): a client
 * that sent its request and then stopped reading the answer leaves a connection on which nothing
 * moves, and the server closes it once the timeout has passed; a client that reads gets the whole
 * answer, however long it takes, because bytes keep moving. The server is the one the ingest runs
 * (createDualProtocolServer), with a small timeout so the test is short.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { connect, type Socket } from 'node:net'
import { createDualProtocolServer, type DualProtocolServer } from '../src/http-server.js'

/** Far more than the two sockets' kernel buffers hold, so a client that does not read stalls it. */
const ANSWER_BYTES = 256 * 1024 * 1024
const CONNECTION_TIMEOUT_MS = 600

describe('connection timeout', () => {
  let dual: DualProtocolServer
  let port: number
  /** Resolves with the time the server closes the next connection it closes. */
  let nextClose: (at: number) => void = () => undefined
  const serverCloses = (): Promise<number> => new Promise((resolve) => (nextClose = resolve))

  /** A connection that has asked for the big answer. */
  async function askForTheAnswer(): Promise<Socket> {
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    socket.write('GET /big HTTP/1.1\r\nHost: sluice\r\n\r\n')
    return socket
  }

  before(async () => {
    const chunk = Buffer.alloc(1024 * 1024, 'x')
    dual = createDualProtocolServer(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(ANSWER_BYTES) })
        let sent = 0
        const pump = (): void => {
          while (sent < ANSWER_BYTES) {
            sent += chunk.length
            if (!res.write(chunk)) return void res.once('drain', pump)
          }
          res.end()
        }
        pump()
      },
      { maxConnections: 10, headersTimeoutMs: 5000, requestTimeoutMs: 5000, keepAliveTimeoutMs: 5000, connectionTimeoutMs: CONNECTION_TIMEOUT_MS },
    )
    dual.server.on('connection', (socket: Socket) => socket.once('close', () => nextClose(Date.now())))
    dual.server.listen(0, '127.0.0.1')
    await once(dual.server, 'listening')
    port = (dual.server.address() as AddressInfo).port
  })
  after(async () => {
    dual?.server.closeAllConnections()
    await new Promise((resolve) => dual?.server.close(resolve))
  })

  it('closes a connection whose client stopped reading its answer, once nothing moved for the timeout', async () => {
    const closed = serverCloses()
    const socket = await askForTheAnswer()
    let received = 0
    let lastByteAt = Date.now()
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      lastByteAt = Date.now()
      // The first bytes, then the client stops reading: the kernel buffers fill and the answer stalls.
      socket.pause()
    })
    const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000).unref())
    const closedAt = await Promise.race([closed, timeout])
    socket.destroy()
    assert.ok(closedAt !== null, 'the server closed the stalled connection')
    const stalledMs = closedAt - lastByteAt
    assert.ok(stalledMs >= CONNECTION_TIMEOUT_MS - 100, `closed ${stalledMs} ms after the last byte moved, before the timeout`)
    assert.ok(received > 0 && received < ANSWER_BYTES, `the client had ${received} of ${ANSWER_BYTES} bytes`)
  })

  it('keeps a connection on which bytes keep moving, however long the answer takes', async () => {
    const socket = await askForTheAnswer()
    let received = 0
    const started = Date.now()
    let resolveDone!: () => void
    const done = new Promise<void>((resolve) => (resolveDone = resolve))
    let pausedAt = 0
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      if (received >= ANSWER_BYTES) return resolveDone()
      // Slow, but never still for the timeout: a pause of half of it after every 16 MiB.
      if (received - pausedAt >= 16 * 1024 * 1024) {
        pausedAt = received
        socket.pause()
        setTimeout(() => socket.resume(), CONNECTION_TIMEOUT_MS / 2)
      }
    })
    const closed = once(socket, 'close').then(() => resolveDone())
    await done
    socket.destroy()
    await closed
    const tookMs = Date.now() - started
    const headerBytes = received - ANSWER_BYTES
    assert.ok(headerBytes > 0 && headerBytes < 1000, `the whole answer arrived (${received} bytes in ${tookMs} ms)`)
    assert.ok(tookMs > 2 * CONNECTION_TIMEOUT_MS, `it took longer than the timeout (${tookMs} ms)`)
  })
})
