/**
 * Consumer groups: workers heartbeat to hold leases on shards, and checkpoint what they processed.
 * The lease algorithm and the fenced checkpoint are Lua scripts on the group's slot, on Redis time.
 */
import { catalogKeys, groupKeys } from './keys.js'
import { guarded } from './errors.js'
import { runScript } from './scripts.js'
import { observed, type StoreObserver } from './observe.js'
import type { SluiceRedis } from './connection.js'

export interface GroupRef {
  stream: string
  generation: number
  group: string
}

export interface Lease {
  shardIndex: number
  token: string
  /** the group's checkpoint for the shard, or null if none yet */
  checkpoint: string | null
}

export type HeartbeatResult = { kind: 'leases'; leaseTtlMs: number; leases: Lease[] } | { kind: 'gone' }

export type CheckpointResult = 'written' | 'lease-lost' | 'backwards'

export interface GroupState {
  leaseTtlMs: number
  workers: Array<{ workerId: string; lastHeartbeatMs: number }>
  owners: Map<number, { workerId: string; token: string }>
  checkpoints: Map<number, string>
}

export class ConsumerGroups {
  constructor(
    private readonly redis: SluiceRedis,
    private readonly observer?: StoreObserver,
  ) {}

  /** Joins or refreshes a worker and rebalances; 'gone' if the stream generation was deleted. */
  async heartbeat(ref: GroupRef, shardCount: number, workerId: string, leaseTtlMs: number): Promise<HeartbeatResult> {
    const registered = await guarded(
      runScript(this.redis, 'registerGroup', [catalogKeys.stream(ref.stream), catalogKeys.groups(ref.stream, ref.generation), ref.generation, ref.group]),
    )
    if (registered !== 1) return { kind: 'gone' }
    const k = groupKeys(ref.stream, ref.generation, ref.group)
    const reply = (await observed(this.observer, 'heartbeat', () =>
      guarded(runScript(this.redis, 'heartbeat', [k.workers, k.leases, k.checkpoints, k.meta, workerId, leaseTtlMs, shardCount])),
    )) as Array<string | number>
    const leases: Lease[] = []
    for (let i = 1; i + 2 < reply.length; i += 3) {
      const checkpoint = String(reply[i + 2])
      leases.push({ shardIndex: Number(reply[i]), token: String(reply[i + 1]), checkpoint: checkpoint === '' ? null : checkpoint })
    }
    return { kind: 'leases', leaseTtlMs: Number(reply[0]), leases }
  }

  async checkpoint(ref: GroupRef, shardIndex: number, token: string, sequenceNumber: string): Promise<CheckpointResult> {
    const k = groupKeys(ref.stream, ref.generation, ref.group)
    const reply = await observed(this.observer, 'checkpoint', () =>
      guarded(runScript(this.redis, 'checkpoint', [k.workers, k.leases, k.checkpoints, k.meta, shardIndex, token, sequenceNumber])),
    )
    return reply === 1 ? 'written' : reply === -2 ? 'backwards' : 'lease-lost'
  }

  /** The worker leaves at once; returns how many shards it freed. */
  async leave(ref: GroupRef, workerId: string): Promise<number> {
    const k = groupKeys(ref.stream, ref.generation, ref.group)
    return Number(await guarded(runScript(this.redis, 'leave', [k.workers, k.leases, workerId])))
  }

  async list(stream: string, generation: number): Promise<string[]> {
    return (await guarded(this.redis.smembers(catalogKeys.groups(stream, generation)))).sort()
  }

  /** The group as it is now, or null if it has never had a worker. */
  async state(ref: GroupRef): Promise<GroupState | null> {
    const k = groupKeys(ref.stream, ref.generation, ref.group)
    const [meta, workers, leases, checkpoints] = await guarded(
      Promise.all([
        this.redis.hgetall(k.meta),
        this.redis.zrange(k.workers, '0', '-1', 'WITHSCORES'),
        this.redis.hgetall(k.leases),
        this.redis.hgetall(k.checkpoints),
      ]),
    )
    if (!meta.leaseTtlMs) return null
    const ttl = Number(meta.leaseTtlMs)
    const list: GroupState['workers'] = []
    for (let i = 0; i + 1 < workers.length; i += 2) list.push({ workerId: workers[i]!, lastHeartbeatMs: Number(workers[i + 1]) })
    const owners = new Map<number, { workerId: string; token: string }>()
    for (const [shard, value] of Object.entries(leases)) {
      const sep = value.indexOf('|')
      owners.set(Number(shard), { workerId: value.slice(0, sep), token: value.slice(sep + 1) })
    }
    const marks = new Map<number, string>()
    for (const [shard, seq] of Object.entries(checkpoints)) marks.set(Number(shard), seq)
    return { leaseTtlMs: ttl, workers: list, owners, checkpoints: marks }
  }
}
