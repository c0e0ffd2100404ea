/**
 * The Kinesis-compatible endpoint: `POST /` with `X-Amz-Target: Kinesis_20131202.<Action>` and a
 * JSON 1.1 body, on the same port as the REST API. It dispatches onto KINESIS_ACTIONS, which call the
 * same action functions as REST; records put through either API are read through the other with the
 * same sequence numbers.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { allows, type ScopeAction } from '@sluice/store'
import type { ActionContext } from '../context.js'
import { PUT_BODY_LIMIT, kinesisCborBodyParser, kinesisJsonBodyParser, refuseOversizedKinesisBody } from '../body-parsing.js'
import { KINESIS_ACTIONS, type CallContext, type KinesisAction } from './actions.js'
import { KinesisError, toKinesisError } from './errors.js'
import { encodeCborAnswer } from './cbor.js'
import { SigV4Verifier, type AwsPrincipal } from './sigv4.js'

const TARGET_PREFIX = 'Kinesis_20131202.'
export const KINESIS_CONTENT_TYPES = ['application/x-amz-json-1.1', 'application/x-amz-json-1.0']
export const KINESIS_CBOR_TYPE = 'application/x-amz-cbor-1.1'
const JSON_TYPE = 'application/x-amz-json-1.1'

/** Answers go back in the request's content type. */
function isCbor(req: FastifyRequest): boolean {
  return (req.headers['content-type'] ?? '').startsWith(KINESIS_CBOR_TYPE)
}

/** An answer's content type and bytes. */
export function encodeAnswer(answer: unknown, cbor: boolean): { type: string; body: Buffer } {
  if (cbor) return { type: KINESIS_CBOR_TYPE, body: encodeCborAnswer(answer) }
  // Bytes, so that the content type stays as AWS sends it: fastify adds "; charset=utf-8" to a JSON
  // type sent with a string.
  return { type: JSON_TYPE, body: Buffer.from(JSON.stringify(answer), 'utf8') }
}

function send(req: FastifyRequest, reply: FastifyReply, answer: unknown): FastifyReply {
  const { type, body } = encodeAnswer(answer, isCbor(req))
  return reply.header('x-amzn-requestid', req.id).type(type).send(body)
}

/** Region of the SigV4 credential scope: Credential=<key>/<date>/<region>/kinesis/aws4_request. */
const CREDENTIAL_RE = /Credential=[^/,\s]+\/\d{8}\/([a-z0-9-]+)\/kinesis\/aws4_request/
const SIGNATURE_RE = /Signature=[0-9a-f]+/

declare module 'fastify' {
  interface FastifyRequest {
    /** The Kinesis call a request is making, once known (error messages name its region and stream). */
    kinesisCall: CallContext | null
    /** The body's bytes as received, kept only when signatures are verified (a signature covers them). */
    kinesisRawBody: Buffer | null
  }
}

/**
 * What each action needs of a SigV4 caller's scopes, on the stream it names ('any': any scope on
 * it). ListStreams needs a scope on every stream, like GET /v1/streams; DescribeLimits names no
 * stream and tells only the service's limits. An action missing here is refused to everyone.
 */
const ACTION_SCOPES: Record<string, { action: ScopeAction | 'any'; stream: 'named' | 'all' | 'none' }> = {
  CreateStream: { action: 'admin', stream: 'named' },
  DeleteStream: { action: 'admin', stream: 'named' },
  IncreaseStreamRetentionPeriod: { action: 'admin', stream: 'named' },
  DecreaseStreamRetentionPeriod: { action: 'admin', stream: 'named' },
  AddTagsToStream: { action: 'admin', stream: 'named' },
  RemoveTagsFromStream: { action: 'admin', stream: 'named' },
  DescribeStream: { action: 'any', stream: 'named' },
  DescribeStreamSummary: { action: 'any', stream: 'named' },
  ListShards: { action: 'any', stream: 'named' },
  ListTagsForStream: { action: 'any', stream: 'named' },
  ListStreams: { action: 'any', stream: 'all' },
  DescribeLimits: { action: 'any', stream: 'none' },
  PutRecord: { action: 'write', stream: 'named' },
  PutRecords: { action: 'write', stream: 'named' },
  GetShardIterator: { action: 'read', stream: 'named' },
  GetRecords: { action: 'read', stream: 'named' },
}

function accessDenied(principal: AwsPrincipal, operation: string, region: string, stream: string): KinesisError {
  const resource = stream === '*' ? `arn:aws:kinesis:${region}:000000000000:stream/*` : `arn:aws:kinesis:${region}:000000000000:stream/${stream}`
  return new KinesisError('AccessDeniedException', `User: ${principal.accessKeyId} is not authorized to perform: kinesis:${operation} on resource: ${resource}`)
}

/** A failed call's answer: AWS' exception, its status and headers; `internal` when it is our fault (logged). */
export function errorAnswer(err: unknown, call: CallContext | null): { error: KinesisError; internal: boolean; headers: Record<string, string> } {
  const { error, internal } = toKinesisError(err, call ?? {})
  const headers: Record<string, string> = error.type === 'ServiceUnavailable' ? { 'retry-after': '1' } : {}
  headers['x-amzn-errortype'] = error.type
  return { error, internal, headers }
}

function sendError(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const { error, internal, headers } = errorAnswer(err, req.kinesisCall)
  if (internal) req.log.error({ err }, 'internal error')
  return send(req, reply.code(error.status).headers(headers), error.toBody())
}

export interface PreparedCall {
  action: KinesisAction
  body: Record<string, unknown>
  call: CallContext
}

/**
 * What a request asks, from its headers and parsed body: the action, its body and its context, or
 * the error AWS answers (unknown operation, missing or malformed authorization, a body that is not
 * an object, a caller without the scope). Both ways in use it: the fastify route and the puts' fast
 * path (fast-path.ts).
 */
export function prepareCall(headers: IncomingHttpHeaders, parsed: unknown, principal?: AwsPrincipal): PreparedCall {
  const target = headers['x-amz-target']
  const operation = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined
  const action = operation === undefined ? undefined : KINESIS_ACTIONS[operation]
  if (!action || operation === undefined) throw new KinesisError('UnknownOperationException', `Unknown operation ${typeof target === 'string' ? target : '(no X-Amz-Target)'}`)
  const auth = headers.authorization
  if (typeof auth !== 'string' || !auth.startsWith('AWS4-HMAC-SHA256 ')) throw new KinesisError('MissingAuthenticationTokenException', 'Missing Authentication Token')
  const region = CREDENTIAL_RE.exec(auth)?.[1]
  if (!region || !SIGNATURE_RE.test(auth)) {
    throw new KinesisError('IncompleteSignatureException', 'Authorization header requires Credential, SignedHeaders and Signature parameters.')
  }
  const body = parsed === undefined || parsed === null ? {} : parsed
  if (typeof body !== 'object' || Array.isArray(body)) throw new KinesisError('SerializationException', 'The request body must be a JSON object.')
  const call: CallContext = { region }
  if (principal) {
    const needs = ACTION_SCOPES[operation]
    if (!needs) throw accessDenied(principal, operation, region, '*')
    if (needs.stream === 'all' && !allows(principal.scopes, needs.action, '*')) throw accessDenied(principal, operation, region, '*')
    call.authorize = (stream) => {
      if (!allows(principal.scopes, needs.action, stream)) throw accessDenied(principal, operation, region, stream)
    }
  }
  return { action, body: body as Record<string, unknown>, call }
}

/**
 * `verifier`: SigV4 verification with the configured access keys; without it any well-formed
 * AWS4-HMAC-SHA256 header is accepted (what kinesalite and kinesis-mock do).
 */
export function kinesisRoutes(app: FastifyInstance, ctx: ActionContext, verifier?: SigV4Verifier): void {
  // Size, UTF-8, depth and prototype members are checked there, per action (body-parsing.ts). The
  // raw bytes are kept: a SigV4 signature covers them.
  // Request decorations, not WeakMaps keyed by request: a WeakMap entry per request costs the
  // garbage collector measurably at tens of thousands of requests a second.
  app.decorateRequest('kinesisCall', null)
  app.decorateRequest('kinesisRawBody', null)
  app.decorateRequest('kinesisRoute', false)
  app.addContentTypeParser(KINESIS_CONTENT_TYPES, { parseAs: 'buffer', bodyLimit: PUT_BODY_LIMIT }, (req, body, done) => {
    if (verifier) req.kinesisRawBody = body as Buffer
    kinesisJsonBodyParser(req, body as Buffer, done)
  })
  app.addContentTypeParser(KINESIS_CBOR_TYPE, { parseAs: 'buffer', bodyLimit: PUT_BODY_LIMIT }, (req, body, done) => {
    if (verifier) req.kinesisRawBody = body as Buffer
    kinesisCborBodyParser(req, body as Buffer, done)
  })

  app.post(
    '/',
    {
      bodyLimit: PUT_BODY_LIMIT,
      preParsing: refuseOversizedKinesisBody,
      errorHandler: (err, req, reply) => sendError(req, reply, err),
    },
    async (req, reply) => {
      // Who is asking comes first when signatures are verified: an unsigned caller learns nothing.
      const principal = verifier
        ? await verifier.verify({ method: req.method, url: req.url, headers: req.headers, body: req.kinesisRawBody ?? Buffer.alloc(0) })
        : undefined
      const { action, body, call } = prepareCall(req.headers, req.body, principal)
      req.kinesisCall = call
      const result = await action(ctx, body, call)
      return send(req, reply, result)
    },
  )
}
