/**
 * A real S3-protocol server (s3rver) as its own process, on a free port, with its data in a
 * directory: tests put, get and list through the AWS SDK as they would against AWS, and fault tests
 * kill (-9), freeze (SIGSTOP) and restart it on the same port and data.
 */
import { mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { adoptTemporaryDir, removeTemporaryDir } from './lifecycle.js'
import { freePort } from './ports.js'
import { startProcess, type ChildHandle } from './processes.js'

export interface S3Server {
  /** http://127.0.0.1:<port> */
  endpoint: string
  port: number
  /** its data directory */
  dir: string
  region: string
  /** what s3rver accepts (it checks signatures against these) */
  credentials: { accessKeyId: string; secretAccessKey: string }
  readonly pid: number
  /** Sends the signal (default SIGKILL) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** SIGSTOP: requests hang, as with an S3 that stopped answering. */
  stop(): void
  /** SIGCONT */
  resume(): void
  /** Starts it again (killing it first if it runs) on the same port and data directory. */
  restart(): Promise<void>
  /** Stops it and removes a temporary data directory it created. */
  close(): Promise<void>
}

export interface StartS3Options {
  port?: number
  /** default: a fresh temporary directory, removed by close() (and when the test process exits) */
  dir?: string
  /** buckets that exist from the start */
  buckets?: string[]
  timeoutMs?: number
}

const s3rverBin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js')

export async function startS3(options: StartS3Options = {}): Promise<S3Server> {
  const ownsDir = options.dir === undefined
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sluice-s3-'))
  if (ownsDir) adoptTemporaryDir(dir)
  const port = options.port ?? (await freePort())
  const endpoint = `http://127.0.0.1:${port}`
  const launch = (): Promise<ChildHandle> =>
    startProcess({
      command: process.execPath,
      args: [s3rverBin, '--directory', dir, '--address', '127.0.0.1', '--port', String(port), '--silent', ...(options.buckets ?? []).flatMap((b) => ['--configure-bucket', b])],
      readyUrl: `${endpoint}/`,
      readyTimeoutMs: options.timeoutMs ?? 15_000,
    })
  let current: ChildHandle
  try {
    current = await launch()
  } catch (err) {
    if (ownsDir) removeTemporaryDir(dir)
    throw err
  }
  let stopped = false
  return {
    endpoint,
    port,
    dir,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    get pid() {
      return current.pid
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      await current.kill(signal)
    },
    stop() {
      stopped = true
      current.stop()
    },
    resume() {
      if (!stopped) return
      stopped = false
      current.resume()
    },
    async restart() {
      await current.kill('SIGKILL')
      current = await launch()
    },
    async close() {
      await current.kill('SIGKILL')
      if (ownsDir) removeTemporaryDir(dir)
    },
  }
}
