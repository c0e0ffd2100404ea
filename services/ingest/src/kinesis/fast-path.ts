/**
 * The short way in for Kinesis puts. PutRecord and PutRecords in JSON are nearly all a Kinesis
 * producer sends, and for a put of one small record fastify's request lifecycle (routing, hooks,
 * the request and reply objects, the content-type parser's stream handling) costs ~2 µs of the ~30
 * the ingest spends on it (most of the rest is the kernel's: one read and one writev per request).
 * Such a request is answered here, from node:http's request and response;
 * every other request, and every put this path is not sure about, goes to fastify unchanged.
 *
 * It takes a request only when all of these hold, else fastify does:
 *   - POST / with X-Amz-Target Kinesis_20131202.PutRecord or .PutRecords;
 *   - Content-Type exactly application/x-amz-json-1.1 or 1.0 (no parameters; CBOR goes to fastify);
 *   - a Content-Length within PUT_BODY_LIMIT (an oversized or chunked body goes to fastify, which
 *     answers or measures it), no Content-Encoding;
 *   - the service is not draining or closing (fastify answers those with Connection: close or 503);
 *   - no fastify hook would refuse it: with auth on, only when SigV4 signatures are verified, which
 *     this path does itself, as the route does.
 * What it answers, it answers as the route would: the same body checks (parseJsonBody), the same
 * call preparation and action (prepareCall), the same error mapping and headers (errorAnswer,
 * encodeAnswer), the same request id (x-request-id or the app's counter), the same request metric
 * and log lines. The fast-path tests send the same requests both ways and compare the answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import type { ActionContext } from '../context.js'
import { KINESIS_PUT_TARGETS, PUT_BODY_LIMIT, kinesisBodyError, parseJsonBody } from '../body-parsing.js'
import type { CallContext } from './actions.js'
import { KINESIS_CONTENT_TYPES, encodeAnswer, errorAnswer, prepareCall } from './dispatcher.js'
import { KinesisError } from './errors.js'
import type { SigV4Verifier } from './sigv4.js'

export interface FastPathOptions {
  ctx: ActionContext
  log: FastifyBaseLogger
  /** The app's request ids: the same counter fastify's requests take theirs from. */
  requestId: () => string
  /** True while the service drains or closes: requests then go to fastify. */
  closing: () => boolean
  /** With SigV4 verification on (the route verifies too). */
  verifier?: SigV4Verifier
}

export interface FastPath {
  /** Whether this path took the request; if not, nothing was read or written. */
  take(req: IncomingMessage, res: ServerResponse): boolean
  /** Requests taken so far (tests tell the two ways in apart by it). */
  readonly taken: number
}

const JSON_TYPES: ReadonlySet<string> = new Set(KINESIS_CONTENT_TYPES)
const DIGITS = /^\d{1,10}$/

export function kinesisPutFastPath(opts: FastPathOptions): FastPath {
  const { ctx, log, verifier } = opts
  const durations = ctx.metrics.requestDuration

  /**
   * `close`: the body could not be parsed; fastify then closes an HTTP/1.1 connection (the client may
   * still be sending), so this path does too. (HTTP/2 has no such header: a stream ends alone.)
   */
  function answer(res: ServerResponse, id: string, status: number, headers: Record<string, string>, value: unknown, close = false): void {
    const { type, body } = encodeAnswer(value, false)
    // The headers the route sends, and in its order.
    const connection = close && res.req.httpVersionMajor === 1 ? { connection: 'close' } : {}
    res.writeHead(status, { ...connection, ...headers, 'x-amzn-requestid': id, 'content-type': type, 'x-request-id': id, 'content-length': String(body.length) })
    res.end(body)
  }

  function fail(res: ServerResponse, id: string, err: unknown, call: CallContext | null, close = false): void {
    const { error, internal, headers } = errorAnswer(err, call)
    if (internal) log.child({ reqId: id }).error({ err }, 'internal error')
    answer(res, id, error.status, headers, error.toBody(), close)
  }

  async function run(res: ServerResponse, id: string, raw: Buffer): Promise<void> {
    let call: CallContext | null = null
    // The route's order: the body parser first, then the signature, then the call.
    const parsed = parseJsonBody(raw)
    if ('problem' in parsed) return fail(res, id, kinesisBodyError(parsed.problem), null, true)
    try {
      const principal = verifier ? await verifier.verify({ method: 'POST', url: '/', headers: res.req.headers, body: raw }) : undefined
      const prepared = prepareCall(res.req.headers, parsed.value, principal)
      call = prepared.call
      const result = await prepared.action(ctx, prepared.body, call)
      answer(res, id, 200, {}, result)
    } catch (err) {
      fail(res, id, err, call)
    }
  }

  /** An answer that could not be written (a bug: every header it sends was valid in the request): give up the request. */
  function broken(res: ServerResponse, id: string, err: unknown): void {
    log.child({ reqId: id }).error({ err }, 'internal error')
    res.destroy()
  }

  let taken = 0
  const take = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'POST' || req.url !== '/') return false
    const headers = req.headers
    const target = headers['x-amz-target']
    const type = headers['content-type']
    const length = headers['content-length']
    if (target === undefined || !KINESIS_PUT_TARGETS.has(target as string)) return false
    if (type === undefined || !JSON_TYPES.has(type)) return false
    if (length === undefined || !DIGITS.test(length) || Number(length) > PUT_BODY_LIMIT) return false
    if (headers['content-encoding'] !== undefined || headers['transfer-encoding'] !== undefined || opts.closing()) return false

    taken++
    const startedAt = performance.now()
    const requestId = headers['x-request-id']
    const id = typeof requestId === 'string' && requestId !== '' ? requestId : opts.requestId()
    // The request metric and log line once the answer is sent, as fastify's onResponse: not for an
    // answer the client went away before.
    let counted = false
    const finished = (): void => {
      if (counted) return
      counted = true
      const seconds = (performance.now() - startedAt) / 1000
      const status = res.statusCode
      durations.observe({ route: '/', method: 'POST', status: String(status) }, seconds)
      if (log.level === 'debug' || log.level === 'trace') {
        log.child({ reqId: id }).debug({ method: 'POST', route: '/', statusCode: status, responseTimeMs: Math.round(seconds * 100_000) / 100 }, 'request completed')
      }
    }
    res.once('finish', finished)
    // Stays for the response's life: an 'error' with no listener would end the process.
    res.on('error', finished)
    const declared = Number(length)
    let chunks: Buffer[] = []
    let received = 0
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      received += chunk.length
    }
    req.on('data', onData)
    req.once('end', () => {
      req.off('data', onData)
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)
      chunks = []
      if (received !== declared) {
        // The route's answer to a body shorter than its Content-Length. (Only HTTP/2 gets here, and
        // its stream has been reset by then: Node's HTTP/1.1 parser reads exactly that many bytes.)
        try {
          fail(res, id, new KinesisError('SerializationException', 'Request body size did not match Content-Length'), null, true)
        } catch (err) {
          broken(res, id, err)
        }
        return
      }
      run(res, id, raw).catch((err: unknown) => broken(res, id, err))
    })
    // A client that goes away mid-body gets no answer (there is no one to send it to).
    req.on('error', () => res.destroy())
    return true
  }
  return {
    take,
    get taken() {
      return taken
    },
  }
}
