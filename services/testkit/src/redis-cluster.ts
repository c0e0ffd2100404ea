/**
 * A real Redis Cluster for tests: N masters (no replicas) on free ports, each a redis-server from
 * startRedis with its own directory and nodes.conf, joined by `redis-cli --cluster create`, and
 * returned only once every node sees all 16384 slots served and the cluster state ok — so the first
 * command of a test is never answered CLUSTERDOWN.
 */
import { spawn } from 'node:child_process'
import { freePortWith } from './ports.js'
import { requireRedisBinaries, startRedisOn, type RedisServer, type StartRedisOptions } from './redis.js'
import { redisCommand } from './resp.js'
import { waitFor } from './wait.js'

export interface StartRedisClusterOptions extends Pick<StartRedisOptions, 'appendonly' | 'appendfsync' | 'maxmemory' | 'maxmemoryPolicy' | 'extraArgs'> {
  /** Default 3, the smallest cluster redis-cli will create. */
  masters?: number
}

export interface RedisClusterHandle {
  /** Seed nodes, e.g. `new Cluster(handle.nodes)`. */
  nodes: { host: string; port: number }[]
  /** The node processes, for fault tests (kill or stop one master). */
  servers: RedisServer[]
  close(): Promise<void>
}

/** A node's client port; its cluster bus listens on port + 10000. */
const clusterPort = (): Promise<number> => freePortWith([10_000])

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, output }))
  })
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(\\S*)`, 'm').exec(info)?.[1]
}

export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterHandle> {
  requireRedisBinaries(['redis-server', 'redis-cli'])
  const { masters = 3, extraArgs = [], ...serverOptions } = options
  const started = await Promise.allSettled(
    Array.from({ length: masters }, () =>
      startRedisOn(clusterPort, {
        ...serverOptions,
        extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000', ...extraArgs],
      }),
    ),
  )
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  const closeAll = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.close()))
  }
  try {
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (failed) throw failed.reason
    const create = await run(
      'redis-cli',
      ['--cluster', 'create', ...servers.map((s) => `${s.host}:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      60_000,
    )
    if (create.code !== 0) throw new Error(`redis-cli --cluster create failed (exit ${create.code}):\n${create.output}`)
    await Promise.all(
      servers.map((s) =>
        waitFor(
          async () => {
            const info = await redisCommand(s.port, ['CLUSTER', 'INFO'])
            if (typeof info !== 'string') throw new Error(`CLUSTER INFO answered ${String(info)}`)
            return (
              infoField(info, 'cluster_state') === 'ok' &&
              infoField(info, 'cluster_slots_assigned') === '16384' &&
              infoField(info, 'cluster_slots_ok') === '16384' &&
              infoField(info, 'cluster_known_nodes') === String(masters)
            )
          },
          { timeoutMs: 30_000, intervalMs: 50, message: `cluster node ${s.port} to see all ${masters} nodes, 16384 slots and cluster_state:ok` },
        ),
      ),
    )
  } catch (err) {
    await closeAll()
    throw err
  }
  return { nodes: servers.map((s) => ({ host: s.host, port: s.port })), servers, close: closeAll }
}
