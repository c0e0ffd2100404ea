/**
 * `sluice put --stream S [--partition-key K | --key-field F] [FILE|-]`: one record per line of the
 * input (NDJSON or plain text, the line's exact bytes), sent through the SDK's Producer — batching,
 * retries with backoff, order per partition key, and backpressure all the way to reading the input.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { Option, type Command } from 'commander'
import { Producer, SluiceError } from '@sluice/client'
import { MAX_PARTITION_KEY_LENGTH, MAX_RECORD_DATA_BYTES } from '@sluice/protocol'
import type { CliContext, RunCommand } from '../context.js'
import { CliError, ExitCode, UsageError, describeError, exitCodeOf, type ExitCodeValue } from '../errors.js'
import { readLines } from '../lines.js'
import { PutProgress, newPutStats, putSummary } from '../progress.js'
import { formatCount } from '../table.js'
import { wholeNumber } from '../options.js'


interface PutOptions {
  stream: string
  partitionKey?: string
  keyField?: string
  progress: boolean
  /** seconds without an acknowledgement, with records waiting, before put gives up; 0 never */
  giveUpAfter: number
}

/** The Producer's own bounds (10,000 records, 32 MiB): reading waits while that much is unacknowledged. */
const MAX_OUTSTANDING_RECORDS = 10_000
const MAX_OUTSTANDING_BYTES = 32 * 1024 * 1024
/** Failures named one by one; beyond that only counted. */
const MAX_FAILURES_SHOWN = 10

/** A field of a JSON line, by name or dotted path (`user.id`), as a partition key; an Error says why not. */
export function keyFromField(line: Buffer, field: string): string | Error {
  let value: unknown
  try {
    value = JSON.parse(line.toString('utf8'))
  } catch {
    return new Error('not a JSON line (--key-field needs NDJSON)')
  }
  if (typeof value !== 'object' || value === null) return new Error('not a JSON object')
  let v: unknown = value
  if (Object.prototype.hasOwnProperty.call(value, field)) v = (value as Record<string, unknown>)[field]
  else {
    for (const part of field.split('.')) {
      v = typeof v === 'object' && v !== null && Object.prototype.hasOwnProperty.call(v, part) ? (v as Record<string, unknown>)[part] : undefined
    }
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (typeof v === 'string' && v.length > 0) return v
  return new Error(`no ${field} field with a non-empty string or a number`)
}

/** Refusals that no retry or later record can change: stop reading and say so. */
function isFatal(err: unknown): boolean {
  return err instanceof SluiceError && (err.status === 401 || err.status === 403 || err.status === 404)
}

async function openInput(file: string | undefined): Promise<{ input: Readable; name: string; totalBytes: number | undefined }> {
  if (file === undefined || file === '-') return { input: process.stdin, name: 'stdin', totalBytes: undefined }
  try {
    const s = await stat(file)
    if (!s.isFile()) throw new CliError(`cannot read ${file}: not a file`)
    return { input: createReadStream(file), name: file, totalBytes: s.size }
  } catch (err) {
    if (err instanceof CliError) throw err
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, ExitCode.failure, { cause: err })
  }
}

async function put(ctx: CliContext, file: string | undefined, o: PutOptions): Promise<ExitCodeValue> {
  // Characters as the service counts them: code points, not UTF-16 units.
  const keyLength = o.partitionKey === undefined ? 0 : [...o.partitionKey].length
  if (o.partitionKey !== undefined && (keyLength < 1 || keyLength > MAX_PARTITION_KEY_LENGTH)) {
    throw new UsageError(`--partition-key: must be 1 to ${MAX_PARTITION_KEY_LENGTH} characters`)
  }
  const { input, name, totalBytes } = await openInput(file)
  // Fails fast and clearly (no such stream, no access, no service) before any input is read.
  await ctx.client.describeStream(o.stream, ctx.interrupted)
  if (input === process.stdin && process.stdin.isTTY) process.stderr.write('sluice: reading records from the terminal, one per line; end with Ctrl-D\n')

  const stats = newPutStats()
  const abort = new AbortController()
  let interrupted = false
  const onInterrupt = (): void => {
    interrupted = true
    abort.abort()
    input.destroy()
  }
  if (ctx.interrupted.aborted) onInterrupt()
  ctx.interrupted.addEventListener('abort', onInterrupt, { once: true })

  const producer = new Producer({ endpoint: ctx.endpoint, stream: o.stream, fetch: ctx.fetch, signal: abort.signal, ...(ctx.apiKey ? { apiKey: ctx.apiKey } : {}) })
  let lastRetryError: unknown
  producer.on((e) => {
    stats.retried += e.records
    stats.throttled += e.throttled
    if (e.error) lastRetryError = e.error
  })
  const progress = o.progress && process.stderr.isTTY ? new PutProgress(process.stderr, stats, totalBytes) : undefined
  const startedAt = Date.now()

  const failures: string[] = []
  const fail = (lineNo: number, message: string): void => {
    stats.failed++
    if (failures.length < MAX_FAILURES_SHOWN) failures.push(`line ${lineNo}: ${message}`)
  }
  let fatal: unknown
  let outstanding = 0
  let outstandingBytes = 0
  // The Producer retries for ever; a service that stays down would keep put waiting for ever. Give up
  // once records have waited that long with none acknowledged (slow but moving is not down).
  let progressAt = Date.now()
  const watchdog =
    o.giveUpAfter > 0
      ? setInterval(() => {
          if (outstanding === 0 || fatal !== undefined || Date.now() - progressAt < o.giveUpAfter * 1000) return
          const why = lastRetryError === undefined ? '' : ` (last error: ${describeError(lastRetryError, { apiKeyGiven: ctx.apiKey !== undefined })})`
          fatal = new CliError(`gave up: no record was acknowledged for ${o.giveUpAfter} s${why}; --give-up-after sets how long to wait`)
          abort.abort()
          input.destroy()
        }, 250)
      : undefined
  watchdog?.unref()
  let wake: (() => void) | undefined
  const waitForSettle = (): Promise<void> => new Promise((resolve) => (wake = resolve))
  const settled = (size: number): void => {
    outstanding--
    outstandingBytes -= size
    const w = wake
    wake = undefined
    w?.()
  }

  let lineNo = 0
  try {
    for await (const line of readLines(input, MAX_RECORD_DATA_BYTES)) {
      lineNo++
      const length = 'bytes' in line ? line.bytes.length : line.tooLongBytes
      stats.inputBytes += length + 1
      if (!('bytes' in line)) {
        stats.read++
        fail(lineNo, `${formatCount(length)} bytes, over the ${formatCount(MAX_RECORD_DATA_BYTES)}-byte limit of a record`)
        continue
      }
      if (line.bytes.length === 0) continue
      stats.read++
      const key = o.partitionKey ?? (o.keyField !== undefined ? keyFromField(line.bytes, o.keyField) : String(lineNo))
      if (key instanceof Error) {
        fail(lineNo, key.message)
        continue
      }
      while (outstanding >= MAX_OUTSTANDING_RECORDS || outstandingBytes >= MAX_OUTSTANDING_BYTES) await waitForSettle()
      if (abort.signal.aborted) break
      const size = line.bytes.length + Buffer.byteLength(key)
      const n = lineNo
      if (outstanding === 0) progressAt = Date.now()
      outstanding++
      outstandingBytes += size
      producer.put(key, line.bytes).then(
        () => {
          stats.acked++
          stats.ackedBytes += size
          progressAt = Date.now()
          settled(size)
        },
        (err: unknown) => {
          settled(size)
          if (isFatal(err)) {
            stats.failed++
            if (fatal === undefined) {
              fatal = err
              abort.abort()
              input.destroy()
            }
          } else if (abort.signal.aborted) stats.failed++
          else fail(n, describeError(err, { apiKeyGiven: ctx.apiKey !== undefined }))
        },
      )
      if (abort.signal.aborted) break
    }
  } catch (err) {
    // Destroying the input on an interrupt or a fatal refusal ends the read with an error: expected.
    if (!abort.signal.aborted) {
      abort.abort()
      fatal ??= new CliError(`cannot read ${name}: ${(err as Error).message}`)
    }
  }
  while (outstanding > 0) await waitForSettle()
  clearInterval(watchdog)
  await producer.close().catch(() => undefined)
  ctx.interrupted.removeEventListener('abort', onInterrupt)
  progress?.stop()

  const apiKeyGiven = ctx.apiKey !== undefined
  for (const f of failures) process.stderr.write(`sluice: ${f}\n`)
  if (stats.failed > failures.length && fatal === undefined && !interrupted) {
    process.stderr.write(`sluice: … and ${formatCount(stats.failed - failures.length)} more records failed\n`)
  }
  process.stderr.write(`sluice: ${putSummary(o.stream, stats, Date.now() - startedAt, interrupted)}\n`)
  if (fatal !== undefined) {
    process.stderr.write(`sluice: ${describeError(fatal, { apiKeyGiven })}\n`)
    return exitCodeOf(fatal)
  }
  if (interrupted) return ExitCode.interrupted
  return stats.failed > 0 ? ExitCode.failure : ExitCode.ok
}

export function putCommand(program: Command, run: RunCommand): void {
  program
    .command('put')
    .description('put one record per line of a file or stdin (NDJSON or plain text); exit 1 if any record was not put')
    .argument('[file]', 'the input; - or nothing for stdin')
    .requiredOption('--stream <name>', 'stream name')
    .addOption(new Option('--partition-key <key>', 'the partition key of every record (they all go to one shard, in order)').conflicts('keyField'))
    .option('--key-field <field>', "each record's partition key from this field of its JSON line (a.b for a nested one)")
    .option('--no-progress', 'no progress bar (there is none anyway when stderr is not a terminal)')
    .addOption(
      new Option('--give-up-after <seconds>', 'stop (exit 1) when records have waited this long with none acknowledged, e.g. the service is down; 0: retry for ever')
        .default(60)
        .argParser(wholeNumber(0, 86_400)),
    )
    .addHelpText(
      'after',
      '\nWithout --partition-key or --key-field a record\'s key is its line number: records spread over every shard.\n' +
        'Blank lines are skipped; a line over 1 MiB is not put (it counts as failed). Ends with a summary on stderr.',
    )
    .action((file: string | undefined, o: PutOptions, cmd: Command) => run(cmd, (ctx) => put(ctx, file, o)))
}
