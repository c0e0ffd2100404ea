/**
 * `sluice keys create|list|revoke` over /v1/keys (needs a key with admin:*). The token goes to
 * stdout alone (so `TOKEN=$(sluice keys create …)` works) and is shown only then.
 */
import type { Command } from 'commander'
import type { RunCommand } from '../context.js'
import { keyId, scopes } from '../options.js'
import { formatTable, formatTime } from '../table.js'


export function keysCommand(program: Command, run: RunCommand): void {
  const keys = program.command('keys').description('create, list and revoke API keys (needs a key with admin:*)')

  keys
    .command('create')
    .description('create an API key and print its token (shown only this once)')
    .requiredOption('--scope <scope...>', '<read|write|admin>:<stream, prefix* or *>; several allowed', scopes)
    .option('--name <name>', 'a label: who or what uses the key')
    .option('--json', 'print {id, name, scopes, createdAt, token} as JSON')
    .action((o: { scope: string[]; name?: string; json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const k = await ctx.client.createApiKey({ scopes: o.scope, ...(o.name !== undefined ? { name: o.name } : {}) }, ctx.interrupted)
        if (o.json) {
          await ctx.out.line(JSON.stringify(k))
          return
        }
        process.stderr.write(`created key ${k.id} (${k.scopes.join(', ')}); the token is shown only now:\n`)
        await ctx.out.line(k.token)
      }),
    )

  keys
    .command('list')
    .description('list API keys: id, creation time, scopes, name (never a secret)')
    .option('--json', 'print one JSON object per key')
    .action((o: { json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const { keys: all } = await ctx.client.listApiKeys(ctx.interrupted)
        if (o.json) {
          for (const k of all) await ctx.out.line(JSON.stringify(k))
          return
        }
        await ctx.out.line(all.length ? formatTable(['ID', 'CREATED', 'SCOPES', 'NAME'], all.map((k) => [k.id, formatTime(k.createdAt), k.scopes.join(','), k.name])) : '(no keys)')
      }),
    )

  keys
    .command('revoke')
    .description('revoke an API key (exit 3 if there is none with this id)')
    .argument('<id>', 'the key id (16 hex digits, as `keys list` shows)', keyId)
    .action((id: string, _o: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        await ctx.client.revokeApiKey(id, ctx.interrupted)
        await ctx.out.line(`revoked key ${id} (refused by every ingest process within 5 s)`)
      }),
    )
}
