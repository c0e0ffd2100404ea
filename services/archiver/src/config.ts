/** The archiver's configuration from the environment, validated once; every problem reported at once. */
import { envReader, loadS3Settings, type S3Settings } from '@sluice/store'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface ArchiverConfig {
  redisUrl: string
  redisCommandTimeoutMs: number
  s3: S3Settings
  archiveMaxBytes: number
  archiveMaxAgeMs: number
  hotRetentionMs: number
  hotMaxBytes: number
  leaseTtlMs: number
  intervalMs: number
  concurrency: number
  archiverId: string | undefined
  metricsHost: string
  metricsPort: number
  logLevel: LogLevel
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
  }
}

export function loadArchiverConfig(env: Record<string, string | undefined> = process.env): ArchiverConfig {
  const problems: string[] = []
  const { int } = envReader(env, problems)
  const redisUrl = env.SLUICE_REDIS_URL || 'redis://127.0.0.1:6379'
  if (!/^(rediss?:\/\/|redis-cluster:\/\/)/.test(redisUrl)) problems.push(`SLUICE_REDIS_URL must start with redis://, rediss:// or redis-cluster://, got "${redisUrl}"`)
  const s3 = loadS3Settings(env, problems)
  if (!s3 && !problems.some((p) => p.startsWith('SLUICE_S3_'))) problems.push('SLUICE_S3_BUCKET is required: the archiver copies shards to this bucket')
  const logLevel = (env.SLUICE_LOG_LEVEL || 'info') as LogLevel
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) problems.push(`SLUICE_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "${logLevel}"`)
  const leaseTtlMs = int('SLUICE_ARCHIVER_LEASE_TTL_MS', 30_000, 1000, 3_600_000)
  const config: ArchiverConfig = {
    redisUrl,
    redisCommandTimeoutMs: int('SLUICE_REDIS_COMMAND_TIMEOUT_MS', 3000, 100, 60_000),
    s3: s3 ?? { endpoint: undefined, bucket: '', prefix: 'sluice', region: 'us-east-1', forcePathStyle: false, createBucket: false },
    archiveMaxBytes: int('SLUICE_ARCHIVE_MAX_BYTES', 8 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    archiveMaxAgeMs: int('SLUICE_ARCHIVE_MAX_AGE_MS', 60_000, 100, 86_400_000),
    hotRetentionMs: int('SLUICE_HOT_RETENTION_MS', 3_600_000, 0, 365 * 86_400_000),
    hotMaxBytes: int('SLUICE_HOT_MAX_BYTES', 0, 0, Number.MAX_SAFE_INTEGER),
    leaseTtlMs,
    intervalMs: int('SLUICE_ARCHIVER_INTERVAL_MS', 1000, 10, 600_000),
    concurrency: int('SLUICE_ARCHIVER_CONCURRENCY', 4, 1, 256),
    archiverId: env.SLUICE_ARCHIVER_ID || undefined,
    metricsHost: env.SLUICE_ARCHIVER_HOST || '127.0.0.1',
    metricsPort: int('SLUICE_ARCHIVER_METRICS_PORT', 4601, 0, 65535),
    logLevel,
  }
  if (problems.length) throw new ConfigError(problems)
  return config
}
