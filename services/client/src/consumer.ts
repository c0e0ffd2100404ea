/**
 * Consumer: joins a consumer group by heartbeating (every third of the lease TTL), reads the shards
 * the service gives it, and hands out batches — `for await (const batch of consumer)` or
 * `consumer.run(async (batch) => …)`. A batch is checkpointed once handled (the default), so after a
 * crash at most the records since the last checkpoint are delivered again (at-least-once). A batch
 * counts as handled when the loop asks for the next one (or run()'s handler resolved): leaving the
 * loop early (break, return, a throw), or close() while the body works on a batch, leaves that batch
 * not checkpointed — it is delivered again, to whoever owns the shard next. When a lease is
 * lost (the service gave it to another worker, or no heartbeat got through for a whole lease TTL), the
 * shard's batches' `signal` aborts and no more of that shard is delivered. Memory is bounded: each
 * shard has at most one batch waiting.
 */
import { randomUUID } from 'node:crypto'
import type { GetRecordsResponse, HeartbeatResponse } from '@sluice/protocol'
import { SluiceError } from './errors.js'
import { backoffMs, call, sleep, type Fetch, withApiKey } from './http.js'

export interface ConsumerOptions {
  endpoint: string
  stream: string
  group: string
  /** Default: a random id. */
  workerId?: string
  /** The group's lease TTL when this consumer creates the group. Default 10,000 ms. */
  leaseTtlMs?: number
  /** 'after-batch' (default): checkpoint when a batch is handled. 'manual': call batch.checkpoint(). */
  checkpoint?: 'after-batch' | 'manual'
  /** Records per read, 1–10,000. Default 1,000. */
  batchSize?: number
  /** Idle polling backs off from this to maxPollMs. Defaults 100 and 1,000 ms. */
  minPollMs?: number
  maxPollMs?: number
  signal?: AbortSignal
  fetch?: Fetch
  /** An API key (`sluice_…`), when the service requires one: sent as `Authorization: Bearer`. */
  apiKey?: string
}

export interface ConsumerRecord {
  sequenceNumber: string
  partitionKey: string
  data: Uint8Array
  /** ms since the epoch */
  approximateArrivalTimestamp: number
}

export interface Batch {
  shardId: string
  records: ConsumerRecord[]
  millisBehindLatest: number
  /** Aborted when this worker loses the shard's lease: stop working on the batch. */
  signal: AbortSignal
  /**
   * Checkpoints the batch's last record (done for you unless checkpoint is 'manual'), or with
   * `sequenceNumber` one of its records, when only the records up to it were handled. Either way the
   * shard's next batch comes after this one's last record.
   */
  checkpoint(sequenceNumber?: string): Promise<void>
}

export type ConsumerEvent =
  | { type: 'lease-acquired'; shardId: string }
  | { type: 'lease-lost'; shardId: string }
  | { type: 'checkpointed'; shardId: string; sequenceNumber: string }
  | { type: 'retrying'; what: 'heartbeat' | 'read' | 'checkpoint'; shardId?: string; error: Error; inMs: number }
  | { type: 'error'; error: Error }

interface OwnedShard {
  shardId: string
  token: string
  controller: AbortController
  /** Last sequence number checkpointed (or the group's checkpoint when the lease was acquired). */
  checkpointed: string | null
}

export class Consumer implements AsyncIterable<Batch> {
  readonly workerId: string
  private readonly o: Required<Omit<ConsumerOptions, 'signal' | 'fetch' | 'workerId' | 'apiKey'>> & { fetch: Fetch }
  private readonly stop = new AbortController()
  private readonly owned = new Map<string, OwnedShard>()
  private readonly ready: Batch[] = []
  private readonly takers: Array<(b: Batch | null) => void> = []
  private readonly listeners = new Set<(e: ConsumerEvent) => void>()
  private leaseTtlMs: number
  private loop: Promise<void> | undefined
  private pendingAutoCheckpoint: Batch | undefined
  private closing: Promise<void> | undefined
  /** Why the consumer stopped on its own (an error the service will answer again): the loop throws it. */
  private failure: Error | undefined
  /** When the last heartbeat was answered (performance.now()): a lease is not trusted a TTL past it. */
  private lastBeatAt = 0

  constructor(options: ConsumerOptions) {
    this.workerId = options.workerId ?? randomUUID()
    this.o = {
      endpoint: options.endpoint,
      stream: options.stream,
      group: options.group,
      leaseTtlMs: options.leaseTtlMs ?? 10_000,
      checkpoint: options.checkpoint ?? 'after-batch',
      batchSize: options.batchSize ?? 1000,
      minPollMs: options.minPollMs ?? 100,
      maxPollMs: options.maxPollMs ?? 1000,
      fetch: withApiKey(options.fetch ?? fetch, options.apiKey),
    }
    this.leaseTtlMs = this.o.leaseTtlMs
    options.signal?.addEventListener('abort', () => void this.close(), { once: true })
  }

  /** Status events; returns a function that removes the listener. */
  on(listener: (e: ConsumerEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** The shards this worker owns right now. */
  get shards(): string[] {
    return [...this.owned.keys()].sort()
  }

  /**
   * Batches until close() or the signal. Throws when the consumer stopped on its own (the stream was
   * deleted, the API key refused, …). Leaving the loop closes the consumer.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    this.start()
    try {
      for (;;) {
        if (this.pendingAutoCheckpoint) {
          // The loop asked for the next batch: the body finished with the previous one, it is handled.
          const b = this.pendingAutoCheckpoint
          this.pendingAutoCheckpoint = undefined
          await b.checkpoint().catch((error: Error) => this.emit({ type: 'error', error }))
        }
        const batch = await this.take()
        if (!batch) break
        if (this.o.checkpoint === 'after-batch') this.pendingAutoCheckpoint = batch
        yield batch
      }
    } finally {
      // Here without asking for the next batch (break, return, a throw in the body, close()): the
      // batch in hand was not handled, as far as anyone knows. It is not checkpointed, and the shard
      // goes to another worker, which delivers it again.
      this.pendingAutoCheckpoint = undefined
      await this.close()
    }
    if (this.failure) throw this.failure
  }

  /**
   * Hands every batch to the handler, one at a time, until close() or the signal. Rejects when the
   * handler throws (that batch is not checkpointed) or the consumer stopped on its own; either way the
   * consumer is closed.
   */
  async run(handler: (batch: Batch) => Promise<void>): Promise<void> {
    this.start()
    try {
      for (;;) {
        const batch = await this.take()
        if (!batch) break
        await handler(batch)
        if (this.o.checkpoint === 'after-batch' && !batch.signal.aborted) {
          await batch.checkpoint().catch((error: Error) => this.emit({ type: 'error', error }))
        }
      }
    } finally {
      await this.close()
    }
    if (this.failure) throw this.failure
  }

  /**
   * Leaves the group (its shards go to others at once) and stops. A batch being worked on is not
   * checkpointed (checkpoint it first, if it was handled): close() is also what a shutdown signal
   * calls, in the middle of a batch.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.pendingAutoCheckpoint = undefined
      this.stop.abort()
      for (const s of this.owned.values()) s.controller.abort()
      for (const t of this.takers.splice(0)) t(null)
      await this.loop?.catch(() => undefined)
      await call(this.o.fetch, this.o.endpoint, 'DELETE', this.groupPath(`/workers/${encodeURIComponent(this.workerId)}`)).catch(() => undefined)
    })()
    return this.closing
  }

  private groupPath(rest: string): string {
    return `/v1/streams/${encodeURIComponent(this.o.stream)}/groups/${encodeURIComponent(this.o.group)}${rest}`
  }

  private emit(e: ConsumerEvent): void {
    for (const l of this.listeners) l(e)
  }

  private start(): void {
    this.loop ??= this.heartbeatLoop()
  }

  private take(): Promise<Batch | null> {
    if (this.stop.signal.aborted) return Promise.resolve(null)
    const b = this.ready.shift()
    if (b) return Promise.resolve(b)
    return new Promise((resolve) => this.takers.push(resolve))
  }

  private deliver(b: Batch): void {
    const t = this.takers.shift()
    if (t) t(b)
    else this.ready.push(b)
  }

  private async heartbeatLoop(): Promise<void> {
    let failures = 0
    while (!this.stop.signal.aborted) {
      try {
        // A heartbeat that hangs must not hold the loop past the point where the leases expire.
        const attempt = AbortSignal.any([this.stop.signal, AbortSignal.timeout(Math.ceil(this.leaseTtlMs / 3))])
        const sentAt = performance.now()
        const answer = await call<HeartbeatResponse>(
          this.o.fetch,
          this.o.endpoint,
          'POST',
          this.groupPath(`/workers/${encodeURIComponent(this.workerId)}/heartbeat`),
          { leaseTtlMs: this.o.leaseTtlMs },
          attempt,
        )
        failures = 0
        this.lastBeatAt = sentAt
        this.leaseTtlMs = answer.body.leaseTtlMs
        this.apply(answer.body)
        await sleep(this.leaseTtlMs / 3, this.stop.signal)
      } catch (err) {
        if (this.stop.signal.aborted) return
        const error = err as Error
        if (error instanceof SluiceError && !error.retryable) {
          this.failure = error
          this.emit({ type: 'error', error })
          void this.close()
          return
        }
        // No heartbeat got through for a whole TTL: the service has given the leases away (or will
        // at any moment). Stop working on those shards now, not at the next answer.
        if (performance.now() - this.lastBeatAt >= this.leaseTtlMs) for (const id of [...this.owned.keys()]) this.lose(id)
        const inMs = Math.min(this.leaseTtlMs / 3, backoffMs(++failures, 100, 2000, (err as SluiceError).retryAfterMs))
        this.emit({ type: 'retrying', what: 'heartbeat', error, inMs })
        await sleep(inMs, this.stop.signal)
      }
    }
  }

  private apply(answer: HeartbeatResponse): void {
    // A heartbeat answered while close() runs must not start readers close() can no longer stop.
    if (this.stop.signal.aborted) return
    const now = new Map(answer.shards.map((s) => [s.shardId, s]))
    for (const [id, s] of this.owned) {
      const still = now.get(id)
      if (!still || still.leaseToken !== s.token) this.lose(id)
    }
    for (const s of answer.shards) {
      if (this.owned.has(s.shardId)) continue
      const shard: OwnedShard = { shardId: s.shardId, token: s.leaseToken, controller: new AbortController(), checkpointed: s.checkpoint }
      this.owned.set(s.shardId, shard)
      this.emit({ type: 'lease-acquired', shardId: s.shardId })
      void this.readShard(shard)
    }
  }

  private lose(shardId: string): void {
    const s = this.owned.get(shardId)
    if (!s) return
    this.owned.delete(shardId)
    s.controller.abort()
    // Batches of that shard not yet taken are dropped: another worker owns it now.
    for (let i = this.ready.length - 1; i >= 0; i--) if (this.ready[i]!.shardId === shardId) this.ready.splice(i, 1)
    this.emit({ type: 'lease-lost', shardId })
  }

  /**
   * Retried while it may still succeed (a 503, throttling, the network) and the lease is held; once
   * the lease is gone it gives up quietly: the records go to the next owner again (at-least-once).
   */
  private async checkpointShard(shard: OwnedShard, sequenceNumber: string): Promise<void> {
    const signal = shard.controller.signal
    for (let failures = 0; !signal.aborted; ) {
      if (shard.checkpointed !== null && shard.checkpointed >= sequenceNumber) return
      try {
        await call(this.o.fetch, this.o.endpoint, 'PUT', this.groupPath(`/shards/${shard.shardId}/checkpoint`), { sequenceNumber, leaseToken: shard.token }, signal)
        shard.checkpointed = sequenceNumber
        this.emit({ type: 'checkpointed', shardId: shard.shardId, sequenceNumber })
        return
      } catch (err) {
        if (signal.aborted) return
        if (err instanceof SluiceError && err.code === 'LeaseLost') {
          this.lose(shard.shardId)
          return
        }
        if (!(err instanceof SluiceError) || !err.retryable) throw err
        const inMs = backoffMs(++failures, 100, 2000, err.retryAfterMs)
        this.emit({ type: 'retrying', what: 'checkpoint', shardId: shard.shardId, error: err, inMs })
        await sleep(inMs, signal)
      }
    }
  }

  private async readShard(shard: OwnedShard): Promise<void> {
    const signal = shard.controller.signal
    const streamPath = `/v1/streams/${encodeURIComponent(this.o.stream)}/shards/${shard.shardId}/records`
    let iterator: string | undefined
    let idle = 0
    let failures = 0
    let lastDelivered = shard.checkpointed
    while (!signal.aborted) {
      const query = iterator
        ? `iterator=${encodeURIComponent(iterator)}`
        : lastDelivered
          ? `from=AFTER_SEQUENCE_NUMBER&sequenceNumber=${lastDelivered}`
          : 'from=TRIM_HORIZON'
      let page: GetRecordsResponse
      try {
        page = (await call<GetRecordsResponse>(this.o.fetch, this.o.endpoint, 'GET', `${streamPath}?${query}&limit=${this.o.batchSize}`, undefined, signal)).body
        failures = 0
      } catch (err) {
        if (signal.aborted) return
        const error = err as SluiceError
        if (error.code === 'ExpiredIterator' || error.code === 'InvalidIterator') {
          iterator = undefined
          continue
        }
        if (!(error instanceof SluiceError) || !error.retryable) {
          this.emit({ type: 'error', error })
          this.lose(shard.shardId)
          return
        }
        const inMs = backoffMs(++failures, 100, 5000, error.retryAfterMs)
        this.emit({ type: 'retrying', what: 'read', shardId: shard.shardId, error, inMs })
        await sleep(inMs, signal)
        continue
      }
      iterator = page.nextIterator
      if (page.records.length === 0) {
        await sleep(Math.min(this.o.maxPollMs, this.o.minPollMs * 2 ** Math.min(idle++, 10)), signal)
        continue
      }
      idle = 0
      const last = page.records[page.records.length - 1]!.sequenceNumber
      lastDelivered = last
      let handled!: () => void
      const done = new Promise<void>((resolve) => (handled = resolve))
      const batch: Batch = {
        shardId: shard.shardId,
        millisBehindLatest: page.millisBehindLatest,
        signal,
        records: page.records.map((r) => ({
          sequenceNumber: r.sequenceNumber,
          partitionKey: r.partitionKey,
          approximateArrivalTimestamp: r.approximateArrivalTimestamp,
          data: new Uint8Array(Buffer.from(r.data, 'base64')),
        })),
        checkpoint: async (upTo?: string) => {
          // A mistaken argument leaves the batch unhandled: the caller can still checkpoint it right.
          if (upTo !== undefined && !page.records.some((r) => r.sequenceNumber === upTo)) {
            throw new RangeError(`checkpoint(${upTo}): not a sequence number of this batch`)
          }
          try {
            if (!signal.aborted) await this.checkpointShard(shard, upTo ?? last)
          } finally {
            handled()
          }
        },
      }
      this.deliver(batch)
      // One batch per shard at a time: the next read waits until this one is handled (or the lease
      // is lost). The abort listener goes once the batch is handled: the signal lives as long as the
      // lease, and a listener per batch would pile up (a leak, and Node's MaxListeners warning).
      let onAbort: (() => void) | undefined
      await Promise.race([done, new Promise<void>((resolve) => signal.addEventListener('abort', (onAbort = () => resolve()), { once: true }))])
      if (onAbort) signal.removeEventListener('abort', onAbort)
    }
  }
}
