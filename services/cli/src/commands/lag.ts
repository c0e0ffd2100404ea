/** `sluice lag --stream S --group G`: per shard, where the group's checkpoint is and how far behind. */
import type { Command } from 'commander'
import type { RunCommand } from '../context.js'
import { formatCount, formatTable } from '../table.js'


export function lagCommand(program: Command, run: RunCommand): void {
  program
    .command('lag')
    .description("a consumer group's checkpoint and lag per shard (exit 3 if the stream or group does not exist)")
    .requiredOption('--stream <name>', 'stream name')
    .requiredOption('--group <name>', 'consumer group')
    .option('--json', 'print {stream, group, shards: [{shardId, owner, checkpoint, records, millis}], total} as JSON')
    .action((o: { stream: string; group: string; json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const g = await ctx.client.describeGroup(o.stream, o.group, ctx.interrupted)
        const shards = g.shards.map((s) => ({ shardId: s.shardId, owner: s.owner, checkpoint: s.checkpoint, records: s.lag.records, millis: s.lag.millis }))
        // Records add up; time behind is the worst shard's.
        const total = { records: shards.reduce((n, s) => n + s.records, 0), millis: Math.max(0, ...shards.map((s) => s.millis)) }
        if (o.json) {
          await ctx.out.line(JSON.stringify({ stream: g.stream, group: g.group, shards, total }))
          return
        }
        const rows = shards.map((s) => [s.shardId, s.owner ?? '-', s.checkpoint ?? '-', formatCount(s.records), formatCount(s.millis)])
        rows.push(['total', '', '', formatCount(total.records), formatCount(total.millis)])
        await ctx.out.line(formatTable(['SHARD', 'OWNER', 'CHECKPOINT', 'BEHIND (records)', 'BEHIND (ms)'], rows, ['left', 'left', 'left', 'right', 'right']))
      }),
    )
}
