/**
 * A short-lived, per-process cache of stream descriptions, so the put path does not read the catalog
 * on every request. It is safe to be stale: every shard script checks that the shard's state key still
 * exists and answers "gone" otherwise, and callers then invalidate and reload. Routing data (shard
 * count, hash ranges) never changes for a given stream generation.
 */
import { evenHashKeyRanges, type HashKeyRange } from '@sluice/protocol'
import type { StoreStreamCatalog, StoredStream } from './store-types.js'

export interface StreamView {
  stored: StoredStream
  ranges: HashKeyRange[]
}

interface Entry {
  view: StreamView
  fetchedAtMs: number
}

const MAX_ENTRIES = 10_000

export class StreamDirectory {
  private readonly entries = new Map<string, Entry>()

  constructor(
    private readonly catalog: StoreStreamCatalog,
    private readonly ttlMs = 1000,
  ) {}

  async get(name: string): Promise<StreamView | null> {
    const now = Date.now()
    const hit = this.entries.get(name)
    if (hit && now - hit.fetchedAtMs < this.ttlMs) return hit.view
    const stored = await this.catalog.get(name)
    if (!stored) {
      this.entries.delete(name)
      return null
    }
    return this.remember(stored, now)
  }

  /** Reads the catalog again, bypassing the cache. */
  async reload(name: string): Promise<StreamView | null> {
    this.entries.delete(name)
    return this.get(name)
  }

  remember(stored: StoredStream, now = Date.now()): StreamView {
    const hit = this.entries.get(stored.name)
    const view =
      hit && hit.view.stored.generation === stored.generation
        ? { stored, ranges: hit.view.ranges }
        : { stored, ranges: evenHashKeyRanges(stored.shardCount) }
    if (this.entries.size >= MAX_ENTRIES) this.evictExpired(now)
    this.entries.set(stored.name, { view, fetchedAtMs: now })
    return view
  }

  invalidate(name: string): void {
    this.entries.delete(name)
  }

  private evictExpired(now: number): void {
    for (const [name, e] of this.entries) if (now - e.fetchedAtMs >= this.ttlMs) this.entries.delete(name)
    // Still full of fresh entries: drop the oldest third rather than grow without bound.
    if (this.entries.size >= MAX_ENTRIES) {
      let drop = Math.ceil(this.entries.size / 3)
      for (const name of this.entries.keys()) {
        if (drop-- <= 0) break
        this.entries.delete(name)
      }
    }
  }
}
