/**
 * Consumer groups: workers join by heartbeating and are given shards (leases with fencing tokens),
 * checkpoint what they processed, and leave. The service holds the leases (Redis, Lua, Redis time),
 * so clients need only HTTP.
 */
import {
  entryIdFromSequenceNumber,
  shardIdFor,
  type GroupDescription,
  type HeartbeatResponse,
} from '@sluice/protocol'
import { shardKeys, type GroupRef } from '@sluice/store'
import { ApiError } from '../errors.js'
import type { ActionContext } from '../context.js'
import type { StreamView } from '../stream-directory.js'
import { requireShard, requireStream } from './describe-stream.js'
import { requireWritten } from './get-records.js'

export const DEFAULT_LEASE_TTL_MS = 10_000
export const MIN_LEASE_TTL_MS = 1_000
export const MAX_LEASE_TTL_MS = 600_000

function ref(view: StreamView, group: string): GroupRef {
  return { stream: view.stored.name, generation: view.stored.generation, group }
}

function gone(stream: string): ApiError {
  return new ApiError('StreamNotFound', `Stream ${stream} not found`, { field: 'name' })
}

export async function heartbeat(ctx: ActionContext, stream: string, group: string, workerId: string, leaseTtlMs = DEFAULT_LEASE_TTL_MS): Promise<HeartbeatResponse> {
  const view = await requireStream(ctx, stream)
  const result = await ctx.groups.heartbeat(ref(view, group), view.stored.shardCount, workerId, leaseTtlMs)
  if (result.kind === 'gone') {
    ctx.directory.invalidate(stream)
    throw gone(stream)
  }
  return {
    group,
    workerId,
    leaseTtlMs: result.leaseTtlMs,
    shards: result.leases.map((l) => ({ shardId: shardIdFor(l.shardIndex), leaseToken: l.token, checkpoint: l.checkpoint })),
  }
}

export async function checkpoint(
  ctx: ActionContext,
  stream: string,
  group: string,
  shardId: string,
  input: { sequenceNumber: string; leaseToken: string },
): Promise<{ shardId: string; sequenceNumber: string }> {
  const view = await requireStream(ctx, stream)
  const shardIndex = requireShard(view, shardId)
  const pos = entryIdFromSequenceNumber(input.sequenceNumber)
  if (!pos) throw new ApiError('ValidationError', 'sequenceNumber: not a sequence number this service issued', { field: 'sequenceNumber' })
  if (pos.shardIndex !== shardIndex) {
    throw new ApiError('ValidationError', `sequenceNumber: belongs to ${shardIdFor(pos.shardIndex)}, not ${shardId}`, { field: 'sequenceNumber' })
  }
  await requireWritten(ctx, view, shardIndex, pos.entryId, 'sequenceNumber')
  const outcome = await ctx.groups.checkpoint(ref(view, group), shardIndex, input.leaseToken, input.sequenceNumber)
  if (outcome === 'lease-lost') {
    throw new ApiError('LeaseLost', `Lease ${input.leaseToken} on ${shardId} is no longer this worker's: stop processing the shard`, { field: 'leaseToken' })
  }
  if (outcome === 'backwards') {
    throw new ApiError('ValidationError', 'sequenceNumber: a checkpoint cannot move backwards', { field: 'sequenceNumber' })
  }
  return { shardId, sequenceNumber: input.sequenceNumber }
}

export async function leave(ctx: ActionContext, stream: string, group: string, workerId: string): Promise<void> {
  const view = await requireStream(ctx, stream)
  await ctx.groups.leave(ref(view, group), workerId)
}

export async function listGroups(ctx: ActionContext, stream: string): Promise<{ groups: string[] }> {
  const view = await requireStream(ctx, stream)
  return { groups: await ctx.groups.list(view.stored.name, view.stored.generation) }
}

function parts(entryId: string): { ms: number; ordinal: number } {
  const dash = entryId.indexOf('-')
  return { ms: Number(entryId.slice(0, dash)), ordinal: Number(entryId.slice(dash + 1)) }
}

/** Owners, tokens, checkpoints and lag per shard: records and ms behind the newest record. */
export async function describeGroup(ctx: ActionContext, stream: string, group: string): Promise<GroupDescription> {
  const view = await requireStream(ctx, stream)
  const state = await ctx.groups.state(ref(view, group))
  if (!state) throw new ApiError('GroupNotFound', `Consumer group ${group} of stream ${stream} not found`, { field: 'group' })
  const { stored } = view
  const now = ctx.now()
  const live = state.workers.filter((w) => w.lastHeartbeatMs >= now - state.leaseTtlMs - 1000)
  const counts = new Map<string, number>()
  const shards = await Promise.all(
    Array.from({ length: stored.shardCount }, async (_, i) => {
      const keys = shardKeys(stored.name, stored.generation, i)
      const owner = state.owners.get(i)
      if (owner) counts.set(owner.workerId, (counts.get(owner.workerId) ?? 0) + 1)
      const mark = state.checkpoints.get(i) ?? null
      const tip = parts(await ctx.shards.lastEntryId(keys))
      let lag = { records: 0, millis: 0 }
      if (tip.ordinal > 0) {
        const from = mark ? parts(entryIdFromSequenceNumber(mark)!.entryId) : null
        if (from) lag = { records: Math.max(0, tip.ordinal - from.ordinal), millis: Math.max(0, tip.ms - from.ms) }
        else {
          // No checkpoint: the group starts at TRIM_HORIZON, which includes what was archived to S3
          // and trimmed from Redis.
          let first = parts(await ctx.shards.firstEntryId(keys))
          const archived = ctx.archive ? parts(await ctx.archive.oldestEntryId(keys)) : null
          if (archived && archived.ordinal > 0 && (first.ordinal === 0 || archived.ordinal < first.ordinal)) first = archived
          lag = first.ordinal > 0 ? { records: tip.ordinal - first.ordinal + 1, millis: Math.max(0, tip.ms - first.ms) } : lag
        }
      }
      return {
        shardId: shardIdFor(i),
        owner: owner?.workerId ?? null,
        leaseToken: owner?.token ?? null,
        checkpoint: mark,
        lag,
      }
    }),
  )
  return {
    stream: stored.name,
    group,
    leaseTtlMs: state.leaseTtlMs,
    workers: live.map((w) => ({ workerId: w.workerId, lastHeartbeat: w.lastHeartbeatMs, shards: counts.get(w.workerId) ?? 0 })),
    shards,
  }
}

/** Most consumer groups a scrape describes (each costs a few Redis calls per shard). */
const MAX_GROUPS_PER_SCRAPE = 500

/** Sets the consumer-group gauges from every group's checkpoints and leases (for /metrics). */
export async function refreshGroupMetrics(ctx: ActionContext): Promise<void> {
  const rows: Array<{ stream: string; group: string; description: GroupDescription }> = []
  let after: string | undefined
  scan: for (;;) {
    const page = await ctx.catalog.list(after, 1000)
    for (const stored of page.streams) {
      for (const group of await ctx.groups.list(stored.name, stored.generation)) {
        if (rows.length >= MAX_GROUPS_PER_SCRAPE) break scan
        try {
          rows.push({ stream: stored.name, group, description: await describeGroup(ctx, stored.name, group) })
        } catch (err) {
          // Deleted between the listing and now: it simply has no series.
          if (!(err instanceof ApiError && err.status === 404)) throw err
        }
      }
    }
    if (!page.more || page.streams.length === 0) break
    after = page.streams[page.streams.length - 1]!.name
  }
  const { groupLagRecords, groupLagSeconds, groupLeasesHeld } = ctx.metrics
  groupLagRecords.reset()
  groupLagSeconds.reset()
  groupLeasesHeld.reset()
  for (const { stream, group, description } of rows) {
    groupLagRecords.set({ stream, group }, description.shards.reduce((n, s) => n + s.lag.records, 0))
    groupLagSeconds.set({ stream, group }, description.shards.reduce((m, s) => Math.max(m, s.lag.millis), 0) / 1000)
    for (const w of description.workers) groupLeasesHeld.set({ stream, group, worker: w.workerId }, w.shards)
  }
}
