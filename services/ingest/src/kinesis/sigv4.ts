/**
 * SigV4 verification for the Kinesis endpoint (optional: on when SLUICE_AWS_CREDENTIALS names
 * access keys). The server holds each access key's secret, recomputes the request's signature with
 * @smithy/signature-v4 (the AWS SDK's own signer, so canonicalisation matches what clients do) over
 * exactly the headers the client signed and the raw body bytes, and compares in constant time.
 *
 * What a caller may then do is decided by the access key's scopes, the same scopes as API keys
 * (`write:orders`, `read:logs-*`, `admin:*`).
 *
 * Errors are AWS's: an unknown access key is UnrecognizedClientException, a wrong signature or a
 * request signed more than five minutes away from the server's clock is InvalidSignatureException,
 * a malformed Authorization header IncompleteSignatureException.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { SignatureV4 } from '@smithy/signature-v4'
import { parseScope, type Scope } from '@sluice/store'
import { KinesisError } from './errors.js'

export interface AwsPrincipal {
  accessKeyId: string
  scopes: Scope[]
}

export interface AwsCredential {
  secretAccessKey: string
  scopes: Scope[]
}

/** How far X-Amz-Date may be from the server's clock, either way (AWS: 5 minutes). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000

const ACCESS_KEY_ID_RE = /^[A-Za-z0-9]{16,128}$/

/**
 * SLUICE_AWS_CREDENTIALS: a JSON object, inline or in a file named after "@":
 * `{"AKIAEXAMPLE0000001": {"secretAccessKey": "…", "scopes": ["write:orders", "read:*"]}}`.
 * Every problem is reported, none is guessed around.
 */
export function parseAwsCredentials(text: string, problems: string[]): Map<string, AwsCredential> {
  const out = new Map<string, AwsCredential>()
  const what = 'SLUICE_AWS_CREDENTIALS'
  let json = text.trim()
  if (json.startsWith('@')) {
    try {
      json = readFileSync(json.slice(1), 'utf8')
    } catch (err) {
      problems.push(`${what}: cannot read ${json.slice(1)}: ${(err as Error).message}`)
      return out
    }
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch (err) {
    problems.push(`${what} must be a JSON object (or @file holding one): ${(err as Error).message}`)
    return out
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`${what} must be a JSON object of access key id → {"secretAccessKey", "scopes"}`)
    return out
  }
  for (const [id, entry] of Object.entries(parsed)) {
    const at = `${what}["${id}"]`
    if (!ACCESS_KEY_ID_RE.test(id)) problems.push(`${at}: an access key id is 16 to 128 letters and digits`)
    const e = entry as { secretAccessKey?: unknown; scopes?: unknown }
    if (typeof e !== 'object' || e === null) {
      problems.push(`${at} must be an object with secretAccessKey and scopes`)
      continue
    }
    if (typeof e.secretAccessKey !== 'string' || e.secretAccessKey.length < 16) problems.push(`${at}.secretAccessKey must be a string of at least 16 characters`)
    const scopes: Scope[] = []
    if (!Array.isArray(e.scopes) || e.scopes.length === 0) problems.push(`${at}.scopes must be a non-empty array such as ["write:orders", "read:*"]`)
    else {
      for (const s of e.scopes) {
        const scope = typeof s === 'string' ? parseScope(s) : null
        if (!scope) problems.push(`${at}.scopes: not a scope: ${JSON.stringify(s)} (read|write|admin:<stream, prefix* or *>)`)
        else scopes.push(scope)
      }
    }
    const known = new Set(['secretAccessKey', 'scopes'])
    for (const k of Object.keys(e)) if (!known.has(k)) problems.push(`${at}: unknown member "${k}"`)
    if (typeof e.secretAccessKey === 'string') out.set(id, { secretAccessKey: e.secretAccessKey, scopes })
  }
  if (out.size === 0 && problems.length === 0) problems.push(`${what} names no access key`)
  return out
}

/** node:crypto behind the SDK's hash interface: SHA-256, or HMAC-SHA256 when given a key. */
type SourceData = string | ArrayBuffer | ArrayBufferView

function bytes(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

class NodeSha256 {
  private readonly hash
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data))
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest()
  }
}

export interface SignedRequest {
  method: string
  /** path and query as received, e.g. "/" */
  url: string
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

interface AuthorizationParts {
  accessKeyId: string
  date: string
  region: string
  service: string
  signedHeaders: string[]
  signature: string
}

const AUTH_RE = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request\s*,\s*SignedHeaders=([a-z0-9;_.:-]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/

function parseAuthorization(header: string): AuthorizationParts {
  const m = AUTH_RE.exec(header)
  if (!m) {
    throw new KinesisError('IncompleteSignatureException', 'Authorization header requires Credential, SignedHeaders and Signature parameters.')
  }
  return { accessKeyId: m[1]!, date: m[2]!, region: m[3]!, service: m[4]!, signedHeaders: m[5]!.split(';'), signature: m[6]! }
}

/** "20261125T093000Z" → Date, or null. */
function parseAmzDate(text: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text)
  if (!m) return null
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)
  return Number.isFinite(ms) ? new Date(ms) : null
}

function headerValue(headers: SignedRequest['headers'], name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v.join(',') : v
}

export class SigV4Verifier {
  constructor(
    private readonly credentials: ReadonlyMap<string, AwsCredential>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The principal whose key signed the request; throws AWS's error otherwise. */
  async verify(req: SignedRequest): Promise<AwsPrincipal> {
    const header = headerValue(req.headers, 'authorization')
    if (header === undefined || !header.startsWith('AWS4-HMAC-SHA256 ')) throw new KinesisError('MissingAuthenticationTokenException', 'Missing Authentication Token')
    const auth = parseAuthorization(header)
    const credential = this.credentials.get(auth.accessKeyId)
    if (!credential) throw new KinesisError('UnrecognizedClientException', 'The security token included in the request is invalid.')
    if (auth.service !== 'kinesis') {
      throw new KinesisError('InvalidSignatureException', `Credential should be scoped to correct service: 'kinesis'.`)
    }
    const amzDate = headerValue(req.headers, 'x-amz-date')
    if (amzDate === undefined || !auth.signedHeaders.includes('x-amz-date')) {
      throw new KinesisError('IncompleteSignatureException', "Authorization header requires the 'X-Amz-Date' header, signed.")
    }
    // The operation must be signed too: otherwise a captured request (say DescribeStream) could be
    // replayed within the skew window as another one with the same body (DeleteStream).
    if (!auth.signedHeaders.includes('x-amz-target')) {
      throw new KinesisError('IncompleteSignatureException', "Authorization header requires the 'X-Amz-Target' header, signed.")
    }
    // Over HTTP/2 the SDK signs the :authority pseudo-header instead of Host.
    if (!auth.signedHeaders.includes('host') && !auth.signedHeaders.includes(':authority')) throw new KinesisError('IncompleteSignatureException', "Authorization header requires the 'Host' header, signed.")
    const signingDate = parseAmzDate(amzDate)
    if (!signingDate) throw new KinesisError('IncompleteSignatureException', `X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z', got '${amzDate}'.`)
    if (amzDate.slice(0, 8) !== auth.date) {
      throw new KinesisError(
        'InvalidSignatureException',
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
      )
    }
    const now = this.now()
    const skew = signingDate.getTime() - now
    if (skew < -MAX_CLOCK_SKEW_MS) {
      throw new KinesisError('InvalidSignatureException', `Signature expired: ${amzDate} is now earlier than ${basic(now - MAX_CLOCK_SKEW_MS)} (${basic(now)} - 5 min.)`)
    }
    if (skew > MAX_CLOCK_SKEW_MS) {
      throw new KinesisError('InvalidSignatureException', `Signature not yet current: ${amzDate} is still later than ${basic(now + MAX_CLOCK_SKEW_MS)} (${basic(now)} + 5 min.)`)
    }

    // Exactly the headers the client signed, nothing else: the signer signs what it is given.
    const headers: Record<string, string> = {}
    for (const name of auth.signedHeaders) {
      const value = headerValue(req.headers, name)
      if (value === undefined) throw new KinesisError('InvalidSignatureException', `The request signs the header '${name}' but does not send it.`)
      headers[name] = value
    }
    // The signer trusts a content hash header; the body must match it (and be signed, not UNSIGNED-PAYLOAD).
    const contentHash = headers['x-amz-content-sha256']
    if (contentHash !== undefined && contentHash !== createHash('sha256').update(req.body).digest('hex')) {
      throw new KinesisError('InvalidSignatureException', 'The provided x-amz-content-sha256 header does not match what was computed.')
    }
    const q = req.url.indexOf('?')
    const path = q === -1 ? req.url : req.url.slice(0, q)
    const query: Record<string, string | string[]> = {}
    if (q !== -1) {
      for (const [k, v] of new URLSearchParams(req.url.slice(q + 1))) {
        const prev = query[k]
        query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]
      }
    }
    const signer = new SignatureV4({
      service: auth.service,
      region: auth.region,
      credentials: { accessKeyId: auth.accessKeyId, secretAccessKey: credential.secretAccessKey },
      sha256: NodeSha256,
      // A content hash header is signed only when the client sent and signed one.
      applyChecksum: false,
    })
    const signed = await signer.sign(
      { method: req.method, protocol: 'http:', hostname: headers.host ?? headers[':authority'] ?? '', path, query, headers, body: req.body },
      { signingDate, signingRegion: auth.region, signingService: auth.service, signableHeaders: new Set(auth.signedHeaders) },
    )
    const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] ?? ''
    const ok = expected.length === auth.signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(auth.signature))
    if (!ok) {
      throw new KinesisError(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      )
    }
    return { accessKeyId: auth.accessKeyId, scopes: credential.scopes }
  }
}

function basic(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
}
