/**
 * Request bodies: how large they may be, and how they are parsed. Every body, REST or Kinesis, JSON
 * or CBOR, is checked the same way before any route sees it:
 *   - size: the put routes (REST puts, Kinesis PutRecord and PutRecords) take up to PUT_BODY_LIMIT,
 *     every other request DEFAULT_BODY_LIMIT; beyond, 413;
 *   - JSON must be UTF-8 (invalid bytes are refused, never replaced by U+FFFD and stored), and so
 *     must its escapes: a lone surrogate (`"\ud800"`) is text no encoding can store, refused too;
 *   - nesting at most MAX_BODY_DEPTH levels, strings at most MAX_BODY_STRING_LENGTH characters, member
 *     names at most MAX_MEMBER_NAME_LENGTH;
 *   - no `__proto__` member, and no `constructor` member holding a `prototype` (the members that
 *     prototype pollution goes through), anywhere in the body.
 * A REST request gets a 400 ValidationError naming the problem (415 for a content type other than
 * JSON); the Kinesis endpoint gets the AWS-shaped error (SerializationException, or 413
 * RequestEntityTooLargeException).
 */
import { isUtf8 } from 'node:buffer'
import type { FastifyReply, FastifyRequest, RequestPayload } from 'fastify'
import { ApiError } from './errors.js'
import { KinesisError } from './kinesis/errors.js'
import { decodeCborRequest } from './kinesis/cbor.js'

/** Every body but a put's: the largest legitimate one (a create with write limits) is under 1 KiB. */
export const DEFAULT_BODY_LIMIT = 64 * 1024

/**
 * A put carries at most 5 MiB of data plus partition keys. The worst legitimate JSON body: data in
 * base64 (4/3), partition keys escaped as \u00XX (6 bytes per 1-byte character, 500 × 256 of them),
 * explicit hash keys and member names (~100 bytes per record): about 7.6 MB. 8 MiB leaves room for
 * whitespace. The Kinesis members are of the same size; CBOR carries the data as raw bytes.
 */
export const PUT_BODY_LIMIT = 8 * 1024 * 1024

/** The deepest legitimate body is 3 levels (records → record → member); 32 is far from both. */
export const MAX_BODY_DEPTH = 32

/**
 * Longest string anywhere in a body. The longest legitimate ones are a record's data (1 MiB, in
 * base64 1,398,104 characters) and a Kinesis NextToken (1,048,576); the members' own rules give the
 * precise answer below this bound.
 */
export const MAX_BODY_STRING_LENGTH = 2 * 1024 * 1024

/** Longest member name: Sluice's are short, tag keys at most 128 characters. */
export const MAX_MEMBER_NAME_LENGTH = 1024

export const KINESIS_PUT_TARGETS: ReadonlySet<string> = new Set(['Kinesis_20131202.PutRecord', 'Kinesis_20131202.PutRecords'])

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request is on the Kinesis route (dispatcher.ts), whose bodies and errors follow AWS'
     * protocol: set by its preParsing hook, refuseOversizedKinesisBody. (A flag rather than
     * `routeOptions.url`, which builds a new object on every read.)
     */
    kinesisRoute: boolean
  }
}

function isKinesis(req: FastifyRequest): boolean {
  return req.kinesisRoute
}

/** The most a Kinesis request may carry: puts are large, every other action small. */
export function kinesisBodyLimit(req: FastifyRequest): number {
  const target = req.headers['x-amz-target']
  return typeof target === 'string' && KINESIS_PUT_TARGETS.has(target) ? PUT_BODY_LIMIT : DEFAULT_BODY_LIMIT
}

function kinesisTooLarge(req: FastifyRequest, limit: number, size: number): KinesisError {
  const target = req.headers['x-amz-target']
  const action = typeof target === 'string' ? target.slice(target.indexOf('.') + 1) : 'this operation'
  return new KinesisError('RequestEntityTooLargeException', `The request body (${size} bytes) is larger than the ${limit} bytes ${action} accepts (PutRecord and PutRecords: ${PUT_BODY_LIMIT}).`)
}

/**
 * preParsing hook: a Kinesis request whose Content-Length is over its action's limit is refused
 * before its body is read. (The route's own limit is the put limit; a chunked body is measured by
 * the parsers below once read.)
 */
export function refuseOversizedKinesisBody(req: FastifyRequest, _reply: FastifyReply, payload: RequestPayload, done: (err?: Error | null, payload?: RequestPayload) => void): void {
  req.kinesisRoute = true
  const declared = Number(req.headers['content-length'])
  const limit = kinesisBodyLimit(req)
  if (declared > limit) return done(kinesisTooLarge(req, limit, declared))
  done(null, payload)
}

export interface BodyProblem {
  /** `body`, or the member's path, e.g. `records[3].data` */
  field: string
  message: string
}

/** A Kinesis body's problem, as AWS answers a body it cannot read. */
export function kinesisBodyError(p: BodyProblem): KinesisError {
  return new KinesisError('SerializationException', p.field === 'body' ? `The request body ${p.message}` : `${p.field}: ${p.message}`)
}

function problemError(req: FastifyRequest, p: BodyProblem): Error {
  if (isKinesis(req)) return kinesisBodyError(p)
  return new ApiError('ValidationError', `${p.field}: ${p.message}`, { field: p.field, details: [p] })
}

/** `records`, 3, `data` → `records[3].data` */
function pathText(path: ReadonlyArray<string | number>): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p
  return out || 'body'
}

function isContainer(v: unknown): v is object {
  return typeof v === 'object' && v !== null
}

/**
 * A string with a lone UTF-16 surrogate (JSON's `\ud800` escape) cannot be written as UTF-8: stored,
 * it would come back as U+FFFD, another string than the one acknowledged.
 */
const NOT_TEXT = 'holds a lone UTF-16 surrogate (an unpaired \\uD800-\\uDFFF escape), which is not text'

function stringProblem(v: string): string | null {
  if (v.length > MAX_BODY_STRING_LENGTH) return `is longer than ${MAX_BODY_STRING_LENGTH} characters`
  return v.isWellFormed() ? null : NOT_TEXT
}

/** The problem of one member name, or null. */
function memberNameProblem(obj: Record<string, unknown>, key: string): string | null {
  if (key.length > MAX_MEMBER_NAME_LENGTH) return `a member name is longer than ${MAX_MEMBER_NAME_LENGTH} characters`
  if (!key.isWellFormed()) return `a member name ${NOT_TEXT}`
  if (key === '__proto__') return 'a member named __proto__ is not allowed'
  if (key === 'constructor') {
    const v = obj[key]
    if (isContainer(v) && Object.prototype.hasOwnProperty.call(v, 'prototype')) return 'a constructor member holding a prototype is not allowed'
  }
  return null
}

/**
 * Finds where `target` (a container) sits under `node`, for the error message; null if not found
 * within MAX_BODY_DEPTH levels. Only called once a problem was found, so its cost does not matter.
 */
function pathTo(node: unknown, target: object, path: Array<string | number>, depth: number): Array<string | number> | null {
  if (node === target) return path
  if (!isContainer(node) || depth > MAX_BODY_DEPTH) return null
  const entries: Array<[string | number, unknown]> = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node)
  for (const [k, v] of entries) {
    if (!isContainer(v)) continue
    const found = pathTo(v, target, [...path, k], depth + 1)
    if (found) return found
  }
  return null
}

/**
 * Checks a parsed body without recursion (a body 100,000 levels deep must not overflow the stack):
 * one pass over its containers, strings checked where they sit. Scalars allocate nothing, so a put
 * of 500 records costs about 500 steps.
 */
export function inspectBody(root: unknown): BodyProblem | null {
  if (typeof root === 'string') {
    const problem = stringProblem(root)
    return problem ? { field: 'body', message: `is a string that ${problem}` } : null
  }
  if (!isContainer(root)) return null
  const containers: object[] = [root]
  const depths: number[] = [1]
  const at = (container: object, key: string | number, message: string): BodyProblem => ({
    field: pathText([...(pathTo(root, container, [], 1) ?? []), key]),
    message,
  })
  while (containers.length > 0) {
    const container = containers.pop()!
    const depth = depths.pop()!
    if (depth > MAX_BODY_DEPTH) return { field: 'body', message: `is nested deeper than ${MAX_BODY_DEPTH} levels` }
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) {
        const v: unknown = container[i]
        if (typeof v === 'string') {
          const problem = stringProblem(v)
          if (problem) return at(container, i, problem)
        } else if (isContainer(v)) {
          containers.push(v)
          depths.push(depth + 1)
        }
      }
      continue
    }
    const obj = container as Record<string, unknown>
    for (const key of Object.keys(obj)) {
      const nameProblem = memberNameProblem(obj, key)
      if (nameProblem) return key.length > MAX_MEMBER_NAME_LENGTH ? { field: 'body', message: nameProblem } : at(container, key, nameProblem)
      const v = obj[key]
      if (typeof v === 'string') {
        const problem = stringProblem(v)
        if (problem) return at(container, key, problem)
      } else if (isContainer(v)) {
        containers.push(v)
        depths.push(depth + 1)
      }
    }
  }
  return null
}

/** UTF-8 JSON → a value, or the problem with it. */
export function parseJsonBody(raw: Buffer): { value: unknown } | { problem: BodyProblem } {
  if (raw.length === 0) return { problem: { field: 'body', message: 'is empty; send a JSON document' } }
  if (!isUtf8(raw)) return { problem: { field: 'body', message: 'is not valid UTF-8' } }
  let text = raw.toString('utf8')
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return { problem: { field: 'body', message: `is not valid JSON (${(err as Error).message})` } }
  }
  const problem = inspectBody(value)
  return problem ? { problem } : { value }
}

type Done = (err: Error | null, body?: unknown) => void

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's body is optional: an empty one (a client that always sends Content-Type) is no body. */
    optionalBody?: boolean
  }
}

/** Kinesis bodies are measured again once read: a chunked body declares no length. */
function kinesisOversized(req: FastifyRequest, raw: Buffer): KinesisError | null {
  const limit = kinesisBodyLimit(req)
  return raw.length > limit ? kinesisTooLarge(req, limit, raw.length) : null
}

/** JSON is UTF-8 (RFC 8259); a body declared in another charset would be misread, so it is refused. */
function otherCharset(req: FastifyRequest): string | null {
  const type = req.headers['content-type'] ?? ''
  if (!type.includes(';')) return null
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(type)?.[1]
  return charset === undefined || /^utf-?8$/i.test(charset) ? null : charset.slice(0, 40)
}

/** application/json, on every route (the Kinesis endpoint takes it too). */
export function jsonBodyParser(req: FastifyRequest, raw: Buffer, done: Done): void {
  const charset = otherCharset(req)
  if (charset !== null) {
    const message = `JSON bodies must be UTF-8, not charset=${charset}`
    return done(isKinesis(req) ? new KinesisError('SerializationException', message) : new ApiError('UnsupportedMediaType', message))
  }
  const tooLarge = isKinesis(req) ? kinesisOversized(req, raw) : null
  if (tooLarge) return done(tooLarge)
  if (raw.length === 0 && req.routeOptions.config.optionalBody) return done(null, undefined)
  const parsed = parseJsonBody(raw)
  if ('problem' in parsed) return done(problemError(req, parsed.problem))
  done(null, parsed.value)
}

/** The Kinesis content types belong to the Kinesis endpoint; a REST route answers them 415. */
function restRefuses(req: FastifyRequest): ApiError | null {
  return isKinesis(req) ? null : new ApiError('UnsupportedMediaType', `Content-Type must be application/json, not ${String(req.headers['content-type']).slice(0, 100)}`)
}

/** application/x-amz-json-1.1 and 1.0 */
export function kinesisJsonBodyParser(req: FastifyRequest, raw: Buffer, done: Done): void {
  const refused = restRefuses(req)
  if (refused) return done(refused)
  jsonBodyParser(req, raw, done)
}

/** application/x-amz-cbor-1.1 */
export function kinesisCborBodyParser(req: FastifyRequest, raw: Buffer, done: Done): void {
  const refused = restRefuses(req) ?? kinesisOversized(req, raw)
  if (refused) return done(refused)
  let value: unknown
  try {
    value = decodeCborRequest(raw)
  } catch (err) {
    // The decoder recurses: a body nested thousands deep ends its stack before our check can run.
    const why = err instanceof RangeError ? `is nested deeper than ${MAX_BODY_DEPTH} levels` : `is not valid CBOR (${(err as Error).message})`
    return done(new KinesisError('SerializationException', `The request body ${why}`))
  }
  const problem = inspectBody(value)
  if (problem) return done(problemError(req, problem))
  done(null, value)
}
