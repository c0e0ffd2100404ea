/**
 * `sluice tail --stream S`: every shard, followed, one JSON line per record on stdout (see
 * record-format.ts). Without --group each shard is read from a starting position with the REST read
 * API; with --group the SDK's Consumer takes leases in the group and checkpoints each batch once its
 * records are printed, so the next `tail --group` of the same group goes on after them.
 * Ctrl-C or SIGTERM stops it cleanly (exit 0): with --group it checkpoints and leaves the group.
 */
import { Option, type Command } from 'commander'
import { Consumer, SluiceError, type ReadFrom } from '@sluice/client'
import type { CliContext, RunCommand } from '../context.js'
import { UsageError, type ExitCodeValue } from '../errors.js'
import { timestamp, wholeNumber } from '../options.js'
import { formatRecord, type DataEncoding } from '../record-format.js'


interface TailOptions {
  stream: string
  from?: 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP'
  timestamp?: string
  group?: string
  max?: number
  follow: boolean
  encoding: DataEncoding
}

/** Records asked for per read. */
const READ_LIMIT = 1000
/** An idle shard is polled again after 200 ms, backing off to 1 s. */
const IDLE_MIN_MS = 200
const IDLE_MAX_MS = 1000
/** How long a stop may take to checkpoint and leave the group before the process exits anyway. */
const CLOSE_TIMEOUT_MS = 5000

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

function startPosition(o: TailOptions): ReadFrom {
  const from = o.from ?? (o.timestamp !== undefined ? 'AT_TIMESTAMP' : 'LATEST')
  if (from === 'AT_TIMESTAMP') {
    if (o.timestamp === undefined) throw new UsageError('--from AT_TIMESTAMP needs --timestamp')
    return { from, timestamp: o.timestamp }
  }
  if (o.timestamp !== undefined) throw new UsageError(`--timestamp goes with --from AT_TIMESTAMP, not ${from}`)
  return { from }
}

/** Counts printed records against --max and stops everything once it is reached or stdout is gone. */
class Printer {
  private printed = 0
  constructor(
    private readonly ctx: CliContext,
    private readonly max: number | undefined,
    private readonly encoding: DataEncoding,
    private readonly stop: AbortController,
  ) {}

  /** How many more may be printed. */
  get room(): number {
    return this.max === undefined ? Number.POSITIVE_INFINITY : this.max - this.printed
  }

  /**
   * Prints the record unless --max is reached. Shards are followed concurrently: the count is taken
   * before the write yields, so two shards can never print past --max together.
   */
  async print(shardId: string, r: { sequenceNumber: string; partitionKey: string; approximateArrivalTimestamp: number }, bytes: Uint8Array): Promise<boolean> {
    if (this.room <= 0 || this.ctx.out.closed) return false
    this.printed++
    if (this.room <= 0) this.stop.abort()
    await this.ctx.out.line(formatRecord(shardId, r, bytes, this.encoding))
    if (this.ctx.out.closed) this.stop.abort()
    return true
  }
}

async function tailShards(ctx: CliContext, o: TailOptions, shardIds: string[], printer: Printer, stop: AbortController): Promise<void> {
  const start = startPosition(o)
  let fatal: unknown
  const followShard = async (shardId: string): Promise<void> => {
    let position: ReadFrom = start
    let lastSequenceNumber: string | undefined
    let idle = 0
    let failures = 0
    while (!stop.signal.aborted) {
      let page
      try {
        page = await ctx.client.getRecords(o.stream, shardId, position, READ_LIMIT, stop.signal)
        failures = 0
      } catch (err) {
        if (stop.signal.aborted) return
        if (err instanceof SluiceError && (err.code === 'ExpiredIterator' || err.code === 'InvalidIterator')) {
          // Iterators live 5 minutes: start again just after the last record printed.
          position = lastSequenceNumber ? { from: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: lastSequenceNumber } : start
          continue
        }
        if (err instanceof SluiceError && err.retryable) {
          // Throttled (5 reads a second per shard by default), unavailable or unreachable: wait and retry.
          const exp = Math.min(5000, 100 * 2 ** Math.min(++failures, 10))
          await sleep(Math.max(err.retryAfterMs ?? 0, Math.random() * exp), stop.signal)
          continue
        }
        fatal ??= err
        stop.abort()
        return
      }
      for (const r of page.records) {
        if (stop.signal.aborted || !(await printer.print(shardId, r, Buffer.from(r.data, 'base64')))) return
        lastSequenceNumber = r.sequenceNumber
      }
      position = { iterator: page.nextIterator }
      if (page.records.length > 0) {
        idle = 0
      } else if (page.millisBehindLatest === 0) {
        if (!o.follow) return
        await sleep(Math.min(IDLE_MAX_MS, IDLE_MIN_MS * 2 ** idle++), stop.signal)
      }
    }
  }
  await Promise.all(shardIds.map(followShard))
  if (fatal !== undefined) throw fatal
}

async function tailGroup(ctx: CliContext, o: TailOptions & { group: string }, printer: Printer, stop: AbortController): Promise<void> {
  const consumer = new Consumer({
    endpoint: ctx.endpoint,
    stream: o.stream,
    group: o.group,
    fetch: ctx.fetch,
    checkpoint: 'manual',
    // With --max, a read never takes more than can be printed, so checkpoints stay exact.
    batchSize: Math.min(READ_LIMIT, o.max ?? READ_LIMIT),
    ...(ctx.apiKey ? { apiKey: ctx.apiKey } : {}),
  })
  let fatal: unknown
  consumer.on((e) => {
    // The Consumer retries what can be retried; what it reports as an error (no such stream, no
    // access, a read refused) will not get better by waiting.
    if (e.type === 'error' && fatal === undefined) {
      fatal = e.error
      stop.abort()
    }
  })
  const stopped = new Promise<null>((resolve) => stop.signal.addEventListener('abort', () => resolve(null), { once: true }))
  const batches = consumer[Symbol.asyncIterator]()
  try {
    while (!stop.signal.aborted) {
      const next = await Promise.race([batches.next(), stopped])
      if (next === null || next.done) break
      const batch = next.value
      let take = 0
      for (const r of batch.records) {
        if (ctx.interrupted.aborted || !(await printer.print(batch.shardId, r, r.data))) break
        take++
      }
      if (take === 0) break
      // Printed (handed to stdout) before checkpointed: a crash in between shows records again, never skips them.
      await ctx.out.flush()
      if (!ctx.out.closed) await batch.checkpoint(take < batch.records.length ? batch.records[take - 1]!.sequenceNumber : undefined)
    }
  } finally {
    await Promise.race([consumer.close(), new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref())])
  }
  if (fatal !== undefined) throw fatal
}

async function tail(ctx: CliContext, o: TailOptions): Promise<void> {
  if (o.group !== undefined && (o.from !== undefined || o.timestamp !== undefined)) {
    throw new UsageError("--group starts where the group's checkpoints are (a new group: TRIM_HORIZON); --from and --timestamp are for reads without it")
  }
  if (o.group !== undefined && !o.follow) throw new UsageError('--no-follow is for reads without --group (use --max to stop a group read)')
  if (o.group === undefined) startPosition(o)
  // Fails fast and clearly (no such stream, no access, no service), and names the shards to follow.
  const description = await ctx.client.describeStream(o.stream, ctx.interrupted)
  const stop = new AbortController()
  const onInterrupt = (): void => stop.abort()
  if (ctx.interrupted.aborted) return
  ctx.interrupted.addEventListener('abort', onInterrupt, { once: true })
  const printer = new Printer(ctx, o.max, o.encoding, stop)
  try {
    if (o.group !== undefined) await tailGroup(ctx, { ...o, group: o.group }, printer, stop)
    else await tailShards(ctx, o, description.shards.map((s) => s.shardId), printer, stop)
  } finally {
    ctx.interrupted.removeEventListener('abort', onInterrupt)
  }
}

export function tailCommand(program: Command, run: RunCommand): void {
  program
    .command('tail')
    .description('print the records of every shard as they arrive, one JSON line each: shardId, sequenceNumber, partitionKey, approximateArrivalTimestamp, encoding, data')
    .requiredOption('--stream <name>', 'stream name')
    .addOption(new Option('--from <position>', 'where to start: TRIM_HORIZON (oldest), LATEST (new records only; the default) or AT_TIMESTAMP').choices(['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP']))
    .option('--timestamp <time>', 'with AT_TIMESTAMP: ms since the epoch or an ISO 8601 date-time (without Z or an offset: this machine\'s local time)', timestamp)
    .option('--group <name>', 'read as a worker of this consumer group: shards shared with its other workers, checkpoints kept')
    .option('--max <n>', 'stop after this many records', wholeNumber(1))
    .option('--no-follow', 'stop once every shard is caught up instead of waiting for more')
    .addOption(
      new Option('--encoding <how>', 'how "data" is printed: auto (UTF-8 text when the bytes are valid UTF-8, else base64) or base64 (always); each line names its "encoding"')
        .choices(['auto', 'base64'])
        .default('auto'),
    )
    .addHelpText('after', '\nCtrl-C stops it (exit 0); with --group it checkpoints what was printed and leaves the group first.')
    .action((o: TailOptions, cmd: Command) => run(cmd, (ctx) => tail(ctx, o)))
}
