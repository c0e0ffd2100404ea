/** `sluice streams create|list|describe|delete` */
import type { Command } from 'commander'
import type { StreamDescription } from '@sluice/protocol'
import type { RunCommand } from '../context.js'
import { wholeNumber } from '../options.js'
import { formatCount, formatTable, formatTime } from '../table.js'


function describeLines(d: StreamDescription): string[] {
  return [
    `stream     ${d.name}`,
    `status     ${d.status}`,
    `created    ${formatTime(d.createdAt)}`,
    `retention  ${d.retentionHours} h`,
    `limits     ${formatCount(d.writeLimits.recordsPerSecond)} records/s and ${formatCount(d.writeLimits.bytesPerSecond)} bytes/s per shard`,
    `shards     ${d.shardCount}`,
    '',
    formatTable(
      ['SHARD', 'HASH KEY START', 'HASH KEY END', 'FIRST SEQUENCE NUMBER'],
      d.shards.map((s) => [s.shardId, s.hashKeyRange.start, s.hashKeyRange.end, s.sequenceNumberRange.start]),
      ['left', 'right', 'right', 'left'],
    ),
  ]
}

export function streamsCommand(program: Command, run: RunCommand): void {
  const streams = program.command('streams').description('create, list, describe and delete streams')

  streams
    .command('create')
    .description('create a stream (exit 5 if the name is in use)')
    .argument('<name>', 'stream name: 1 to 128 of a-z A-Z 0-9 _ . -')
    .requiredOption('--shards <n>', 'number of shards (fixed for the life of the stream)', wholeNumber(1))
    .option('--retention-hours <h>', 'how long records stay readable, 24 to 8760 (default 24)', wholeNumber(24, 8760))
    .option('--json', 'print the description as JSON')
    .action((name: string, o: { shards: number; retentionHours?: number; json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const d = await ctx.client.createStream({ name, shardCount: o.shards, ...(o.retentionHours !== undefined ? { retentionHours: o.retentionHours } : {}) }, ctx.interrupted)
        if (o.json) await ctx.out.line(JSON.stringify(d))
        else await ctx.out.line(`created stream ${d.name}: ${d.shardCount} shard${d.shardCount === 1 ? '' : 's'}, retention ${d.retentionHours} h`)
      }),
    )

  streams
    .command('list')
    .description('list every stream, by name')
    .option('--json', 'print one JSON object per stream')
    .action((o: { json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const rows: string[][] = []
        for await (const s of ctx.client.allStreams(ctx.interrupted)) {
          if (o.json) await ctx.out.line(JSON.stringify(s))
          else rows.push([s.name, String(s.shardCount), String(s.retentionHours), formatTime(s.createdAt)])
        }
        if (!o.json) await ctx.out.line(rows.length ? formatTable(['NAME', 'SHARDS', 'RETENTION (h)', 'CREATED'], rows, ['left', 'right', 'right', 'left']) : '(no streams)')
      }),
    )

  streams
    .command('describe')
    .description('show a stream and its shards (exit 3 if there is none)')
    .argument('<name>', 'stream name')
    .option('--json', 'print the description as JSON')
    .action((name: string, o: { json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const d = await ctx.client.describeStream(name, ctx.interrupted)
        if (o.json) await ctx.out.line(JSON.stringify(d))
        else for (const line of describeLines(d)) await ctx.out.line(line)
      }),
    )

  streams
    .command('delete')
    .description('delete a stream and its records, at once (exit 3 if there is none)')
    .argument('<name>', 'stream name')
    .action((name: string, _o: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        await ctx.client.deleteStream(name, ctx.interrupted)
        await ctx.out.line(`deleted stream ${name}`)
      }),
    )
}
