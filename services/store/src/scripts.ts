/**
 * The Lua scripts, loaded once from lua/*.lua and defined on a client as custom commands (ioredis
 * sends EVALSHA and falls back to EVAL on NOSCRIPT). Each wrapper in this package turns the
 * script's reply into a typed result; nothing outside the store sees a raw reply.
 */
import { readFileSync } from 'node:fs'
import type { Cluster, Redis } from 'ioredis'

export type RedisClient = Redis | Cluster

const luaDir = new URL('../../src/lua/', import.meta.url)

function lua(file: string): string {
  return readFileSync(new URL(file, luaDir), 'utf8')
}

export const SCRIPTS = {
  sluicePutRecords: { file: 'put-records.lua', numberOfKeys: 2 },
  sluiceReadRecords: { file: 'read-records.lua', numberOfKeys: 2 },
  sluiceCreateStream: { file: 'create-stream.lua', numberOfKeys: 2 },
  sluiceDeleteStream: { file: 'delete-stream.lua', numberOfKeys: 3 },
} as const

export type ScriptName = keyof typeof SCRIPTS
type ScriptArg = string | number | Buffer

/** The custom commands defineScripts adds; arguments are KEYS then ARGV, flattened by ioredis. */
export type ScriptCommands = { [K in ScriptName]: (args: ScriptArg[]) => Promise<unknown> }

const loaded = new Map<ScriptName, string>()
function source(name: ScriptName): string {
  let text = loaded.get(name)
  if (text === undefined) {
    text = lua(SCRIPTS[name].file)
    loaded.set(name, text)
  }
  return text
}

const defined = new WeakSet<object>()

/** Defines every script on the client (idempotent) and returns it typed with the script commands. */
export function defineScripts(client: RedisClient): RedisClient & ScriptCommands {
  if (!defined.has(client)) {
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      client.defineCommand(name, { lua: source(name), numberOfKeys: SCRIPTS[name].numberOfKeys })
    }
    defined.add(client)
  }
  return client as RedisClient & ScriptCommands
}
