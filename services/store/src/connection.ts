/**
 * The Redis client Sluice runs on. One place decides how it behaves when Redis is slow or gone:
 * commands are never queued while disconnected (enableOfflineQueue off: they fail at once and the API
 * answers 503), an unanswered command times out instead of hanging a request, and reconnection is
 * retried quickly so service resumes within about a second of Redis returning.
 */
import { Cluster, Redis } from 'ioredis'
import type { ClusterOptions, RedisOptions } from 'ioredis'
import { loadScripts, type RedisClient } from './scripts.js'

export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host:port[/db]`, `rediss://…`, or `redis-cluster://host:port[,host:port…]`. */
  url: string
  /** A command without an answer after this long fails (503 at the API). */
  commandTimeoutMs?: number
  connectTimeoutMs?: number
  /** Name shown in CLIENT LIST, to tell processes apart. */
  connectionName?: string
}

export type SluiceRedis = RedisClient

const CLUSTER_SCHEME = 'redis-cluster://'

export function isClusterUrl(url: string): boolean {
  return url.startsWith(CLUSTER_SCHEME)
}

export function createRedisClient(options: RedisConnectionOptions): SluiceRedis {
  const base: RedisOptions = {
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 3000,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    lazyConnect: true,
    retryStrategy: (attempt: number) => Math.min(50 * attempt, 500),
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
  }
  if (isClusterUrl(options.url)) {
    const nodes = options.url
      .slice(CLUSTER_SCHEME.length)
      .split(',')
      .filter(Boolean)
      .map((hostPort) => {
        const [host, port] = hostPort.split(':')
        return { host: host || '127.0.0.1', port: Number(port || 6379) }
      })
    const clusterOptions: ClusterOptions = {
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      lazyConnect: true,
      clusterRetryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
      redisOptions: base,
    }
    loadScripts()
    return new Cluster(nodes, clusterOptions)
  }
  loadScripts()
  return new Redis(options.url, base)
}

/** Connects (the client is lazy) and waits until it is ready; rejects with the connection error. */
export async function connectRedis(client: RedisClient): Promise<void> {
  if (client.status === 'ready') return
  await client.connect()
}

export interface RedisServerCheck {
  /** Problems that make the server unfit: Sluice refuses to start. */
  errors: string[]
  /** Settings worth a warning (e.g. no AOF: acknowledged records can be lost on a crash). */
  warnings: string[]
}

function infoField(info: string, field: string): string | undefined {
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(info)
  return m?.[1]?.trim()
}

/**
 * Checks the settings Sluice's guarantees depend on, on every master: an evicting maxmemory-policy
 * would silently drop acknowledged records, so it is an error; AOF off is a warning.
 */
export async function checkRedisServer(client: RedisClient): Promise<RedisServerCheck> {
  const errors: string[] = []
  const warnings: string[] = []
  const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client]
  for (const node of nodes) {
    const where = `${node.options.host ?? '?'}:${node.options.port ?? '?'}`
    const memory = await node.info('memory')
    const policy = infoField(memory, 'maxmemory_policy')
    if (policy && policy !== 'noeviction') {
      errors.push(
        `Redis at ${where} has maxmemory-policy ${policy}: it may evict acknowledged records. ` +
          `Set "maxmemory-policy noeviction" (CONFIG SET maxmemory-policy noeviction, and in redis.conf).`,
      )
    }
    const persistence = await node.info('persistence')
    if (infoField(persistence, 'aof_enabled') !== '1') {
      warnings.push(`Redis at ${where} has appendonly off: acknowledged records are lost if Redis restarts.`)
    }
  }
  return { errors, warnings }
}
