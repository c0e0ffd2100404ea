/**
 * SluiceClient: one typed method per REST call that is not a put or a consumer-group read — the
 * control plane (streams, API keys), single shard reads and a group's state. Each call is one request:
 * no retries here (Producer and Consumer retry; a command-line tool reports). Errors are SluiceError
 * with the API's code, or `NetworkError` when the service cannot be reached.
 */
import type {
  CreateApiKeyRequest,
  CreateStreamRequest,
  CreatedApiKey,
  GetRecordsResponse,
  GroupDescription,
  ListApiKeysResponse,
  ListStreamsResponse,
  PutRecordEntry,
  PutRecordsResponse,
  StartingPosition,
  StreamDescription,
  StreamSummary,
} from '@sluice/protocol'
import { call, type Fetch, withApiKey } from './http.js'

export interface SluiceClientOptions {
  /** e.g. http://127.0.0.1:4600 */
  endpoint: string
  /** An API key (`sluice_…`), when the service requires one: sent as `Authorization: Bearer`. */
  apiKey?: string
  fetch?: Fetch
}

/** Where a read starts: a position (with its sequence number or timestamp), or a previous answer's iterator. */
export type ReadFrom =
  | { from: 'TRIM_HORIZON' | 'LATEST' }
  | { from: 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER'; sequenceNumber: string }
  | { from: 'AT_TIMESTAMP'; timestamp: number | string }
  | { iterator: string }

export type { StartingPosition }

const segment = encodeURIComponent

export class SluiceClient {
  private readonly endpoint: string
  private readonly fetch: Fetch

  constructor(options: SluiceClientOptions) {
    this.endpoint = options.endpoint
    this.fetch = withApiKey(options.fetch ?? fetch, options.apiKey)
  }

  private async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return (await call<T>(this.fetch, this.endpoint, method, path, body, signal)).body
  }

  /**
   * One PutRecords request, as it is: each record acknowledged or failed in the answer, no retries
   * (the Producer batches and retries). All records throttled is the answer too (the 429's body),
   * with `retryAfterMs`.
   */
  async putRecords(stream: string, records: PutRecordEntry[], signal?: AbortSignal): Promise<{ answer: PutRecordsResponse; retryAfterMs: number | undefined }> {
    const a = await call<PutRecordsResponse>(this.fetch, this.endpoint, 'POST', `/v1/streams/${encodeURIComponent(stream)}/records`, { records }, signal, [429])
    return { answer: a.body, retryAfterMs: a.retryAfterMs }
  }

  createStream(input: CreateStreamRequest, signal?: AbortSignal): Promise<StreamDescription> {
    return this.request('POST', '/v1/streams', input, signal)
  }

  /** One page of streams in name order; pass the answer's `next` for the following one. */
  listStreams(page: { limit?: number; next?: string } = {}, signal?: AbortSignal): Promise<ListStreamsResponse> {
    const query = new URLSearchParams()
    if (page.limit !== undefined) query.set('limit', String(page.limit))
    if (page.next !== undefined) query.set('next', page.next)
    const q = query.toString()
    return this.request('GET', `/v1/streams${q ? `?${q}` : ''}`, undefined, signal)
  }

  /** Every stream, following the pages. */
  async *allStreams(signal?: AbortSignal): AsyncGenerator<StreamSummary> {
    let next: string | undefined
    do {
      const page = await this.listStreams({ limit: 1000, ...(next !== undefined ? { next } : {}) }, signal)
      yield* page.streams
      next = page.next
    } while (next !== undefined)
  }

  describeStream(name: string, signal?: AbortSignal): Promise<StreamDescription> {
    return this.request('GET', `/v1/streams/${segment(name)}`, undefined, signal)
  }

  async deleteStream(name: string, signal?: AbortSignal): Promise<void> {
    await this.request('DELETE', `/v1/streams/${segment(name)}`, undefined, signal)
  }

  /** One read of one shard (costs one of the shard's read tokens; 429 ProvisionedThroughputExceeded when none is left). */
  getRecords(stream: string, shardId: string, position: ReadFrom, limit?: number, signal?: AbortSignal): Promise<GetRecordsResponse> {
    const query = new URLSearchParams()
    if ('iterator' in position) query.set('iterator', position.iterator)
    else {
      query.set('from', position.from)
      if ('sequenceNumber' in position) query.set('sequenceNumber', position.sequenceNumber)
      if ('timestamp' in position) query.set('timestamp', String(position.timestamp))
    }
    if (limit !== undefined) query.set('limit', String(limit))
    return this.request('GET', `/v1/streams/${segment(stream)}/shards/${segment(shardId)}/records?${query}`, undefined, signal)
  }

  /** Workers, owners, checkpoints and lag per shard. */
  describeGroup(stream: string, group: string, signal?: AbortSignal): Promise<GroupDescription> {
    return this.request('GET', `/v1/streams/${segment(stream)}/groups/${segment(group)}`, undefined, signal)
  }

  listGroups(stream: string, signal?: AbortSignal): Promise<{ groups: string[] }> {
    return this.request('GET', `/v1/streams/${segment(stream)}/groups`, undefined, signal)
  }

  /** Needs `admin:*`. The answer's token is shown this once. */
  createApiKey(input: CreateApiKeyRequest, signal?: AbortSignal): Promise<CreatedApiKey> {
    return this.request('POST', '/v1/keys', input, signal)
  }

  listApiKeys(signal?: AbortSignal): Promise<ListApiKeysResponse> {
    return this.request('GET', '/v1/keys', undefined, signal)
  }

  async revokeApiKey(id: string, signal?: AbortSignal): Promise<void> {
    await this.request('DELETE', `/v1/keys/${segment(id)}`, undefined, signal)
  }
}
