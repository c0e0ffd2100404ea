/**
 * Logs: pino JSON, one request id per request (taken from x-request-id when the client sends one,
 * echoed back). A request is logged once, when it completes, at debug level — at the default level
 * a put costs no log line. Authorization headers are redacted and record data is never logged:
 * requests are logged by method, route, status and time, never by body.
 */
import type { Writable } from 'node:stream'
import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { LogLevel } from './config.js'

export const REDACTED_PATHS = ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'authorization']

export class SluiceLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime * 100) / 100,
    }
    if (error) reply.log.warn({ ...line, err: error }, 'request failed')
    else reply.log.debug(line, 'request completed')
  }
}

export function loggerOptions(level: LogLevel, stream?: Writable): NonNullable<FastifyServerOptions['logger']> {
  return { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, ...(stream ? { stream } : {}) }
}
