/**
 * `npm run keys -- <create|list|revoke>`: manage API keys in the Redis named by SLUICE_REDIS_URL (an
 * operator's tool: it talks to Redis, as redis-cli would; clients only ever get the token).
 *
 *   npm run keys -- create --name ci --scope write:orders --scope read:logs-*
 *   npm run keys -- list
 *   npm run keys -- revoke <id>
 */
import { parseArgs } from 'node:util'
import { ApiKeys, connectRedis, createRedisClient, parseScope } from '@sluice/store'

const USAGE = `usage:
  npm run keys -- create --scope <read|write|admin>:<stream|prefix*|*> [--scope …] [--name <name>]
  npm run keys -- list
  npm run keys -- revoke <id>
Redis: SLUICE_REDIS_URL (default redis://127.0.0.1:6379; npm start's is redis://127.0.0.1:6479)`

function fail(message: string, code = 2): never {
  process.stderr.write(`sluice keys: ${message}\n`)
  process.exit(code)
}

async function main(): Promise<void> {
  let parsed
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { scope: { type: 'string', multiple: true }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    })
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`)
  }
  const { values, positionals } = parsed
  const [command, ...rest] = positionals
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(values.help ? 0 : 2)
  }
  if (command === 'create') {
    const scopes = values.scope ?? []
    if (scopes.length === 0) fail(`create needs at least one --scope\n${USAGE}`)
    for (const s of scopes) if (!parseScope(s)) fail(`--scope ${s}: not a scope (read|write|admin, a colon, then a stream name, a prefix ending in *, or *)`)
    // The same rule as POST /v1/keys: names are printed in terminals and tab-separated listings.
    const name = values.name ?? ''
    if (name.length > 128 || /[\u0000-\u001F\u007F-\u009F]/.test(name)) fail('--name: at most 128 characters, without control characters')
  } else if (command === 'revoke') {
    if (rest.length !== 1) fail(`revoke takes one key id\n${USAGE}`)
  } else if (command !== 'list') {
    fail(`unknown command "${command}"\n${USAGE}`)
  }

  const url = process.env.SLUICE_REDIS_URL || 'redis://127.0.0.1:6379'
  const redis = createRedisClient({ url, connectionName: 'sluice-keys' })
  try {
    await connectRedis(redis)
  } catch (err) {
    redis.disconnect()
    fail(`cannot reach Redis at ${url}: ${(err as Error).message}`, 1)
  }
  const keys = new ApiKeys(redis)
  try {
    if (command === 'create') {
      const { id, token } = await keys.create(values.name ?? '', values.scope!)
      process.stderr.write(`created key ${id} (${values.scope!.join(', ')}); the token is shown only now:\n`)
      process.stdout.write(`${token}\n`)
    } else if (command === 'list') {
      for (const k of await keys.list()) process.stdout.write(`${k.id}\t${new Date(k.createdAt).toISOString()}\t${k.scopes.join(',')}\t${k.name}\n`)
    } else {
      if (!(await keys.revoke(rest[0]!))) fail(`no key ${rest[0]}`, 1)
      process.stderr.write(`revoked ${rest[0]} (ingest processes stop accepting it within 5 s)\n`)
    }
  } finally {
    await redis.quit().catch(() => redis.disconnect())
  }
}

main().catch((err: unknown) => fail(String((err as Error)?.message ?? err), 1))
