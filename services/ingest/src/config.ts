/**
 * Configuration from the environment, read and validated once at start-up. Every problem is
 * reported at once (not just the first), and the process refuses to start with a bad value rather
 * than run on a guess.
 */
import {
  DEFAULT_MAX_SHARDS,
  DEFAULT_SHARD_READ_BYTES_PER_SECOND,
  DEFAULT_SHARD_READS_PER_SECOND,
  DEFAULT_SHARD_WRITE_BYTES_PER_SECOND,
  DEFAULT_SHARD_WRITE_RECORDS_PER_SECOND,
  MAX_CONFIGURED_BYTES_PER_SECOND,
  MAX_CONFIGURED_RECORDS_PER_SECOND,
} from '@sluice/protocol'
import { envReader, loadS3Settings, type Env, type S3Settings } from '@sluice/store'
import { parseAwsCredentials, type AwsCredential } from './kinesis/sigv4.js'

export type FsyncMode = 'always' | 'everysec'
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface Config {
  host: string
  port: number
  redisUrl: string
  redisCommandTimeoutMs: number
  /** When set, the service checks that Redis' appendfsync is this and refuses to start otherwise. */
  redisFsync: FsyncMode | undefined
  maxShards: number
  shardWriteRecordsPerSecond: number
  shardWriteBytesPerSecond: number
  shardReadsPerSecond: number
  shardReadBytesPerSecond: number
  /** Secret that signs shard iterators; undefined = generated once into dataDir. */
  iteratorSecret: string | undefined
  dataDir: string
  logLevel: LogLevel
  /** SIGTERM/SIGINT: how long open connections may take to be answered before they are closed. */
  shutdownTimeoutMs: number
  /** The S3 archive reads of trimmed records go to; undefined: archiving is off. */
  s3: S3Settings | undefined
  /** With archiving on: a shard refuses puts (429) while this many of its bytes are not archived yet. */
  maxUnarchivedBytes: number
  /** Decoded archive objects kept in memory for reads. */
  archiveCacheBytes: number
  /** API keys required: on, off, or (unset) on unless bound to loopback. */
  auth: 'on' | 'off' | undefined
  /** `/metrics` open (default) or, while API keys are required, behind a key with a scope on `*`. */
  metricsAuth: 'open' | 'key'
  /** Access keys the Kinesis endpoint verifies SigV4 signatures with; undefined: not verified. */
  awsCredentials: ReadonlyMap<string, AwsCredential> | undefined
  /** Most open connections (HTTP/1.1 and HTTP/2); more are closed as they arrive. */
  maxConnections: number
  /** Time a client has to send a request's headers. */
  headersTimeoutMs: number
  /** Time a client has to send a whole request, body included (at least headersTimeoutMs). */
  requestTimeoutMs: number
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number
  /** A connection on which no byte moves either way for this long is closed (a client that stopped reading). */
  connectionTimeoutMs: number
}

/**
 * The least SLUICE_CONNECTION_TIMEOUT_MS may be: a connection is rightly silent while the service
 * works on its request (a read from the S3 archive waits up to 10 s, each Redis command up to
 * SLUICE_REDIS_COMMAND_TIMEOUT_MS, which the check below takes into account).
 */
export const MIN_CONNECTION_TIMEOUT_MS = 30_000

/** Whether API keys are required: SLUICE_AUTH, or by default everywhere but on loopback. */
export function authRequired(config: Pick<Config, 'auth' | 'host'>): boolean {
  if (config.auth) return config.auth === 'on'
  return !isLoopback(config.host)
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
  }
}

/** The documented variables, their defaults and rules; README's configuration table mirrors it. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = []
  const { str, int, oneOf } = envReader(env, problems)

  const redisUrl = str('SLUICE_REDIS_URL', 'redis://127.0.0.1:6379')
  if (!/^(rediss?:\/\/|redis-cluster:\/\/)/.test(redisUrl)) {
    problems.push(`SLUICE_REDIS_URL must start with redis://, rediss:// or redis-cluster://, got "${redisUrl}"`)
  }
  const iteratorSecret = env.SLUICE_ITERATOR_SECRET || undefined
  if (iteratorSecret !== undefined && iteratorSecret.length < 16) {
    problems.push('SLUICE_ITERATOR_SECRET must be at least 16 characters')
  }
  const config: Config = {
    host: str('SLUICE_HOST', '127.0.0.1'),
    port: int('SLUICE_PORT', 4600, 0, 65535),
    redisUrl,
    redisCommandTimeoutMs: int('SLUICE_REDIS_COMMAND_TIMEOUT_MS', 3000, 100, 60000),
    redisFsync: oneOf('SLUICE_REDIS_FSYNC', ['always', 'everysec'] as const),
    maxShards: int('SLUICE_MAX_SHARDS', DEFAULT_MAX_SHARDS, 1, 100_000),
    shardWriteRecordsPerSecond: int('SLUICE_SHARD_WRITE_RECORDS_PER_SECOND', DEFAULT_SHARD_WRITE_RECORDS_PER_SECOND, 1, MAX_CONFIGURED_RECORDS_PER_SECOND),
    shardWriteBytesPerSecond: int('SLUICE_SHARD_WRITE_BYTES_PER_SECOND', DEFAULT_SHARD_WRITE_BYTES_PER_SECOND, 1, MAX_CONFIGURED_BYTES_PER_SECOND),
    shardReadsPerSecond: int('SLUICE_SHARD_READS_PER_SECOND', DEFAULT_SHARD_READS_PER_SECOND, 1, MAX_CONFIGURED_RECORDS_PER_SECOND),
    shardReadBytesPerSecond: int('SLUICE_SHARD_READ_BYTES_PER_SECOND', DEFAULT_SHARD_READ_BYTES_PER_SECOND, 1, MAX_CONFIGURED_BYTES_PER_SECOND),
    iteratorSecret,
    dataDir: str('SLUICE_DATA_DIR', '.data'),
    shutdownTimeoutMs: int('SLUICE_SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    logLevel: oneOf('SLUICE_LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) ?? 'info',
    s3: loadS3Settings(env, problems),
    maxUnarchivedBytes: int('SLUICE_MAX_UNARCHIVED_BYTES', 256 * 1024 * 1024, 2 * 1024 * 1024, Number.MAX_SAFE_INTEGER),
    archiveCacheBytes: int('SLUICE_ARCHIVE_CACHE_BYTES', 128 * 1024 * 1024, 0, Number.MAX_SAFE_INTEGER),
    auth: oneOf('SLUICE_AUTH', ['on', 'off'] as const),
    metricsAuth: oneOf('SLUICE_METRICS_AUTH', ['open', 'key'] as const) ?? 'open',
    awsCredentials: env.SLUICE_AWS_CREDENTIALS ? parseAwsCredentials(env.SLUICE_AWS_CREDENTIALS, problems) : undefined,
    maxConnections: int('SLUICE_MAX_CONNECTIONS', 10_000, 1, 1_000_000),
    headersTimeoutMs: int('SLUICE_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
    requestTimeoutMs: int('SLUICE_REQUEST_TIMEOUT_MS', 60_000, 100, 3_600_000),
    keepAliveTimeoutMs: int('SLUICE_KEEP_ALIVE_TIMEOUT_MS', 72_000, 100, 3_600_000),
    connectionTimeoutMs: int('SLUICE_CONNECTION_TIMEOUT_MS', 120_000, MIN_CONNECTION_TIMEOUT_MS, 3_600_000),
  }
  if (config.connectionTimeoutMs < 2 * config.redisCommandTimeoutMs + 10_000) {
    problems.push(
      `SLUICE_CONNECTION_TIMEOUT_MS (${config.connectionTimeoutMs}) must be at least twice SLUICE_REDIS_COMMAND_TIMEOUT_MS plus 10 s ` +
        `(${2 * config.redisCommandTimeoutMs + 10_000}): a request may wait that long for Redis and S3 with its connection silent`,
    )
  }
  if (config.requestTimeoutMs < config.headersTimeoutMs) {
    problems.push(`SLUICE_REQUEST_TIMEOUT_MS (${config.requestTimeoutMs}) must be at least SLUICE_HEADERS_TIMEOUT_MS (${config.headersTimeoutMs}): a request's time includes its headers`)
  }
  if (problems.length) throw new ConfigError(problems)
  return config
}
