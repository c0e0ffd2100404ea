/**
 * openapi.yaml against the server, so the two cannot drift apart:
 *   - the document is OpenAPI 3.1 whose every schema compiles in ajv's strict mode;
 *   - it lists exactly the routes the app registers, and maps error codes to the protocol's statuses;
 *   - its parameters and bodies carry the rules of the route schemas (same members, patterns, bounds),
 *     and its answers the members the route schemas serialise;
 *   - every answer of real requests (successes and the error cases) has a status the operation lists,
 *     a body that validates against the schema documented for it, and the documented headers;
 *   - its request schemas accept and refuse the same samples as the server;
 *   - every documented answer but 500 was actually seen.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { parse } from 'yaml'
import { API_ERRORS, isBase64, isApiErrorCode } from '@sluice/protocol'
import { DEFAULT_BODY_LIMIT } from '../src/app.js'
import { PUT_BODY_LIMIT } from '../src/routes/records.js'
import { createStreamSchema, deleteStreamSchema, describeStreamSchema, listStreamsSchema, updateStreamSchema } from '../src/routes/streams.schema.js'
import { getRecordsSchema, putRecordsSchema, putShardRecordsSchema } from '../src/routes/records.schema.js'
import { checkpointSchema, describeGroupSchema, heartbeatSchema, leaveSchema, listGroupsSchema } from '../src/routes/groups.schema.js'
import { createKeySchema, listKeysSchema, revokeKeySchema } from '../src/routes/keys.schema.js'
import { b64, startSluice, type HttpAnswer, type Sluice } from './harness.js'
import { ApiKeys, connectRedis, createRedisClient } from '@sluice/store'

// ---------------------------------------------------------------------------------------------
// The document

type Schema = { readonly [keyword: string]: unknown }
interface Ref {
  $ref: string
}
interface MediaType {
  schema?: Schema
}
interface Header {
  required?: boolean
  schema: Schema
}
interface Parameter {
  name: string
  in: 'path' | 'query' | 'header'
  required?: boolean
  schema: Schema
}
interface Response {
  description: string
  headers?: Record<string, Header | Ref>
  content?: Record<string, MediaType>
}
interface Operation {
  operationId: string
  parameters?: Array<Parameter | Ref>
  requestBody?: { required?: boolean; content: Record<string, MediaType> }
  responses: Record<string, Response | Ref>
}
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const
type PathItem = { parameters?: Array<Parameter | Ref> } & Partial<Record<(typeof METHODS)[number], Operation>>
interface Document {
  openapi: string
  /** What the HTTP layer answers before any route runs, on any route. */
  'x-answers-before-routing': Array<{ status: number; response: string }>
  paths: Record<string, PathItem>
  components: { schemas: Record<string, Schema> }
}

const doc = parse(readFileSync(new URL('../../../../openapi.yaml', import.meta.url), 'utf8')) as Document

/** A JSON pointer (RFC 6901) into the document. */
const pointer = (...parts: Array<string | number>): string => parts.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('')

function isRef(x: unknown): x is Ref {
  return typeof x === 'object' && x !== null && typeof (x as Ref).$ref === 'string'
}

function at(ptr: string): unknown {
  let node: unknown = doc
  for (const part of ptr.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~')
    assert.ok(typeof node === 'object' && node !== null && key in node, `${ptr} does not resolve`)
    node = (node as Record<string, unknown>)[key]
  }
  return node
}

/** Follows $refs (local ones only) to the object and where it lives. */
function follow<T>(x: T | Ref, where: string): { value: T; where: string } {
  let value: unknown = x
  let ptr = where
  while (isRef(value)) {
    assert.ok(value.$ref.startsWith('#/'), `${ptr}: only local $refs are used, got ${value.$ref}`)
    ptr = value.$ref.slice(1)
    value = at(ptr)
  }
  return { value: value as T, where: ptr }
}

interface DocumentedOperation {
  id: string
  method: string
  /** `/v1/streams/{name}` */
  template: string
  /** `/v1/streams/:name`, as fastify spells it */
  route: string
  where: string
  op: Operation
  /** Path-level and operation-level parameters, resolved, each with its pointer. */
  parameters: Array<{ param: Parameter; where: string }>
}

const operations: DocumentedOperation[] = []
for (const [template, item] of Object.entries(doc.paths)) {
  for (const method of METHODS) {
    const op = item[method]
    if (!op) continue
    const where = pointer('paths', template, method)
    const parameters = [
      ...(item.parameters ?? []).map((p, i) => follow(p, pointer('paths', template, 'parameters', i))),
      ...(op.parameters ?? []).map((p, i) => follow(p, `${where}${pointer('parameters', i)}`)),
    ].map(({ value, where }) => ({ param: value, where }))
    operations.push({ id: op.operationId, method: method.toUpperCase(), template, route: template.replace(/\{(\w+)\}/g, ':$1'), where, op, parameters })
  }
}

function operation(id: string): DocumentedOperation {
  const found = operations.find((o) => o.id === id)
  assert.ok(found, `openapi.yaml has no operation ${id}`)
  return found
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020
// Strict: a misspelt keyword, or a YAML slip that turns text into a keyword, fails to compile.
const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true })
addFormats(ajv)
ajv.addVocabulary(['openapi', 'info', 'servers', 'tags', 'paths', 'components', 'x-answers-before-routing'])
ajv.addSchema({ ...doc, $id: 'openapi' })
const compiled = new Map<string, ValidateFunction>()

/** The validator of the schema at this pointer (its $refs resolve inside the document). */
function validatorAt(ptr: string): ValidateFunction {
  let v = compiled.get(ptr)
  if (!v) {
    const fragment = ptr.split('/').slice(1).map(encodeURIComponent).join('/')
    v = ajv.getSchema(`openapi#/${fragment}`)
    assert.ok(v, `no schema at ${ptr}`)
    compiled.set(ptr, v)
  }
  return v
}

function requestBodySchema(o: DocumentedOperation): { schema: Schema; where: string } | undefined {
  const media = o.op.requestBody?.content['application/json']
  return media?.schema ? { schema: media.schema, where: `${o.where}${pointer('requestBody', 'content', 'application/json', 'schema')}` } : undefined
}

function documentedResponse(o: DocumentedOperation, status: number): { response: Response; where: string } | undefined {
  const r = o.op.responses[String(status)]
  if (!r) return undefined
  const { value, where } = follow(r, `${o.where}${pointer('responses', String(status))}`)
  return { response: value, where }
}

/** The error codes a documented error answer allows: `allOf: [Error, ErrorCodeIsNNN]`. */
function codesOf(response: Response): string[] | undefined {
  const schema = response.content?.['application/json']?.schema
  const parts = schema?.allOf as Array<Schema | Ref> | undefined
  if (!parts || !isRef(parts[0]) || parts[0].$ref !== '#/components/schemas/Error') return undefined
  const narrowing = follow(parts[1] as Schema | Ref, '').value as { properties: { error: { properties: { code: { enum: string[] } } } } }
  return narrowing.properties.error.properties.code.enum
}

// ---------------------------------------------------------------------------------------------
// Answers against the document

/** "operationId status" of every answer seen. */
const seen = new Set<string>()

/** Asserts the answer is documented for the operation: status, headers, content type, body. */
function conforms(o: DocumentedOperation, r: HttpAnswer): void {
  const documented = documentedResponse(o, r.status)
  assert.ok(documented, `${o.id} answered ${r.status}, which openapi.yaml does not list (${Object.keys(o.op.responses)}): ${r.text.slice(0, 300)}`)
  const { response, where } = documented
  assert.ok(r.headers.get('x-request-id'), `${o.id} ${r.status}: every answer carries x-request-id`)
  // The operation's own description of the answer (a Reference Object's description overrides the component's) names the code.
  const raw = o.op.responses[String(r.status)] as Response | (Ref & { description?: string })
  const code: unknown = r.body?.error?.code ?? r.body?.__type
  if (typeof code === 'string') {
    assert.match(raw.description ?? response.description, new RegExp(`\\b${code}\\b`), `${o.id} ${r.status}: the description does not name ${code}`)
  }
  const headers = Object.entries(response.headers ?? {}).map(([name, h]) => ({ name: name.toLowerCase(), ...follow(h, `${where}${pointer('headers', name)}`) }))
  for (const { name, value: header, where: hWhere } of headers) {
    const got = r.headers.get(name)
    if (got === null) {
      assert.ok(!header.required, `${o.id} ${r.status}: the ${name} header is documented as required and missing`)
      continue
    }
    const validate = validatorAt(`${hWhere}/schema`)
    assert.ok(validate(got), `${o.id} ${r.status}: ${name}: ${JSON.stringify(got)} ${ajv.errorsText(validate.errors)}`)
  }
  if (r.headers.get('retry-after') !== null) {
    assert.ok(headers.some((h) => h.name === 'retry-after'), `${o.id} ${r.status} sent Retry-After, which the document does not list for it`)
  }
  if (!response.content) {
    assert.equal(r.text, '', `${o.id} ${r.status} is documented without a body`)
  } else {
    const type = (r.headers.get('content-type') ?? '').split(';')[0]!.trim()
    const media = response.content[type]
    assert.ok(media, `${o.id} ${r.status} answered ${type}, documented: ${Object.keys(response.content)}`)
    if (type.endsWith('json')) {
      const validate = validatorAt(`${where}${pointer('content', type, 'schema')}`)
      assert.ok(validate(r.body), `${o.id} ${r.status}: ${ajv.errorsText(validate.errors)} in ${r.text.slice(0, 300)}`)
    } else {
      assert.ok(r.text.length > 0, `${o.id} ${r.status}: an empty ${type} body`)
    }
  }
  seen.add(`${o.id} ${r.status}`)
}

interface CallInput {
  params?: Record<string, string>
  query?: string
  body?: unknown
  headers?: Record<string, string>
}

const DEFAULT_PARAMS: Record<string, string> = { group: 'g', workerId: 'w1', shardId: 'shardId-000000000000', id: '0123456789abcdef' }

/** One request to a documented operation (the URL built from the document's template), checked by conforms. */
async function call(server: Sluice, id: string, input: CallInput = {}): Promise<HttpAnswer> {
  const o = operation(id)
  const params = { ...DEFAULT_PARAMS, ...input.params }
  const path = o.template.replace(/\{(\w+)\}/g, (_, p: string) => {
    const value = params[p]
    assert.ok(value !== undefined, `${id}: no value for {${p}}`)
    return encodeURIComponent(value)
  })
  const r = await server.request(o.method, input.query ? `${path}?${input.query}` : path, input.body, input.headers)
  conforms(o, r)
  return r
}

async function expectStatus(server: Sluice, status: number, id: string, input: CallInput = {}): Promise<HttpAnswer> {
  const r = await call(server, id, input)
  assert.equal(r.status, status, `${id} ${JSON.stringify(input).slice(0, 200)} answered ${r.status}: ${r.text.slice(0, 300)}`)
  return r
}

async function expectError(server: Sluice, status: number, code: string, id: string, input: CallInput = {}, field?: string): Promise<HttpAnswer> {
  const r = await expectStatus(server, status, id, input)
  assert.equal(r.body.error.code, code, r.text)
  if (field !== undefined) assert.equal(r.body.error.field, field, r.text)
  return r
}

const SIGV4 = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd'
const kinesis = (action: string, headers: Record<string, string> = { authorization: SIGV4 }): CallInput => ({
  body: {},
  headers: { 'x-amz-target': `Kinesis_20131202.${action}`, 'content-type': 'application/x-amz-json-1.1', ...headers },
})

/** A sequence number of shard 0 in the form the service issues (for requests that must get past the schema). */
const WELL_FORMED_SEQUENCE_NUMBER = '1' + '0'.repeat(41)

/** A request the operation accepts on the stream `name` (or, with `name` missing, that gets past every check before the lookup). */
function validInput(id: string, name: string): CallInput {
  const params = { name }
  switch (id) {
    case 'createStream':
      return { body: { name, shardCount: 1 } }
    case 'updateStream':
      return { params, body: { retentionHours: 48 } }
    case 'putRecords':
    case 'putShardRecords':
      return { params, body: { records: [{ partitionKey: 'k', data: 'AA==', explicitHashKey: '0' }] } }
    case 'getRecords':
      return { params, query: 'from=LATEST' }
    case 'checkpoint':
      return { params, body: { sequenceNumber: WELL_FORMED_SEQUENCE_NUMBER, leaseToken: '1' } }
    case 'kinesis':
      return kinesis('ListStreams')
    case 'createKey':
      return { body: { scopes: [`read:${name}`] } }
    default:
      return { params }
  }
}

const usesStreamName = (o: DocumentedOperation) => o.parameters.some((p) => p.param.in === 'path' && p.param.name === 'name')
const lists = (o: DocumentedOperation, status: number) => o.op.responses[String(status)] !== undefined
const md5HashKey = (partitionKey: string) => BigInt('0x' + createHash('md5').update(partitionKey, 'utf8').digest('hex'))

// ---------------------------------------------------------------------------------------------
// Route schemas the document must agree with

interface RouteSchema {
  params?: Schema
  querystring?: Schema
  body?: Schema
  response: Schema
}

const ROUTE_SCHEMAS: Record<string, RouteSchema> = {
  createStream: createStreamSchema,
  listStreams: listStreamsSchema,
  describeStream: describeStreamSchema,
  updateStream: updateStreamSchema,
  deleteStream: deleteStreamSchema,
  putRecords: putRecordsSchema,
  putShardRecords: putShardRecordsSchema,
  getRecords: getRecordsSchema,
  heartbeat: heartbeatSchema,
  leaveGroup: leaveSchema,
  checkpoint: checkpointSchema,
  describeGroup: describeGroupSchema,
  listGroups: listGroupsSchema,
  createKey: createKeySchema,
  listKeys: listKeysSchema,
  revokeKey: revokeKeySchema,
}
/** Operations whose route schemas are not exported, and why that is fine. */
const WITHOUT_ROUTE_SCHEMA: Record<string, string> = {
  livez: 'no parameters or body; the answer is checked by conforms()',
  readyz: 'no parameters or body; the answer is checked by conforms()',
  metrics: 'no parameters or body; the answer is text',
  kinesis: 'the Kinesis protocol, validated per action in src/kinesis/',
}
/** Request rules the document states that the route schema leaves to the handler, with where the handler checks them. */
const CHECKED_IN_HANDLER: Record<string, string> = {
  'heartbeat body': 'leaseTtlOf() in routes/groups.ts (the body is optional)',
  'putRecords body.records[].data.maxLength': 'checkBatch() in actions/put-records.ts: at most 1 MiB decoded',
  'putShardRecords body.records[].data.maxLength': 'checkBatch() in actions/put-records.ts: at most 1 MiB decoded',
}

const RULES = ['type', 'required', 'additionalProperties', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'minItems', 'maxItems', 'enum'] as const

/** The schema with its $ref followed; keywords beside the $ref apply too (JSON Schema 2020-12). */
function expand(schema: Schema): Schema {
  if (!isRef(schema)) return schema
  const { $ref: _ref, ...siblings } = schema
  return { ...expand(follow<Schema>(schema, '').value), ...siblings }
}

const normalise = (keyword: string, value: unknown): unknown =>
  (keyword === 'required' || keyword === 'type') && value !== undefined ? [value].flat().map(String).sort() : value

/** The document's request schema checks exactly what the route's does: same members, same rules. */
function sameRules(route: Schema, documented: Schema, where: string): void {
  const d = expand(documented)
  for (const k of RULES) {
    if (route[k] === undefined && d[k] === undefined) continue
    if (route[k] === undefined && CHECKED_IN_HANDLER[`${where}.${k}`]) continue
    if (k === 'pattern' && route.format === 'base64') continue // compared below
    assert.deepEqual(normalise(k, d[k]), normalise(k, route[k]), `${where}: ${k} differs between openapi.yaml and the route schema`)
  }
  if (route.format === 'base64') {
    assert.equal(d.contentEncoding, 'base64', `${where}: base64 in the route, so contentEncoding: base64 in the document`)
    const pattern = new RegExp(String(d.pattern), 'u')
    for (const sample of ['', 'AA==', 'AAA=', 'AAAA', 'AB+/', 'A', 'AA', 'AAA', 'AA=', 'A===', 'AA=A', '====', 'AB-_', 'AAAA\n', 'AAAAAA==', 'AAAA====', 'ÀAAA']) {
      assert.equal(pattern.test(sample), isBase64(sample), `${where}: the document's base64 pattern and the server disagree on ${JSON.stringify(sample)}`)
    }
  }
  const routeProps = (route.properties ?? {}) as Record<string, Schema>
  const docProps = (d.properties ?? {}) as Record<string, Schema>
  assert.deepEqual(Object.keys(docProps).sort(), Object.keys(routeProps).sort(), `${where}: members differ`)
  for (const [name, s] of Object.entries(routeProps)) sameRules(s, docProps[name]!, `${where}.${name}`)
  if (route.items) sameRules(route.items as Schema, d.items as Schema, `${where}[]`)
}

/** The branches a documented answer schema may take (oneOf, or the Error of an error answer). */
function branches(schema: Schema): Schema[] {
  const d = expand(schema)
  if (Array.isArray(d.oneOf)) return (d.oneOf as Schema[]).map(expand).filter((b) => b.type !== 'null')
  if (Array.isArray(d.allOf)) return [expand((d.allOf as Schema[])[0]!)]
  return [d]
}

/** The document's answer has the members the route serialises (fastify drops any other), required where the route requires them. */
function sameMembers(route: Schema, documented: Schema, where: string): void {
  const options = branches(documented)
  const routeProps = (route.properties ?? {}) as Record<string, Schema>
  const docNames = new Set(options.flatMap((b) => Object.keys((b.properties ?? {}) as object)))
  assert.deepEqual([...docNames].sort(), Object.keys(routeProps).sort(), `${where}: members differ`)
  for (const required of (route.required ?? []) as string[]) {
    for (const b of options) assert.ok(((b.required ?? []) as string[]).includes(required), `${where}: the route requires ${required}, the document does not`)
  }
  for (const [name, s] of Object.entries(routeProps)) {
    const owner = options.find((b) => (b.properties as Record<string, Schema> | undefined)?.[name])!
    sameMembers(s, (owner.properties as Record<string, Schema>)[name]!, `${where}.${name}`)
  }
  if (route.items) {
    const items = options.map((b) => b.items as Schema | undefined).find((i) => i !== undefined)
    assert.ok(items, `${where}: an array in the route, not in the document`)
    sameMembers(route.items as Schema, items, `${where}[]`)
  }
}

// ---------------------------------------------------------------------------------------------

describe('openapi.yaml', () => {
  let s: Sluice
  before(async () => {
    // Reads are not the subject here (the second server below has the default read limit).
    s = await startSluice({ env: { SLUICE_SHARD_READS_PER_SECOND: '1000' } })
  })
  after(async () => s.close())

  it('is OpenAPI 3.1 whose schemas all compile in strict mode', () => {
    assert.equal(doc.openapi, '3.1.0')
    const walk = (node: unknown, where: string): void => {
      if (typeof node !== 'object' || node === null) return
      if (isRef(node)) follow(node, where)
      for (const [k, v] of Object.entries(node)) {
        // `description: a, b` in a YAML flow mapping silently makes "b" a key.
        assert.ok(!/\s/.test(k), `${where}: the key ${JSON.stringify(k)} has a space (a comma in an unquoted flow-mapping value?)`)
        walk(v, `${where}${pointer(k)}`)
      }
    }
    walk(doc, '')
    for (const name of Object.keys(doc.components.schemas)) validatorAt(pointer('components', 'schemas', name))
    for (const o of operations) {
      for (const { where } of o.parameters) validatorAt(`${where}/schema`)
      const body = requestBodySchema(o)
      if (body) validatorAt(body.where)
      for (const status of Object.keys(o.op.responses)) {
        const { response, where } = documentedResponse(o, Number(status))!
        for (const [type, media] of Object.entries(response.content ?? {})) if (media.schema) validatorAt(`${where}${pointer('content', type, 'schema')}`)
      }
    }
    const ids = operations.map((o) => o.id)
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique')
  })

  it('documents exactly the routes the server has', () => {
    for (const o of operations) assert.ok(s.app.hasRoute({ method: o.method as 'GET', url: o.route }), `documented ${o.method} ${o.template} is no route of the app`)
    // printRoutes draws a tree: "├── segment (METHODS)", four columns of indent per level.
    const registered: string[] = []
    const stack: string[] = []
    for (const line of s.app.printRoutes({ commonPrefix: false }).split('\n')) {
      const m = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)$/.exec(line.replace(/\u00a0/g, ' '))
      if (!m) continue
      stack.length = m[1]!.length / 4
      stack.push(m[2]!)
      // fastify adds HEAD for every GET by itself.
      for (const method of m[3]!.split(', ')) if (method !== 'HEAD') registered.push(`${method} ${stack.join('')}`)
    }
    assert.ok(registered.length >= 10, `parsed only ${registered.length} routes from printRoutes`)
    assert.deepEqual(operations.map((o) => `${o.method} ${o.route}`).sort(), registered.sort())
  })

  it('maps every error code to the status of the protocol table', () => {
    const codes = doc.components.schemas.ErrorCode!.enum as string[]
    assert.deepEqual([...codes].sort(), Object.keys(API_ERRORS).sort())
    const used = new Set<string>()
    for (const o of operations.filter((x) => x.id !== 'kinesis')) {
      for (const status of Object.keys(o.op.responses).map(Number)) {
        const { response } = documentedResponse(o, status)!
        const allowed = codesOf(response)
        if (status < 400 || (status === 429 && o.id.startsWith('put'))) {
          assert.equal(allowed, undefined, `${o.id} ${status} is not an error answer`)
          continue
        }
        assert.ok(allowed, `${o.id} ${status}: an error answer must be allOf [Error, ErrorCodeIs${status}]`)
        for (const code of allowed) {
          assert.ok(isApiErrorCode(code), `${o.id} ${status}: ${code} is no error code`)
          assert.equal(API_ERRORS[code].status, status, `${o.id}: ${code} is documented under ${status}, the protocol answers it with ${API_ERRORS[code].status}`)
          used.add(code)
        }
        if (status === 429 || status === 503) {
          assert.ok(response.headers?.['Retry-After'], `${o.id} ${status} must document Retry-After`)
        }
      }
    }
    for (const { status, response } of doc['x-answers-before-routing']) {
      const codes = codesOf(follow<Response>({ $ref: response }, '').value)
      assert.ok(codes, `x-answers-before-routing ${status}: an error answer`)
      for (const code of codes) {
        assert.ok(isApiErrorCode(code) && API_ERRORS[code].status === status, `x-answers-before-routing: ${code} is not answered with ${status}`)
        used.add(code)
      }
    }
    assert.deepEqual([...used].sort(), Object.keys(API_ERRORS).sort(), 'every error code is an answer of some operation (or of the HTTP layer)')
  })

  it("states the route schemas' rules for parameters and bodies, and their members for answers", () => {
    for (const o of operations) {
      const route = ROUTE_SCHEMAS[o.id]
      if (!route) {
        assert.ok(WITHOUT_ROUTE_SCHEMA[o.id], `${o.id}: add its route schema to ROUTE_SCHEMAS`)
        continue
      }
      for (const [where, routePart] of [['path', route.params], ['query', route.querystring]] as const) {
        const documented = o.parameters.filter((p) => p.param.in === where)
        const routeProps = (routePart?.properties ?? {}) as Record<string, Schema>
        assert.deepEqual(documented.map((p) => p.param.name).sort(), Object.keys(routeProps).sort(), `${o.id}: ${where} parameters differ`)
        for (const { param } of documented) {
          assert.equal(param.required ?? false, ((routePart?.required ?? []) as string[]).includes(param.name), `${o.id}: ${param.name} required?`)
          sameRules(routeProps[param.name]!, param.schema, `${o.id} ${where}.${param.name}`)
        }
        // The document promises that unknown query parameters are refused.
        if (where === 'query' && routePart) assert.equal(routePart.additionalProperties, false, `${o.id}: the route must refuse unknown query parameters`)
      }
      const body = requestBodySchema(o)
      if (route.body) {
        assert.ok(body, `${o.id}: the route takes a body the document does not describe`)
        assert.equal(o.op.requestBody?.required, true, `${o.id}: the body is required`)
        sameRules(route.body, body.schema, `${o.id} body`)
      } else if (body) {
        assert.ok(CHECKED_IN_HANDLER[`${o.id} body`], `${o.id}: the document describes a body the route does not take`)
      }
      const answers = route.response as Record<string, Schema>
      for (const status of Object.keys(answers).filter((k) => /^\d+$/.test(k))) {
        assert.ok(o.op.responses[status], `${o.id}: the route declares a ${status} answer the document does not list`)
      }
      for (const status of Object.keys(o.op.responses)) {
        const routeAnswer = answers[status] ?? answers[`${status[0]}xx`]
        assert.ok(routeAnswer, `${o.id}: the document lists ${status}, the route declares no such answer`)
        const { response } = documentedResponse(o, Number(status))!
        const documented = response.content?.['application/json']?.schema
        if (!documented) assert.equal(routeAnswer.type, 'null', `${o.id} ${status}: documented without a body`)
        else sameMembers(routeAnswer, documented, `${o.id} ${status}`)
      }
    }
  })

  // -------------------------------------------------------------------------------------------
  // Real requests

  const CREATED = new Set<string>()
  const written = new Map<string, Array<{ sequenceNumber: string; partitionKey: string; data: string }>>()

  it('answers the stream routes as documented', async () => {
    assert.deepEqual((await expectStatus(s, 200, 'livez')).body, { status: 'ok' })
    await expectStatus(s, 200, 'readyz')
    assert.match((await expectStatus(s, 200, 'metrics')).text, /^# HELP sluice_/m)

    const created = await expectStatus(s, 201, 'createStream', { body: { name: 'oa', shardCount: 2, retentionHours: 48, writeLimits: { recordsPerSecond: 5000 } } })
    assert.deepEqual(created.body.writeLimits, { recordsPerSecond: 5000, bytesPerSecond: 1024 * 1024 }, 'bytesPerSecond defaults to 1 MiB/s')
    assert.equal(created.body.retentionHours, 48)
    const ranges = created.body.shards.map((x: { hashKeyRange: { start: string; end: string } }) => x.hashKeyRange)
    assert.deepEqual(ranges, [
      { start: '0', end: String(2n ** 127n - 1n) },
      { start: String(2n ** 127n), end: String(2n ** 128n - 1n) },
    ], 'the 128-bit space split evenly')
    CREATED.add('oa')
    await expectError(s, 409, 'StreamExists', 'createStream', { body: { name: 'oa', shardCount: 1 } }, 'name')
    const bad = await expectError(s, 400, 'ValidationError', 'createStream', { body: { name: 'bad name', shardCount: 0, colour: 'red' } })
    assert.deepEqual(bad.body.error.details.map((d: { field: string }) => d.field).sort(), ['colour', 'name', 'shardCount'], 'every problem is listed')
    await expectError(s, 400, 'ValidationError', 'createStream', { body: { name: 'too-many', shardCount: 1001 } }, 'shardCount')
    await expectStatus(s, 201, 'createStream', { body: { name: 'slow', shardCount: 1, writeLimits: { recordsPerSecond: 1 } } })
    CREATED.add('slow')
    for (const name of ['b1', 'b2', 'b3']) {
      await expectStatus(s, 201, 'createStream', { body: { name, shardCount: 1 } })
      CREATED.add(name)
    }

    // Paging: every stream once, in name order.
    const names: string[] = []
    let next: string | undefined
    do {
      const page = await expectStatus(s, 200, 'listStreams', { query: `limit=2${next ? `&next=${encodeURIComponent(next)}` : ''}` })
      assert.ok(page.body.streams.length <= 2)
      names.push(...page.body.streams.map((x: { name: string }) => x.name))
      next = page.body.next
    } while (next)
    assert.deepEqual(names, [...CREATED].sort())
    for (const query of ['limit=0', 'limit=1001', 'limit=ten', 'next=bm90IGEgbmFtZSE', 'colour=red']) await expectError(s, 400, 'ValidationError', 'listStreams', { query })

    const described = await expectStatus(s, 200, 'describeStream', { params: { name: 'oa' } })
    assert.deepEqual(described.body, created.body)
    const patched = await expectStatus(s, 200, 'updateStream', { params: { name: 'oa' }, body: { retentionHours: 72 } })
    assert.equal(patched.body.retentionHours, 72)
    await expectError(s, 400, 'ValidationError', 'updateStream', { params: { name: 'oa' }, body: { retentionHours: 2 } }, 'retentionHours')

    const noRoute = await s.request('GET', '/v1/nothing-here')
    assert.equal(noRoute.status, 404)
    assert.equal(noRoute.body.error.code, 'NotFound')
    assert.ok(validatorAt(pointer('components', 'responses', 'NotFound', 'content', 'application/json', 'schema'))(noRoute.body), noRoute.text)
  })

  it('answers puts as documented: routing, sequence numbers, throttled suffixes and 429', async () => {
    const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta']
    const records: Array<{ partitionKey: string; data: string; explicitHashKey?: string }> = [
      ...keys.map((k) => ({ partitionKey: k, data: b64(`data of ${k}`) })),
      { partitionKey: 'pinned-low', data: '', explicitHashKey: '0' },
      { partitionKey: 'pinned-high', data: b64('x'), explicitHashKey: String(2n ** 128n - 1n) },
    ]
    const put = await expectStatus(s, 200, 'putRecords', { params: { name: 'oa' }, body: { records } })
    assert.equal(put.body.failedRecordCount, 0)
    assert.equal(put.headers.get('retry-after'), null, 'no Retry-After when nothing was throttled')
    records.forEach((rec, i) => {
      const hashKey = rec.explicitHashKey !== undefined ? BigInt(rec.explicitHashKey) : md5HashKey(rec.partitionKey)
      const expected = hashKey < 2n ** 127n ? 'shardId-000000000000' : 'shardId-000000000001'
      const result = put.body.records[i]
      assert.equal(result.shardId, expected, `${rec.partitionKey} routed by the MD5 of its key (or its explicit hash key)`)
      const log = written.get(result.shardId) ?? []
      if (log.length) assert.ok(log[log.length - 1]!.sequenceNumber < result.sequenceNumber, 'sequence numbers increase per shard, in string order')
      log.push({ sequenceNumber: result.sequenceNumber, partitionKey: rec.partitionKey, data: rec.data })
      written.set(result.shardId, log)
    })
    assert.equal(written.size, 2, 'the sample keys reach both shards')

    // Just over the 64 KiB of other routes is fine on a put route.
    const big = await expectStatus(s, 200, 'putRecords', { params: { name: 'oa' }, body: { records: [{ partitionKey: 'big', data: 'A'.repeat(DEFAULT_BODY_LIMIT + 4) , explicitHashKey: '1' }] } })
    written.get('shardId-000000000000')!.push({ sequenceNumber: big.body.records[0].sequenceNumber, partitionKey: 'big', data: 'A'.repeat(DEFAULT_BODY_LIMIT + 4) })
    await expectError(s, 400, 'ValidationError', 'putRecords', { params: { name: 'oa' }, body: { records: [{ partitionKey: 'k', data: 'AA==', explicitHashKey: String(2n ** 128n) }] } }, 'records[0].explicitHashKey')
    await expectError(s, 400, 'ValidationError', 'putRecords', { params: { name: 'oa' }, body: { records: [{ partitionKey: 'k', data: 'A'.repeat(4 * Math.ceil((1024 * 1024 + 1) / 3)) }] } }, 'records[0].data')

    // One record per second, one second of burst: of five records the first fits and the rest are a throttled suffix...
    const five = { records: Array.from({ length: 5 }, (_, i) => ({ partitionKey: `k${i}`, data: b64(`r${i}`) })) }
    const partly = await expectStatus(s, 200, 'putRecords', { params: { name: 'slow' }, body: five })
    assert.equal(partly.body.failedRecordCount, 4)
    assert.ok(partly.body.records[0].sequenceNumber)
    for (const r of partly.body.records.slice(1)) assert.equal(r.errorCode, 'ProvisionedThroughputExceeded')
    assert.ok(Number(partly.headers.get('retry-after')) >= 1, 'Retry-After when some record was throttled')
    // ...and five more at once are all refused: 429 with the put body.
    const refused = await expectStatus(s, 429, 'putRecords', { params: { name: 'slow' }, body: five })
    assert.equal(refused.body.failedRecordCount, 5)
    for (const r of refused.body.records) assert.equal(r.errorCode, 'ProvisionedThroughputExceeded')
    let shardRefused: HttpAnswer | undefined
    for (let i = 0; i < 3 && shardRefused?.status !== 429; i++) shardRefused = await call(s, 'putShardRecords', { params: { name: 'slow' }, body: five })
    assert.equal(shardRefused?.status, 429)

    const toShard = await expectStatus(s, 200, 'putShardRecords', { params: { name: 'oa', shardId: 'shardId-000000000001' }, body: { records: [{ partitionKey: 'direct', data: b64('d'), explicitHashKey: String(2n ** 127n) }] } })
    assert.equal(toShard.body.records[0].shardId, 'shardId-000000000001')
    written.get('shardId-000000000001')!.push({ sequenceNumber: toShard.body.records[0].sequenceNumber, partitionKey: 'direct', data: b64('d') })
    await expectError(s, 400, 'ValidationError', 'putShardRecords', { params: { name: 'oa' }, body: { records: [{ partitionKey: 'x', data: 'AA==', explicitHashKey: String(2n ** 127n) }] } }, 'records[0]')
    await expectError(s, 400, 'ValidationError', 'putShardRecords', { params: { name: 'oa', shardId: 'shard-1' }, body: { records: [{ partitionKey: 'x', data: 'AA==' }] } }, 'shardId')
    await expectError(s, 404, 'ShardNotFound', 'putShardRecords', { params: { name: 'oa', shardId: 'shardId-000000000002' }, body: { records: [{ partitionKey: 'x', data: 'AA==' }] } }, 'shardId')
  })

  let staleIterator = ''
  it('answers reads as documented: positions, iterators and their errors', async () => {
    for (const [shardId, log] of written) {
      const params = { name: 'oa', shardId }
      // Follow nextIterator from TRIM_HORIZON, one record at a time: everything, in order, exactly as put.
      const read: Array<{ sequenceNumber: string; partitionKey: string; data: string }> = []
      let r = await expectStatus(s, 200, 'getRecords', { params, query: 'from=TRIM_HORIZON&limit=1' })
      while (r.body.records.length > 0) {
        assert.equal(r.body.records.length, 1)
        read.push(...r.body.records.map((x: { sequenceNumber: string; partitionKey: string; data: string }) => ({ sequenceNumber: x.sequenceNumber, partitionKey: x.partitionKey, data: x.data })))
        r = await expectStatus(s, 200, 'getRecords', { params, query: `iterator=${encodeURIComponent(r.body.nextIterator)}&limit=1` })
      }
      assert.deepEqual(read, log)
      assert.equal(r.body.millisBehindLatest, 0)
      if (shardId === 'shardId-000000000000') staleIterator = r.body.nextIterator

      const [first, second] = log as [(typeof log)[0], (typeof log)[0]]
      const at = await expectStatus(s, 200, 'getRecords', { params, query: `from=AT_SEQUENCE_NUMBER&sequenceNumber=${first.sequenceNumber}` })
      assert.equal(at.body.records[0].sequenceNumber, first.sequenceNumber)
      const afterFirst = await expectStatus(s, 200, 'getRecords', { params, query: `from=AFTER_SEQUENCE_NUMBER&sequenceNumber=${first.sequenceNumber}&limit=1` })
      assert.equal(afterFirst.body.records[0].sequenceNumber, second.sequenceNumber)
      const arrival = at.body.records[0].approximateArrivalTimestamp as number
      for (const timestamp of [String(arrival), new Date(arrival).toISOString()]) {
        const byTime = await expectStatus(s, 200, 'getRecords', { params, query: `from=AT_TIMESTAMP&timestamp=${encodeURIComponent(timestamp)}` })
        assert.ok(byTime.body.records.length > 0 && byTime.body.records[0].approximateArrivalTimestamp >= arrival)
      }
    }

    const shard0 = { name: 'oa', shardId: 'shardId-000000000000' }
    const latest = await expectStatus(s, 200, 'getRecords', { params: shard0, query: 'from=LATEST' })
    assert.deepEqual(latest.body.records, [])
    const later = await expectStatus(s, 200, 'putShardRecords', { params: shard0, body: { records: [{ partitionKey: 'later', data: b64('later'), explicitHashKey: '2' }] } })
    const fromLatest = await expectStatus(s, 200, 'getRecords', { params: shard0, query: `iterator=${encodeURIComponent(latest.body.nextIterator)}` })
    assert.deepEqual(fromLatest.body.records.map((x: { sequenceNumber: string }) => x.sequenceNumber), [later.body.records[0].sequenceNumber])

    await expectError(s, 400, 'InvalidIterator', 'getRecords', { params: shard0, query: 'iterator=forged' }, 'iterator')
    await expectError(s, 400, 'InvalidIterator', 'getRecords', { params: { name: 'oa', shardId: 'shardId-000000000001' }, query: `iterator=${encodeURIComponent(latest.body.nextIterator)}` }, 'iterator')
    const first1 = written.get('shardId-000000000001')![0]!.sequenceNumber
    for (const [query, field] of [
      ['', 'from'],
      ['from=LATEST&iterator=abc', 'iterator'],
      ['from=AT_SEQUENCE_NUMBER', 'sequenceNumber'],
      [`from=AT_SEQUENCE_NUMBER&sequenceNumber=${first1}`, 'sequenceNumber'],
      ['from=LATEST&sequenceNumber=1', 'sequenceNumber'],
      ['from=AT_TIMESTAMP&timestamp=yesterday', 'timestamp'],
      ['from=AT_TIMESTAMP', 'timestamp'],
      ['from=LATEST&limit=0', 'limit'],
      ['from=LATEST&limit=10001', 'limit'],
      ['from=NEWEST', 'from'],
      ['from=LATEST&colour=red', 'colour'],
    ] as const) {
      await expectError(s, 400, 'ValidationError', 'getRecords', { params: shard0, query }, field)
    }
    await expectError(s, 404, 'ShardNotFound', 'getRecords', { params: { name: 'oa', shardId: 'shardId-000000000009' }, query: 'from=LATEST' }, 'shardId')
  })

  it('answers the consumer-group routes as documented', async () => {
    const log = written.get('shardId-000000000000')!
    const hb = await expectStatus(s, 200, 'heartbeat', { params: { name: 'oa' }, body: { leaseTtlMs: 5000 } })
    assert.equal(hb.body.leaseTtlMs, 5000)
    assert.deepEqual(hb.body.shards.map((x: { shardId: string }) => x.shardId), ['shardId-000000000000', 'shardId-000000000001'], 'a lone worker owns every shard')
    await expectStatus(s, 200, 'heartbeat', { params: { name: 'oa' } })
    await expectError(s, 400, 'ValidationError', 'heartbeat', { params: { name: 'oa' }, body: { leaseTtlMs: 5 } }, 'leaseTtlMs')
    assert.deepEqual((await expectStatus(s, 200, 'listGroups', { params: { name: 'oa' } })).body, { groups: ['g'] })
    const group = await expectStatus(s, 200, 'describeGroup', { params: { name: 'oa' } })
    assert.equal(group.body.shards[0].owner, 'w1')
    await expectError(s, 404, 'GroupNotFound', 'describeGroup', { params: { name: 'oa', group: 'nope' } }, 'group')

    const token = hb.body.shards[0].leaseToken as string
    const mark = log[1]!.sequenceNumber
    const done = await expectStatus(s, 200, 'checkpoint', { params: { name: 'oa' }, body: { sequenceNumber: mark, leaseToken: token } })
    assert.deepEqual(done.body, { shardId: 'shardId-000000000000', sequenceNumber: mark })
    await expectError(s, 400, 'ValidationError', 'checkpoint', { params: { name: 'oa' }, body: { sequenceNumber: log[0]!.sequenceNumber, leaseToken: token } }, 'sequenceNumber')
    await expectError(s, 400, 'ValidationError', 'checkpoint', { params: { name: 'oa' }, body: { sequenceNumber: '5', leaseToken: token } }, 'sequenceNumber')
    await expectError(s, 409, 'LeaseLost', 'checkpoint', { params: { name: 'oa' }, body: { sequenceNumber: mark, leaseToken: String(BigInt(token) + 100n) } }, 'leaseToken')
    const lagged = await expectStatus(s, 200, 'describeGroup', { params: { name: 'oa' } })
    assert.equal(lagged.body.shards[0].checkpoint, mark)
    await expectStatus(s, 204, 'leaveGroup', { params: { name: 'oa' } })
  })

  it('answers the key routes as documented', async () => {
    const created = await expectStatus(s, 201, 'createKey', { body: { scopes: ['write:oa', 'read:o*'], name: 'openapi' } })
    assert.match(created.body.token, new RegExp(`^sluice_${created.body.id}_`))
    const listed = await expectStatus(s, 200, 'listKeys')
    const mine = listed.body.keys.find((k: { id: string }) => k.id === created.body.id)
    assert.deepEqual(mine, { id: created.body.id, name: 'openapi', scopes: ['write:oa', 'read:o*'], createdAt: created.body.createdAt })
    assert.ok(!listed.text.includes(created.body.token.slice(24)), 'a listing never shows a secret')
    await expectError(s, 400, 'ValidationError', 'createKey', { body: { scopes: ['root:*'] } }, 'scopes[0]')
    await expectStatus(s, 204, 'revokeKey', { params: { id: created.body.id } })
    await expectError(s, 404, 'KeyNotFound', 'revokeKey', { params: { id: created.body.id } }, 'id')
    await expectError(s, 400, 'ValidationError', 'revokeKey', { params: { id: 'not-an-id' } }, 'id')
  })

  it('answers deletes as documented, and an iterator of a deleted and recreated stream is expired', async () => {
    await expectStatus(s, 204, 'deleteStream', { params: { name: 'oa' } })
    await expectError(s, 404, 'StreamNotFound', 'describeStream', { params: { name: 'oa' } }, 'name')
    await expectError(s, 404, 'StreamNotFound', 'deleteStream', { params: { name: 'oa' } }, 'name')
    await expectStatus(s, 201, 'createStream', { body: { name: 'oa', shardCount: 2 } })
    await expectError(s, 400, 'ExpiredIterator', 'getRecords', { params: { name: 'oa', shardId: 'shardId-000000000000' }, query: `iterator=${encodeURIComponent(staleIterator)}` }, 'iterator')
  })

  it('answers the Kinesis endpoint with its documented statuses', async () => {
    const list = await expectStatus(s, 200, 'kinesis', kinesis('ListStreams'))
    assert.ok(list.body.StreamNames.includes('oa'))
    assert.equal((await expectStatus(s, 400, 'kinesis', kinesis('NoSuchAction'))).body.__type, 'UnknownOperationException')
    assert.equal((await expectStatus(s, 403, 'kinesis', kinesis('ListStreams', {}))).body.__type, 'MissingAuthenticationTokenException')
  })

  it('refuses what every operation refuses, with the documented answer', async () => {
    for (const o of operations) {
      if (usesStreamName(o)) {
        await expectError(s, 400, 'ValidationError', o.id, { params: { name: 'a{b' } }, 'name')
        await expectError(s, 404, 'StreamNotFound', o.id, validInput(o.id, 'no-such-stream'), 'name')
      }
      // fastify reads a body on every method but GET and HEAD, whether or not the route wants one.
      if (o.method === 'GET') continue
      const valid = validInput(o.id, 'oa')
      // The Kinesis sample is ListStreams, which takes a small body like every action but the puts.
      const limit = o.id.startsWith('put') ? PUT_BODY_LIMIT : DEFAULT_BODY_LIMIT
      const tooLarge = { ...valid, body: JSON.stringify('x'.repeat(limit)), headers: { ...valid.headers, 'content-type': 'application/json' } }
      const wrongType = { ...valid, body: 'x', headers: { ...valid.headers, 'content-type': 'text/plain' } }
      const jsonType = o.id === 'kinesis' ? 'application/x-amz-json-1.1' : 'application/json'
      const malformed = { ...valid, body: '{"', headers: { ...valid.headers, 'content-type': jsonType } }
      if (o.id === 'kinesis') {
        // Kinesis answers a wrong content type or a malformed body as SerializationException (400).
        assert.equal((await expectStatus(s, 413, o.id, tooLarge)).body.__type, 'RequestEntityTooLargeException')
        for (const input of [wrongType, malformed]) assert.equal((await expectStatus(s, 400, o.id, input)).body.__type, 'SerializationException')
        continue
      }
      await expectError(s, 413, 'PayloadTooLarge', o.id, tooLarge)
      await expectError(s, 415, 'UnsupportedMediaType', o.id, wrongType)
      await expectError(s, 400, 'ValidationError', o.id, malformed, 'body')
    }
  })

  it('has request schemas that accept and refuse what the server does', async () => {
    const samples: Record<string, { valid: unknown[]; invalid: unknown[] }> = {
      createStream: {
        valid: [{ name: 'ok-1', shardCount: 1 }, { name: 'ok_2.B', shardCount: 3, retentionHours: 8760, writeLimits: { bytesPerSecond: 1 } }],
        invalid: [
          { name: 'x', shardCount: '1' },
          { name: 'x', shardCount: 1.5 },
          { name: 'a/b', shardCount: 1 },
          { name: 'n'.repeat(129), shardCount: 1 },
          { name: 'x', shardCount: 1, retentionHours: 23 },
          { name: 'x', shardCount: 1, retentionHours: 8761 },
          { name: 'x', shardCount: 1, writeLimits: { recordsPerSecond: 0 } },
          { name: 'x', shardCount: 1, writeLimits: { recordsPerSecond: 1, burst: 2 } },
          { name: 'x', shardCount: 1, colour: 'red' },
          { shardCount: 1 },
          [],
        ],
      },
      updateStream: { valid: [{ retentionHours: 24 }], invalid: [{}, { retentionHours: '48' }, { retentionHours: 48, shardCount: 2 }] },
      putRecords: {
        valid: [
          { records: [{ partitionKey: 'k', data: 'AAAA' }] },
          { records: [{ partitionKey: 'k'.repeat(256), data: '', explicitHashKey: '340282366920938463463374607431768211455' }] },
          { records: Array.from({ length: 500 }, () => ({ partitionKey: 'k', data: 'AA==' })) },
        ],
        invalid: [
          { records: [] },
          { records: Array.from({ length: 501 }, () => ({ partitionKey: 'k', data: 'AA==' })) },
          { records: [{ partitionKey: 'k', data: 'AAA' }] },
          { records: [{ partitionKey: 'k', data: 'AA-_' }] },
          { records: [{ partitionKey: 'k', data: 'AA==', extra: 1 }] },
          { records: [{ partitionKey: '', data: 'AA==' }] },
          { records: [{ partitionKey: 'k'.repeat(257), data: 'AA==' }] },
          { records: [{ partitionKey: 'k', data: 'AA==', explicitHashKey: '01' }] },
          { records: [{ partitionKey: 'k', data: 'AA==', explicitHashKey: '-1' }] },
          { records: [{ partitionKey: 'k', data: 5 }] },
          { records: [{ data: 'AA==' }] },
          { record: [] },
        ],
      },
      heartbeat: { valid: [{}, { leaseTtlMs: 1000 }, { leaseTtlMs: 600000 }], invalid: [{ leaseTtlMs: 999 }, { leaseTtlMs: 600001 }, { leaseTtlMs: 1500.5 }, { leaseTtlMs: '5000' }, { ttl: 5000 }, [5000]] },
      createKey: {
        valid: [{ scopes: ['read:orders'] }, { scopes: ['admin:*', 'write:logs-*', 'read:a.b_C-9'], name: 'ci – nightly' }, { scopes: ['read:x'], name: '' }],
        invalid: [
          {},
          { scopes: [] },
          { scopes: 'read:orders' },
          { scopes: ['read'] },
          { scopes: ['delete:orders'] },
          { scopes: ['read:a/b'] },
          { scopes: ['read:*x'] },
          { scopes: Array.from({ length: 101 }, (_, i) => `read:s${i}`) },
          { scopes: ['read:x'], name: 'tab\there' },
          { scopes: ['read:x'], name: 'n'.repeat(129) },
          { scopes: ['read:x'], name: 7 },
          { scopes: ['read:x'], token: 'mine' },
        ],
      },
      checkpoint: {
        valid: [{ sequenceNumber: WELL_FORMED_SEQUENCE_NUMBER, leaseToken: '12345678901234567890' }],
        invalid: [{ sequenceNumber: WELL_FORMED_SEQUENCE_NUMBER }, { sequenceNumber: WELL_FORMED_SEQUENCE_NUMBER, leaseToken: 7 }, { sequenceNumber: WELL_FORMED_SEQUENCE_NUMBER, leaseToken: 'x' }, { sequenceNumber: '1'.repeat(129), leaseToken: '1' }],
      },
    }
    samples.putShardRecords = samples.putRecords!
    for (const o of operations.filter((x) => requestBodySchema(x) && x.id !== 'kinesis')) {
      const set = samples[o.id]
      assert.ok(set && set.valid.length > 0 && set.invalid.length > 0, `${o.id}: give valid and invalid sample bodies`)
      const validate = validatorAt(requestBodySchema(o)!.where)
      let n = 0
      for (const [expected, bodies] of [[true, set.valid], [false, set.invalid]] as const) {
        for (const body of bodies) {
          assert.equal(validate(body), expected, `${o.id}: the document should ${expected ? 'accept' : 'refuse'} ${JSON.stringify(body).slice(0, 120)}: ${ajv.errorsText(validate.errors)}`)
          // Against a stream that does not exist, the body's shape is all the server checks before its 404;
          // a stream that is accepted is created, so each needs a name of its own.
          const input =
            o.id !== 'createStream' ? { ...validInput(o.id, 'no-such-stream'), body } : { body: expected ? { ...(body as object), name: `sample-${n++}` } : body }
          const r = await call(s, o.id, input)
          const refused = r.status === 400 && r.body.error.code === 'ValidationError'
          assert.equal(!refused, expected, `${o.id}: the server ${refused ? 'refused' : 'accepted'} ${JSON.stringify(body).slice(0, 120)}, the document ${expected ? 'accepts' : 'refuses'} it: ${r.text.slice(0, 200)}`)
        }
      }
    }

    // Parameters: each documented one against its schema, an undocumented one refused.
    const parameterSamples: Array<[id: string, params: Record<string, string>, query: string, valid: boolean]> = [
      ['listStreams', {}, 'limit=1000', true],
      ['listStreams', {}, 'limit=12345', false],
      ['listStreams', {}, 'limit=-1', false],
      ['listStreams', {}, 'next=', false],
      ['listStreams', {}, 'colour=red', false],
      ['getRecords', { name: 'no-such-stream' }, 'from=LATEST&limit=10000', true],
      ['getRecords', { name: 'no-such-stream' }, 'from=LATEST&limit=123456', false],
      ['getRecords', { name: 'no-such-stream' }, 'from=latest', false],
      ['getRecords', { name: 'no-such-stream' }, `from=AT_TIMESTAMP&timestamp=${'1'.repeat(65)}`, false],
      ['getRecords', { name: 'no-such-stream' }, `from=AT_SEQUENCE_NUMBER&sequenceNumber=${'1'.repeat(129)}`, false],
      ['getRecords', { name: 'no-such-stream' }, `iterator=${'i'.repeat(1025)}`, false],
      ['getRecords', { name: 'no-such-stream' }, 'from=LATEST&shard=1', false],
      ['describeStream', { name: 'a.b_C-9' }, '', true],
      ['describeStream', { name: 'n'.repeat(128) }, '', true],
      ['describeStream', { name: 'n'.repeat(129) }, '', false],
      ['describeStream', { name: 'a b' }, '', false],
      ['getRecords', { name: 'no-such-stream', shardId: 's'.repeat(65) }, 'from=LATEST', false],
      ['revokeKey', { id: 'fedcba9876543210' }, '', true],
      ['revokeKey', { id: 'FEDCBA9876543210' }, '', false],
      ['revokeKey', { id: 'fedcba987654321' }, '', false],
    ]
    for (const [id, params, query, valid] of parameterSamples) {
      const o = operation(id)
      const given = new Map<string, string>([...new URLSearchParams(query)])
      for (const { param } of o.parameters) if (param.in === 'path' && params[param.name] !== undefined) given.set(param.name, params[param.name]!)
      const documentedVerdict = [...given].every(([name, value]) => {
        const p = o.parameters.find((x) => x.param.name === name)
        return p !== undefined && validatorAt(`${p.where}/schema`)(value)
      })
      assert.equal(documentedVerdict, valid, `${id} ${JSON.stringify(params)} ?${query.slice(0, 80)}: the document should ${valid ? 'accept' : 'refuse'} it`)
      const r = await call(s, id, { params, query })
      const refused = r.status === 400 && r.body.error.code === 'ValidationError'
      assert.equal(!refused, valid, `${id} ${JSON.stringify(params)} ?${query.slice(0, 80)}: the server answered ${r.status} ${r.text.slice(0, 200)}`)
    }
  })

  it('documents 401 and 403 when access control is on', async () => {
    const guarded = await startSluice({ env: { SLUICE_AUTH: 'on' } })
    const redis = createRedisClient({ url: guarded.redis.url })
    try {
      await connectRedis(redis)
      const { token } = await new ApiKeys(redis).create('no-scope-here', ['read:zz-nothing'])
      for (const o of operations.filter((x) => lists(x, 401))) {
        const input = validInput(o.id, 'cold')
        const none = await expectError(guarded, 401, 'Unauthorized', o.id, input)
        assert.ok(none.body.error.message)
        await expectError(guarded, 403, 'Forbidden', o.id, { ...input, headers: { ...input.headers, authorization: `Bearer ${token}` } })
      }
    } finally {
      redis.disconnect()
      await guarded.close()
    }
  })

  it('documents throttled reads, expired iterators and a Redis outage', async () => {
    let skewMs = 0
    const strict = await startSluice({ now: () => Date.now() + skewMs, env: { SLUICE_REDIS_COMMAND_TIMEOUT_MS: '500' } })
    try {
      await expectStatus(strict, 201, 'createStream', { body: { name: 'r', shardCount: 1 } })
      const params = { name: 'r' }
      const first = await expectStatus(strict, 200, 'getRecords', { params, query: 'from=TRIM_HORIZON' })
      // Iterators live 5 minutes.
      skewMs = 5 * 60_000 + 1000
      await expectError(strict, 400, 'ExpiredIterator', 'getRecords', { params, query: `iterator=${encodeURIComponent(first.body.nextIterator)}` }, 'iterator')
      // 5 reads a second by default, one second of burst.
      let r: HttpAnswer | undefined
      for (let i = 0; i < 20 && r?.status !== 429; i++) r = await call(strict, 'getRecords', { params, query: 'from=LATEST' })
      assert.equal(r?.status, 429, 'the default read limit throttles')
      assert.equal(r?.body.error.code, 'ProvisionedThroughputExceeded')

      await strict.redis.kill('SIGKILL')
      await Promise.all(
        operations
          .filter((o) => lists(o, 503))
          .map(async (o) => {
            const down = await expectStatus(strict, 503, o.id, validInput(o.id, 'cold'))
            if (o.id !== 'kinesis') assert.equal(down.body.error.code, 'ServiceUnavailable')
          }),
      )
      await expectStatus(strict, 200, 'livez')
    } finally {
      await strict.close()
    }
  })

  it('has seen every documented answer but 500', () => {
    const missing = operations.flatMap((o) =>
      Object.keys(o.op.responses)
        .filter((status) => status !== '500')
        .map((status) => `${o.id} ${status}`)
        .filter((k) => !seen.has(k)),
    )
    assert.deepEqual(missing, [], 'documented answers no request produced')
  })
})
