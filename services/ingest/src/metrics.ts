/**
 * Prometheus metrics of one ingest app (its own registry, so several apps in one process — tests —
 * do not collide). Names `sluice_*` in base units; labels of bounded cardinality: stream, route,
 * method, status, reason, script — never a partition key.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export type RefusalReason = 'throttled' | 'invalid' | 'unavailable'

export class IngestMetrics {
  readonly registry = new Registry()

  readonly requestDuration = new Histogram({
    name: 'sluice_http_request_duration_seconds',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  })

  readonly recordsAccepted = new Counter({
    name: 'sluice_records_accepted_total',
    help: 'Records written (acknowledged with a sequence number)',
    labelNames: ['stream'] as const,
    registers: [this.registry],
  })

  readonly bytesAccepted = new Counter({
    name: 'sluice_record_bytes_accepted_total',
    help: 'Bytes of records written: data (decoded) plus partition key',
    labelNames: ['stream'] as const,
    registers: [this.registry],
  })

  readonly recordsRefused = new Counter({
    name: 'sluice_records_refused_total',
    help: "Records not acknowledged, by reason: throttled (over the shard limit, not written), archive_backlog (the shard's unarchived bytes are at their bound, not written), invalid (request refused, not written), unavailable (answered 503; written only if Redis applied it without confirming)",
    labelNames: ['stream', 'reason'] as const,
    registers: [this.registry],
  })

  readonly recordsRead = new Counter({
    name: 'sluice_records_read_total',
    help: 'Records returned by reads',
    labelNames: ['stream'] as const,
    registers: [this.registry],
  })

  readonly bytesRead = new Counter({
    name: 'sluice_record_bytes_read_total',
    help: 'Bytes of records returned by reads: data (decoded) plus partition key',
    labelNames: ['stream'] as const,
    registers: [this.registry],
  })

  readonly archiveReads = new Counter({
    name: 'sluice_archive_reads_total',
    help: 'Reads answered from the S3 archive (their records were trimmed from Redis)',
    labelNames: ['stream'] as const,
    registers: [this.registry],
  })

  readonly groupLagRecords = new Gauge({
    name: 'sluice_consumer_group_lag_records',
    help: 'Records not yet checkpointed by a consumer group, summed over the shards (as of the scrape)',
    labelNames: ['stream', 'group'] as const,
    registers: [this.registry],
  })

  readonly groupLagSeconds = new Gauge({
    name: 'sluice_consumer_group_lag_seconds',
    help: "How far a consumer group's checkpoints are behind the newest record, worst shard (as of the scrape)",
    labelNames: ['stream', 'group'] as const,
    registers: [this.registry],
  })

  readonly groupLeasesHeld = new Gauge({
    name: 'sluice_consumer_group_leases_held',
    help: 'Shards each live worker of a consumer group holds (as of the scrape)',
    labelNames: ['stream', 'group', 'worker'] as const,
    registers: [this.registry],
  })

  readonly readsThrottled = new Counter({
    name: 'sluice_reads_throttled_total',
    help: 'Reads refused by the shard read limit',
    labelNames: ['stream'] as const,
    registers: [this.registry],
  })

  readonly redisDuration = new Histogram({
    name: 'sluice_redis_operation_duration_seconds',
    help: 'Store operations against Redis (one script or command each) by operation and outcome (ok, unavailable, error)',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 3],
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' })
  }
}
