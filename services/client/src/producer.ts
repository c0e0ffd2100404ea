/**
 * Producer: `put(partitionKey, data)` resolves with the record's shard and sequence number once the
 * service acknowledged it. Records are batched (by linger time, 500 records, 5 MiB), throttled and
 * failed records are retried with jittered backoff that honours Retry-After, records of one partition
 * key keep their order across retries, and a full buffer makes `put` wait (backpressure reaches the
 * caller; memory stays bounded).
 *
 * At-least-once: when an answer is lost (network failure, or a 503 saying the outcome is unknown), the
 * records are sent again and may be stored twice.
 */
import { MAX_PARTITION_KEY_LENGTH, MAX_PUT_PAYLOAD_BYTES, MAX_RECORDS_PER_PUT, MAX_RECORD_DATA_BYTES, type PutRecordsResponse } from '@sluice/protocol'
import { ClosedError, SluiceError } from './errors.js'
import { backoffMs, call, sleep, type Fetch, withApiKey } from './http.js'

export interface ProducerOptions {
  /** e.g. http://127.0.0.1:4600 */
  endpoint: string
  stream: string
  /** How long a record may wait for others to share its request. Default 20 ms. */
  lingerMs?: number
  /** Records per request, 1–500. Default 500. */
  maxBatchRecords?: number
  /** Most records waiting or in flight; beyond it `put` waits. Default 10,000. */
  maxBufferedRecords?: number
  /** Most bytes (data + keys) waiting or in flight; beyond it `put` waits. Default 32 MiB. */
  maxBufferedBytes?: number
  /** Requests in flight at once. Default 4. */
  maxInFlight?: number
  /** Backoff between retries: base and cap in ms. Defaults 100 and 5,000. */
  retryBaseMs?: number
  retryMaxMs?: number
  /** Aborting it fails every record not yet acknowledged. */
  signal?: AbortSignal
  fetch?: Fetch
  /** An API key (`sluice_…`), when the service requires one: sent as `Authorization: Bearer`. */
  apiKey?: string
}

export interface PutResult {
  shardId: string
  sequenceNumber: string
}

/**
 * Status events. `retrying`: records of one request go back to the buffer — `throttled` of them
 * refused with ProvisionedThroughputExceeded, the rest failed otherwise (`error` when the whole request
 * failed: network, 503, 429) — and sending resumes in `inMs`.
 */
export type ProducerEvent = { type: 'retrying'; records: number; throttled: number; error?: Error; inMs: number }

interface Pending {
  partitionKey: string
  data: string
  size: number
  attempts: number
  /** Refused by its shard's limit: not sent again before this (Date.now() ms); its key's later records wait too. */
  notBefore: number
  resolve(r: PutResult): void
  reject(e: Error): void
}

function codePoints(text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

function toBase64(data: Uint8Array | string): string {
  return typeof data === 'string' ? Buffer.from(data, 'utf8').toString('base64') : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')
}

export class Producer {
  private readonly o: Required<Omit<ProducerOptions, 'signal' | 'fetch' | 'apiKey'>> & { fetch: Fetch }
  private readonly signal: AbortSignal | undefined
  /** Not yet sent (or sent and put back for a retry), in put order. */
  private queue: Pending[] = []
  /** Keys with a record in a request right now: their later records wait. */
  private readonly inFlightKeys = new Set<string>()
  private inFlight = 0
  private bufferedCount = 0
  private bufferedBytes = 0
  private lingerTimer: NodeJS.Timeout | undefined
  /** Whole requests failed (network, 503): nothing is sent before this. */
  private retryAt = 0
  /** The earliest time a record held back by its shard's limit may go again (0: none is). */
  private deferredUntil = 0
  private deferTimer: NodeJS.Timeout | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private closed = false
  /** close() was called: new puts are refused, those already waiting for space still go in. */
  private closing = false
  /** put() calls waiting for space: not buffered yet, but flush() and close() wait for them too. */
  private waitingPuts = 0
  /** Puts let in (their space counted) that have not reached the queue yet: later puts wait for them. */
  private letInNotQueued = 0
  private pumpScheduled = false
  private forceSend = false
  /** put() calls waiting for space, in call order; `let(true)` lets one in, `let(false)` refuses it. */
  private readonly spaceWaiters: Array<{ size: number; let: (admitted: boolean) => void }> = []
  private readonly idleWaiters: Array<() => void> = []
  private readonly listeners = new Set<(e: ProducerEvent) => void>()

  constructor(options: ProducerOptions) {
    this.o = {
      endpoint: options.endpoint,
      stream: options.stream,
      lingerMs: options.lingerMs ?? 20,
      maxBatchRecords: Math.min(MAX_RECORDS_PER_PUT, Math.max(1, options.maxBatchRecords ?? MAX_RECORDS_PER_PUT)),
      maxBufferedRecords: options.maxBufferedRecords ?? 10_000,
      maxBufferedBytes: options.maxBufferedBytes ?? 32 * 1024 * 1024,
      maxInFlight: options.maxInFlight ?? 4,
      retryBaseMs: options.retryBaseMs ?? 100,
      retryMaxMs: options.retryMaxMs ?? 5000,
      fetch: withApiKey(options.fetch ?? fetch, options.apiKey),
    }
    this.signal = options.signal
    this.signal?.addEventListener('abort', () => this.failAll(new Error('producer aborted', { cause: this.signal?.reason })), { once: true })
  }

  /** Status events; returns a function that removes the listener. */
  on(listener: (e: ProducerEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Records waiting or in flight (never more than maxBufferedRecords). */
  get buffered(): number {
    return this.bufferedCount
  }

  /** Resolves when the record is acknowledged; waits first while the buffer is full. */
  async put(partitionKey: string, data: Uint8Array | string): Promise<PutResult> {
    if (this.closing || this.closed || this.signal?.aborted) throw new ClosedError('producer')
    // Characters as the service counts them: code points, not UTF-16 units.
    const keyLength = codePoints(partitionKey)
    if (keyLength < 1 || keyLength > MAX_PARTITION_KEY_LENGTH) {
      throw new SluiceError(400, 'ValidationError', `partitionKey: must be 1 to ${MAX_PARTITION_KEY_LENGTH} characters`, 'partitionKey')
    }
    const b64 = toBase64(data)
    const dataBytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength
    if (dataBytes > MAX_RECORD_DATA_BYTES) throw new SluiceError(400, 'ValidationError', `data: at most ${MAX_RECORD_DATA_BYTES} bytes`, 'data')
    const size = dataBytes + Buffer.byteLength(partitionKey)
    // First come, first served: a put waits while others wait, even if it would fit (otherwise a small
    // record put later would overtake a large one of the same key). A waiter is let in with its space
    // already counted (admitWaiters), so the next one's turn is judged right.
    let admitted = false
    if (this.spaceWaiters.length > 0 || this.letInNotQueued > 0 || !this.fits(size)) {
      this.waitingPuts++
      try {
        admitted = await new Promise<boolean>((resolve) => this.spaceWaiters.push({ size, let: resolve }))
      } finally {
        this.waitingPuts--
      }
      if (admitted) this.letInNotQueued--
      if (!admitted || this.closed || this.signal?.aborted) {
        if (admitted) this.release(size)
        this.wakeIdle()
        throw new ClosedError('producer')
      }
    }
    return new Promise<PutResult>((resolve, reject) => {
      this.queue.push({ partitionKey, data: b64, size, attempts: 0, notBefore: 0, resolve, reject })
      if (!admitted) {
        this.bufferedCount++
        this.bufferedBytes += size
      } else if (this.letInNotQueued === 0) {
        // The last of those let in is queued: puts that came meanwhile may follow now.
        this.admitWaiters()
      }
      // flush() or close() waiting for this put: send it without lingering.
      this.schedule(this.idleWaiters.length > 0)
    })
  }

  /** Resolves when every record put so far (including puts still waiting for space) is acknowledged or failed. */
  async flush(): Promise<void> {
    if (this.idle()) return
    this.schedule(true)
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  /** Refuses new records, then flushes: every record put before close() is acknowledged or failed. */
  async close(): Promise<void> {
    this.closing = true
    await this.flush()
    this.closed = true
    for (const w of this.spaceWaiters.splice(0)) w.let(false)
  }

  private fits(size: number): boolean {
    return this.bufferedCount < this.o.maxBufferedRecords && (this.bufferedCount === 0 || this.bufferedBytes + size <= this.o.maxBufferedBytes)
  }

  /** Lets waiting puts in, in order, while the first one fits; their space is counted at once. */
  private admitWaiters(): void {
    while (this.spaceWaiters.length > 0 && this.fits(this.spaceWaiters[0]!.size)) {
      const w = this.spaceWaiters.shift()!
      this.bufferedCount++
      this.bufferedBytes += w.size
      this.letInNotQueued++
      w.let(true)
    }
  }

  private release(size: number): void {
    this.bufferedCount--
    this.bufferedBytes -= size
  }

  private idle(): boolean {
    return this.bufferedCount === 0 && this.waitingPuts === 0
  }

  private wakeIdle(): void {
    if (this.idle()) for (const w of this.idleWaiters.splice(0)) w()
  }

  /**
   * Sends what can go now. Calls within one tick are coalesced (put() may be called thousands of
   * times in a row), so the queue is scanned once per tick, not once per record.
   */
  private schedule(now = false): void {
    if (now) this.forceSend = true
    if (this.pumpScheduled) return
    this.pumpScheduled = true
    setImmediate(() => {
      this.pumpScheduled = false
      this.pump()
    })
  }

  private pump(): void {
    if (this.retryTimer) return
    const wait = this.retryAt - Date.now()
    if (wait > 0) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined
        this.schedule(true)
      }, wait)
      return
    }
    const full = this.queue.length >= this.o.maxBatchRecords
    if (this.forceSend || full || this.o.lingerMs === 0) {
      this.forceSend = false
      if (this.lingerTimer) clearTimeout(this.lingerTimer)
      this.lingerTimer = undefined
      while (this.inFlight < this.o.maxInFlight && this.sendBatch()) {
        // keep filling the in-flight slots
      }
      // What is left waits for its shard's backoff (or for its key's request in flight, whose answer
      // pumps again): wake up when the first backoff ends.
      if (this.deferTimer) clearTimeout(this.deferTimer)
      this.deferTimer = undefined
      if (this.inFlight < this.o.maxInFlight && this.deferredUntil > Date.now()) {
        this.deferTimer = setTimeout(() => {
          this.deferTimer = undefined
          this.schedule(true)
        }, this.deferredUntil - Date.now())
        return
      }
    }
    if (!this.lingerTimer && this.queue.length > 0) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined
        this.schedule(true)
      }, this.o.lingerMs)
    }
  }

  /** Takes the next batch, keeping each key's order; false if nothing can be sent now. */
  private sendBatch(): boolean {
    const batch: Pending[] = []
    const waiting: Pending[] = []
    const blocked = new Set<string>()
    let bytes = 0
    const now = Date.now()
    this.deferredUntil = 0
    // Look at a bounded window: records beyond it keep their place (and so their key order).
    const window = Math.min(this.queue.length, this.o.maxBatchRecords * 10)
    for (let i = 0; i < window; i++) {
      const p = this.queue[i]!
      const deferred = p.notBefore > now
      if (deferred && (this.deferredUntil === 0 || p.notBefore < this.deferredUntil)) this.deferredUntil = p.notBefore
      const blockedKey = deferred || this.inFlightKeys.has(p.partitionKey) || blocked.has(p.partitionKey)
      const fits = batch.length < this.o.maxBatchRecords && bytes + p.size <= MAX_PUT_PAYLOAD_BYTES
      if (!blockedKey && fits) {
        batch.push(p)
        bytes += p.size
      } else {
        // Once a key's record waits, its later records wait too: order per key is kept.
        blocked.add(p.partitionKey)
        waiting.push(p)
      }
    }
    if (batch.length === 0) return false
    this.queue = window === this.queue.length ? waiting : waiting.concat(this.queue.slice(window))
    for (const p of batch) this.inFlightKeys.add(p.partitionKey)
    this.inFlight++
    void this.send(batch)
    return true
  }

  private async send(batch: Pending[]): Promise<void> {
    let retry: Pending[] = []
    let retryAfterMs: number | undefined
    let throttled = 0
    let failure: Error | undefined
    try {
      const answer = await call<PutRecordsResponse>(
        this.o.fetch,
        this.o.endpoint,
        'POST',
        `/v1/streams/${encodeURIComponent(this.o.stream)}/records`,
        { records: batch.map((p) => ({ partitionKey: p.partitionKey, data: p.data })) },
        this.signal,
        [429],
      )
      retryAfterMs = answer.retryAfterMs
      answer.body.records.forEach((r, i) => {
        const p = batch[i]!
        if ('sequenceNumber' in r) this.settle(p, () => p.resolve({ shardId: r.shardId, sequenceNumber: r.sequenceNumber }))
        else {
          retry.push(p)
          if (r.errorCode === 'ProvisionedThroughputExceeded') throttled++
        }
      })
    } catch (err) {
      if (err instanceof SluiceError && err.retryable) {
        retry = batch
        retryAfterMs = err.retryAfterMs
        failure = err
        if (err.status === 429) throttled = batch.length
      } else {
        for (const p of batch) this.settle(p, () => p.reject(err as Error))
      }
    }
    for (const p of batch) this.inFlightKeys.delete(p.partitionKey)
    this.inFlight--
    if (retry.length) {
      // Back to the front, in their order: they precede every later record of their keys.
      const attempt = Math.max(...retry.map((p) => ++p.attempts))
      this.queue = [...retry, ...this.queue]
      const now = Date.now()
      const until = now + backoffMs(attempt, this.o.retryBaseMs, this.o.retryMaxMs, retryAfterMs)
      // The whole request failed (network, 503): the service itself is struggling, so
      // everything waits. Records refused one by one were refused by their own shards' limits: only
      // they (and their keys' later records) wait; records for other shards go on.
      if (failure) this.retryAt = Math.max(this.retryAt, until)
      else for (const p of retry) p.notBefore = until
      const event: ProducerEvent = { type: 'retrying', records: retry.length, throttled, inMs: until - now, ...(failure ? { error: failure } : {}) }
      for (const l of this.listeners) l(event)
    }
    this.wakeIdle()
    this.schedule(this.queue.length > 0)
  }

  private settle(p: Pending, finish: () => void): void {
    this.release(p.size)
    finish()
    this.admitWaiters()
  }

  private failAll(err: Error): void {
    for (const p of this.queue.splice(0)) this.settle(p, () => p.reject(err))
    if (this.lingerTimer) clearTimeout(this.lingerTimer)
    if (this.retryTimer) clearTimeout(this.retryTimer)
    if (this.deferTimer) clearTimeout(this.deferTimer)
    for (const w of this.spaceWaiters.splice(0)) w.let(false)
    this.wakeIdle()
  }
}

