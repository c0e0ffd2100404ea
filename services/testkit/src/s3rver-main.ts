/**
 * The s3rver process that startS3 (s3.ts) and `npm start` (infra/scripts/start-local.sh) run: s3rver's
 * programmatic API on one address and port, its buckets created before it listens, quiet but for
 * its own failures.
 *
 *   node --openssl-legacy-provider s3rver-main.js --directory <dir> --port <n> [--address <ip>] [--bucket <name>]…
 *
 * Why this and not s3rver's CLI:
 * - Started with an IPC channel (by startS3), it reports the port it bound — proof that the server on
 *   that port is this process and not another test's that won a race for it — or that the port was
 *   taken. And it exits when that channel closes, so it does not outlive a test process killed -9,
 *   which gets no chance to clean up.
 * - A request with an aws-chunked body (what the AWS SDK sends for a stream body by default) is
 *   refused with 501: s3rver would store the chunk framing and trailer as the object's bytes.
 * - A request that fails inside s3rver (500) is logged, even though request logging is off.
 *
 * `--openssl-legacy-provider`: s3rver encrypts ListObjectsV2 continuation tokens with DES, which
 * OpenSSL 3 keeps in its legacy provider; without it every truncated ListObjectsV2 answers 500.
 */
import { createCipheriv } from 'node:crypto'
import { createServer, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'

/** What the runner tells the process that started it over IPC, once. */
export type S3rverReport =
  | { type: 'listening'; address: string; port: number; pid: number }
  | { type: 'failed'; code: string | undefined; message: string }

/** The little of Koa's context the middleware here touches. */
interface RequestContext {
  readonly method: string
  readonly url: string
  get(field: string): string
  status: number
  type: string
  body: unknown
}
type Middleware = (ctx: RequestContext, next: () => Promise<void>) => Promise<void>

/** The little of s3rver's API used here (it ships no types). */
interface S3rverInstance {
  /** Koa's middleware list, composed when the server starts listening. */
  middleware: Middleware[]
  on(event: 'error', listener: (err: unknown, ctx: RequestContext | undefined) => void): void
  /** Creates the buckets given as `configureBuckets` (keeping any that exist, with their objects). */
  configureBuckets(): Promise<unknown>
  /** Koa's request handler. */
  callback(): RequestListener
}
type S3rverConstructor = new (options: {
  address: string
  port: number
  directory: string
  silent: boolean
  configureBuckets: { name: string; configs: Buffer[] }[]
}) => S3rverInstance

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} s3rver[${process.pid}] ${line}\n`)
}

function report(message: S3rverReport): Promise<void> {
  const send = process.send?.bind(process)
  if (!send) return Promise.resolve()
  return new Promise((resolve) => send(message, undefined, {}, () => resolve()))
}

/** Logs, tells the parent (if any) why, and exits 1. */
async function fail(code: string | undefined, message: string): Promise<never> {
  log(message)
  await report({ type: 'failed', code, message })
  process.exit(1)
}

function desAvailable(): boolean {
  try {
    createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8))
    return true
  } catch {
    return false
  }
}

const refuseAwsChunked: Middleware = async (ctx, next) => {
  if (/aws-chunked/i.test(ctx.get('content-encoding')) || ctx.get('x-amz-content-sha256').startsWith('STREAMING-')) {
    ctx.status = 501
    ctx.type = 'application/xml'
    ctx.body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NotImplemented</Code><Message>s3rver cannot decode ' +
      'aws-chunked bodies: send a Buffer body, or set requestChecksumCalculation: "WHEN_REQUIRED" on the S3Client' +
      '</Message></Error>'
    return
  }
  await next()
}

/**
 * What s3rver's run() does, but a listen error (EADDRINUSE) rejects: run() leaves it to an 'error'
 * event nobody listens to, and the process dies of an uncaught exception.
 */
async function listen(server: S3rverInstance, address: string, port: number): Promise<AddressInfo> {
  await server.configureBuckets()
  const http = createServer(server.callback())
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(port, address, () => {
      http.off('error', reject)
      resolve()
    })
  })
  return http.address() as AddressInfo
}

interface RunnerOptions {
  directory: string
  address: string
  port: number
  buckets: string[]
}

const USAGE = 'usage: s3rver-main.js --directory <dir> --port <n> [--address <ip>] [--bucket <name>]…'

function parseOptions(args: string[]): RunnerOptions {
  const { values } = parseArgs({
    args,
    options: {
      directory: { type: 'string' },
      port: { type: 'string' },
      address: { type: 'string', default: '127.0.0.1' },
      bucket: { type: 'string', multiple: true, default: [] },
    },
    strict: true,
    allowPositionals: false,
  })
  const port = Number(values.port)
  if (!values.directory || values.port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(USAGE)
  return { directory: values.directory, address: values.address, port, buckets: values.bucket }
}

async function main(): Promise<void> {
  let options: RunnerOptions
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (err) {
    return fail('EINVAL', (err as Error).message)
  }
  const { directory, address, port, buckets } = options
  if (!desAvailable()) log('DES is unavailable (run node with --openssl-legacy-provider): a truncated ListObjectsV2 will answer 500')

  const server = new S3rver({ address, port, directory, silent: true, configureBuckets: buckets.map((name) => ({ name, configs: [] })) })
  server.middleware.unshift(refuseAwsChunked)
  server.on('error', (err, ctx) => {
    // S3 errors (NoSuchKey, …) carry their status; anything else is s3rver failing, which it would
    // answer with a bare InternalError.
    const status = (err as { status?: unknown }).status
    if (typeof status === 'number' && status < 500) return
    log(`${ctx ? `${ctx.method} ${ctx.url}: ` : ''}${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  })

  let bound: AddressInfo
  try {
    bound = await listen(server, address, port)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return fail(code, `cannot serve on ${address}:${port}: ${(err as Error).message}`)
  }
  if (process.send) {
    // The parent's end closed: it exited, however it did. Follow it.
    process.on('disconnect', () => process.exit(0))
    if (!process.connected) process.exit(0)
    await report({ type: 'listening', address: bound.address, port: bound.port, pid: process.pid })
  } else {
    log(`listening on http://${bound.address}:${bound.port}, data in ${directory}${buckets.length ? `, buckets ${buckets.join(', ')}` : ''}`)
  }
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err))
  process.exit(1)
})
