/**
 * The Lua scripts, loaded once from lua/*.lua and run by SHA: EVALSHA, and EVAL only when a Redis
 * node answers NOSCRIPT (after a restart or failover), which also caches the script there. (ioredis'
 * defineCommand does the same for single commands, but under auto-pipelining it cannot tell that a
 * connection already has the script and sends the whole source with every call.) Each wrapper in
 * this package turns the script's reply into a typed result; nothing outside the store sees a raw reply.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Cluster, Redis } from 'ioredis'

export type RedisClient = Redis | Cluster

const luaDir = new URL('../../src/lua/', import.meta.url)

const FILES = {
  putRecords: { file: 'put-records.lua', numberOfKeys: 3 },
  readRecords: { file: 'read-records.lua', numberOfKeys: 3 },
  archiveClaim: { file: 'archive-claim.lua', numberOfKeys: 2 },
  archiveCommit: { file: 'archive-commit.lua', numberOfKeys: 3 },
  archiveTrim: { file: 'archive-trim.lua', numberOfKeys: 2 },
  createStream: { file: 'create-stream.lua', numberOfKeys: 2 },
  deleteStream: { file: 'delete-stream.lua', numberOfKeys: 4 },
  updateStream: { file: 'update-stream.lua', numberOfKeys: 1 },
  addTags: { file: 'add-tags.lua', numberOfKeys: 2 },
  registerGroup: { file: 'register-group.lua', numberOfKeys: 2 },
  heartbeat: { file: 'heartbeat.lua', numberOfKeys: 4 },
  checkpoint: { file: 'checkpoint.lua', numberOfKeys: 4 },
  leave: { file: 'leave.lua', numberOfKeys: 2 },
} as const

export type ScriptName = keyof typeof FILES
export type ScriptArg = string | number | Buffer

interface LoadedScript {
  lua: string
  sha: string
  numberOfKeys: number
}

const loaded = new Map<ScriptName, LoadedScript>()

function script(name: ScriptName): LoadedScript {
  let s = loaded.get(name)
  if (!s) {
    const lua = readFileSync(new URL(FILES[name].file, luaDir), 'utf8')
    s = { lua, sha: createHash('sha1').update(lua).digest('hex'), numberOfKeys: FILES[name].numberOfKeys }
    loaded.set(name, s)
  }
  return s
}

/** Loads every script's source now, so a missing file fails at start rather than on first use. */
export function loadScripts(): void {
  for (const name of Object.keys(FILES) as ScriptName[]) script(name)
}

/** Runs a script: `args` are its KEYS (numberOfKeys of them) followed by its ARGV. */
export async function runScript(client: RedisClient, name: ScriptName, args: readonly ScriptArg[]): Promise<unknown> {
  const s = script(name)
  try {
    return await client.evalsha(s.sha, s.numberOfKeys, ...args)
  } catch (err) {
    // NOSCRIPT: Redis refused before running anything, so sending the source is safe.
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return client.eval(s.lua, s.numberOfKeys, ...args)
    throw err
  }
}
