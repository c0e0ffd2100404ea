/**
 * `sluice put`'s progress bar (stderr, only when it is a terminal) and its closing summary line.
 * Rates count acknowledged records, so they show what the service took, not what was read.
 */
import cliProgress from 'cli-progress'
import { formatCount } from './table.js'

export interface PutStats {
  /** Records read from the input (not blank, not too long). */
  read: number
  /** Bytes of input consumed, for the bar's percentage when the input is a file. */
  inputBytes: number
  acked: number
  /** Data plus partition-key bytes of the acknowledged records. */
  ackedBytes: number
  failed: number
  /** Records sent again (after a throttle, a 503 or a network failure). */
  retried: number
  /** Of those, the ones the service throttled. */
  throttled: number
}

export function newPutStats(): PutStats {
  return { read: 0, inputBytes: 0, acked: 0, ackedBytes: 0, failed: 0, retried: 0, throttled: 0 }
}

const MB = 1_000_000

function rates(stats: PutStats, elapsedMs: number): { recordsPerSecond: string; mbPerSecond: string } {
  const seconds = Math.max(elapsedMs, 1) / 1000
  return { recordsPerSecond: formatCount(stats.acked / seconds), mbPerSecond: (stats.ackedBytes / MB / seconds).toFixed(2) }
}

export class PutProgress {
  private readonly bar: cliProgress.SingleBar
  private readonly timer: NodeJS.Timeout
  private readonly startedAt = Date.now()

  /** `totalBytes`: the input file's size, for a bar with a percentage; undefined for stdin. */
  constructor(
    stream: NodeJS.WriteStream,
    private readonly stats: PutStats,
    private readonly totalBytes: number | undefined,
  ) {
    const counters = '{acked} acked | {rate} rec/s | {mbps} MB/s | retries {retried} | throttled {throttled} | failed {failed}'
    this.bar = new cliProgress.SingleBar({
      stream,
      format: totalBytes === undefined ? `put ${counters}` : `put [{bar}] {percentage}% | ${counters}`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      fps: 5,
    })
    this.bar.start(totalBytes ?? 0, 0, this.payload())
    this.timer = setInterval(() => this.render(), 200)
    this.timer.unref()
  }

  private payload(): Record<string, string> {
    const { recordsPerSecond, mbPerSecond } = rates(this.stats, Date.now() - this.startedAt)
    return {
      acked: formatCount(this.stats.acked),
      rate: recordsPerSecond,
      mbps: mbPerSecond,
      retried: formatCount(this.stats.retried),
      throttled: formatCount(this.stats.throttled),
      failed: formatCount(this.stats.failed),
    }
  }

  private render(): void {
    this.bar.update(this.totalBytes === undefined ? 0 : Math.min(this.stats.inputBytes, this.totalBytes), this.payload())
  }

  /** Removes the bar (the summary line takes its place). */
  stop(): void {
    clearInterval(this.timer)
    this.render()
    this.bar.stop()
  }
}

/** e.g. `put 10,000 of 10,002 records (1.20 MB) to orders in 3.4 s: 2,941 records/s, 0.35 MB/s; 120 retried (120 throttled); 2 failed` */
export function putSummary(stream: string, stats: PutStats, elapsedMs: number, interrupted: boolean): string {
  const { recordsPerSecond, mbPerSecond } = rates(stats, elapsedMs)
  return (
    `${interrupted ? 'interrupted: ' : ''}put ${formatCount(stats.acked)} of ${formatCount(stats.read)} records ` +
    `(${(stats.ackedBytes / MB).toFixed(2)} MB) to ${stream} in ${(elapsedMs / 1000).toFixed(1)} s: ` +
    `${recordsPerSecond} records/s, ${mbPerSecond} MB/s; ${formatCount(stats.retried)} retried (${formatCount(stats.throttled)} throttled); ` +
    `${formatCount(stats.failed)} ${interrupted ? 'not put' : 'failed'}`
  )
}
