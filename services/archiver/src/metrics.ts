/** The archiver's Prometheus metrics (its own registry, served on /metrics). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export class ArchiverMetrics {
  readonly registry = new Registry()
  readonly objects = new Counter({ name: 'sluice_archiver_objects_total', help: 'Objects written to S3 and committed', labelNames: ['stream'] as const, registers: [this.registry] })
  readonly records = new Counter({ name: 'sluice_archiver_records_total', help: 'Records archived to S3', labelNames: ['stream'] as const, registers: [this.registry] })
  readonly bytes = new Counter({
    name: 'sluice_archiver_bytes_total',
    help: 'Record bytes archived (data decoded + partition key, as puts count them)',
    labelNames: ['stream'] as const,
    registers: [this.registry],
  })
  readonly compressedBytes = new Counter({
    name: 'sluice_archiver_compressed_bytes_total',
    help: 'Bytes of the gzip objects written to S3',
    labelNames: ['stream'] as const,
    registers: [this.registry],
  })
  readonly trimmed = new Counter({
    name: 'sluice_archiver_trimmed_records_total',
    help: 'Archived records trimmed from Redis (outside the hot window)',
    labelNames: ['stream'] as const,
    registers: [this.registry],
  })
  readonly expired = new Counter({
    name: 'sluice_archiver_expired_objects_total',
    help: "Objects deleted from S3 because all their records are past the stream's retention",
    labelNames: ['stream'] as const,
    registers: [this.registry],
  })
  readonly s3Errors = new Counter({ name: 'sluice_archiver_s3_errors_total', help: 'S3 calls that failed (retried later)', labelNames: ['operation'] as const, registers: [this.registry] })
  readonly uploadSeconds = new Histogram({
    name: 'sluice_archiver_upload_seconds',
    help: 'Time to PUT and verify one object',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })
  readonly backlogSeconds = new Gauge({
    name: 'sluice_archiver_backlog_seconds',
    help: "Age of the shard's oldest record not yet archived (0: nothing waiting), as of the last pass",
    labelNames: ['stream', 'shard'] as const,
    registers: [this.registry],
  })
  readonly backlogBytes = new Gauge({
    name: 'sluice_archiver_backlog_bytes',
    help: "Bytes written to the shard and not archived yet (data decoded + partition key), as of the archiver's last look at the shard",
    labelNames: ['stream', 'shard'] as const,
    registers: [this.registry],
  })
  readonly leasesHeld = new Gauge({ name: 'sluice_archiver_leases_held', help: 'Shards this archiver holds the lease of', registers: [this.registry] })

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'sluice_archiver_' })
  }
}
