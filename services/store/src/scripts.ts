/**
 * The Lua scripts, loaded once from lua/*.lua and run by SHA: EVALSHA, and EVAL only when a Redis
 * node answers NOSCRIPT (after a restart or failover), which also caches the script there. (ioredis'
 * defineCommand does the same for single commands, but under auto-pipelining it cannot tell that a
 * connection already has the script and sends the whole source with every call.) Each wrapper in
 * this package turns the script's reply into a typed result; nothing outside the store sees a raw reply.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Command, Redis, type Cluster } from 'ioredis'
import { base64DecodedLength } from '@sluice/protocol'

export type RedisClient = Redis | Cluster

const luaDir = new URL('../../src/lua/', import.meta.url)

const FILES = {
  putRecords: { file: 'put-records.lua', numberOfKeys: 3 },
  readRecords: { file: 'read-records.lua', numberOfKeys: 3 },
  archiveClaim: { file: 'archive-claim.lua', numberOfKeys: 2 },
  archiveCommit: { file: 'archive-commit.lua', numberOfKeys: 3 },
  archiveTrim: { file: 'archive-trim.lua', numberOfKeys: 2 },
  createStream: { file: 'create-stream.lua', numberOfKeys: 3 },
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

interface BufferScripting {
  evalshaBuffer(sha: string, numberOfKeys: number, ...args: ScriptArg[]): Promise<unknown>
  evalBuffer(lua: string, numberOfKeys: number, ...args: ScriptArg[]): Promise<unknown>
}

/**
 * Runs a script: `args` are its KEYS (numberOfKeys of them) followed by its ARGV. With `buffers`, the
 * reply's strings come as Buffers (for scripts that return bytes); integers stay numbers.
 */
export async function runScript(client: RedisClient, name: ScriptName, args: readonly ScriptArg[], buffers = false): Promise<unknown> {
  const s = script(name)
  // ioredis' own methods, so that calls of one turn share a write (auto-pipelining); its *Buffer
  // variants hand bulk strings over as Buffers (they exist for every command, but are not typed for
  // the scripting ones).
  const c = client as RedisClient & BufferScripting
  try {
    return await (buffers ? c.evalshaBuffer(s.sha, s.numberOfKeys, ...args) : c.evalsha(s.sha, s.numberOfKeys, ...args))
  } catch (err) {
    // NOSCRIPT: Redis refused before running anything, so sending the source is safe.
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
      return buffers ? c.evalBuffer(s.lua, s.numberOfKeys, ...args) : c.eval(s.lua, s.numberOfKeys, ...args)
    }
    throw err
  }
}

/** ScriptCall joins arguments into strings of about this many characters (see add()). */
const PIECE_CHARS = 32 * 1024

/** A command whose RESP bytes were built by the caller; ioredis sends them as they are. */
class EncodedCommand extends Command {
  constructor(
    name: string,
    /** What ioredis routes by (a cluster reads the keys from it) and shows in errors. */
    args: Array<string | number>,
    private readonly encoded: Buffer,
  ) {
    super(name, args)
  }

  override toWritable(): Buffer {
    return this.encoded
  }
}

/** How a piece of a ScriptCall becomes bytes. */
const enum Piece {
  /** latin1 text: one byte per character (ASCII, or the bytes of UTF-8 text) */
  Text,
  /** base64, decoded into the command */
  Base64,
  /** a Buffer, copied */
  Bytes,
}

/**
 * One script call encoded here into a single buffer, for the hot path (put-records): ioredis would
 * look at every argument, measure each string's UTF-8 length, and, once one argument is a Buffer,
 * copy every argument into a buffer per command and then all commands of a tick into one more.
 * Here ASCII arguments are joined into strings, and the call is written once into one buffer,
 * base64 arguments decoded straight into it (a record's data is never held as bytes of its own).
 * Replies, timeouts, errors and cluster routing are ioredis' as for any command.
 *
 *   new ScriptCall('putRecords').key(a).key(b).key(c).ascii(n).text(partitionKey).base64(data).run(client)
 */
export class ScriptCall {
  private readonly script: LoadedScript
  private readonly keys: string[] = []
  /** The arguments (base64 ones as their text), for EVAL after NOSCRIPT. */
  private readonly args: ScriptArg[] = []
  /** indexes in `args` of the base64 texts */
  private readonly base64Args: number[] = []
  /** The encoded arguments so far: whole pieces, then the text being joined. */
  private readonly pieces: Array<string | Buffer> = []
  private readonly kinds: Piece[] = []
  /** bytes the pieces encode to */
  private piecesBytes = 0
  private body = ''

  constructor(name: ScriptName) {
    this.script = script(name)
  }

  /** The next of KEYS (keys come first, as many as the script declares). Keys are ASCII. */
  key(value: string): this {
    if (this.args.length !== this.keys.length) throw new Error('ScriptCall: keys come before the other arguments')
    this.keys.push(value)
    return this.ascii(value)
  }

  /** An argument known to be ASCII: a number, a key. */
  ascii(value: string | number): this {
    const text = typeof value === 'number' ? String(value) : value
    this.args.push(value)
    this.add(`$${text.length}\r\n`, text)
    return this
  }

  /** Any text: sent as UTF-8. */
  text(value: string): this {
    const bytes = Buffer.byteLength(value, 'utf8')
    if (bytes !== value.length) return this.bytes(Buffer.from(value, 'utf8'))
    this.args.push(value)
    this.add(`$${bytes}\r\n`, value)
    return this
  }

  /** Bytes, sent as they are. */
  bytes(value: Buffer): this {
    this.args.push(value)
    this.piece(this.body + `$${value.length}\r\n`, Piece.Text)
    this.piece(value, Piece.Bytes)
    this.body = '\r\n'
    return this
  }

  /**
   * The bytes that standard, padded base64 `text` spells (the caller checked it is base64: the call
   * is refused unsent if the text decodes to another length than its padding says).
   */
  base64(text: string): this {
    if (text.length % 4 !== 0) throw new Error('ScriptCall: an argument declared base64 is not')
    const bytes = base64DecodedLength(text)
    this.base64Args.push(this.args.length)
    this.args.push(text)
    this.piece(this.body + `$${bytes}\r\n`, Piece.Text)
    this.piece(text, Piece.Base64, bytes)
    this.body = '\r\n'
    return this
  }

  /**
   * Joins the arguments into pieces below PIECE_CHARS; a longer argument is a piece of its own. (A
   * string joined past 128 KiB would be copied into memory V8 maps afresh for it, which costs more
   * than the copy: measured 20x per byte on the project's machine.)
   */
  private add(prefix: string, text: string): void {
    if (text.length >= PIECE_CHARS) {
      this.piece(this.body + prefix, Piece.Text)
      this.piece(text, Piece.Text)
      this.body = '\r\n'
      return
    }
    this.body += prefix + text + '\r\n'
    if (this.body.length >= PIECE_CHARS) {
      this.piece(this.body, Piece.Text)
      this.body = ''
    }
  }

  private piece(p: string | Buffer, kind: Piece, bytes = p.length): void {
    this.pieces.push(p)
    this.kinds.push(kind)
    this.piecesBytes += bytes
  }

  /** The command's bytes: the header, then every argument as `$<bytes>\r\n<bytes>\r\n`. */
  private encode(head: string): Buffer {
    // latin1 writes each character as one byte: for ASCII that is its UTF-8, and much cheaper to make.
    if (this.pieces.length === 0) return Buffer.from(head + this.body, 'latin1')
    const encoded = Buffer.allocUnsafe(head.length + this.piecesBytes + this.body.length)
    let at = encoded.write(head, 0, 'latin1')
    const { pieces, kinds } = this
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!
      if (typeof p !== 'string') {
        at += p.copy(encoded, at)
      } else if (kinds[i] === Piece.Text) {
        at += encoded.write(p, at, 'latin1')
      } else {
        // The length was declared before these bytes: a text that decodes to another would shift
        // every argument after it.
        const written = encoded.write(p, at, 'base64')
        if (written !== base64DecodedLength(p)) throw new Error('ScriptCall: an argument declared base64 is not')
        at += written
      }
    }
    encoded.write(this.body, at, 'latin1')
    return encoded
  }

  /** Sends the call (EVALSHA; EVAL with the source if the node answers NOSCRIPT) and returns the script's reply. */
  async run(client: RedisClient): Promise<unknown> {
    const s = this.script
    if (this.keys.length !== s.numberOfKeys) throw new Error(`ScriptCall: ${s.numberOfKeys} keys expected, got ${this.keys.length}`)
    const head = `*${this.args.length + 3}\r\n$7\r\nEVALSHA\r\n$40\r\n${s.sha}\r\n$${String(s.numberOfKeys).length}\r\n${s.numberOfKeys}\r\n`
    const encoded = this.encode(head)
    try {
      return await client.sendCommand(new EncodedCommand('evalsha', [s.sha, s.numberOfKeys, ...this.keys], encoded))
    } catch (err) {
      // NOSCRIPT: Redis refused before running anything, so sending the source is safe.
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        const args = [...this.args]
        for (const i of this.base64Args) args[i] = Buffer.from(args[i] as string, 'base64')
        return client.eval(s.lua, s.numberOfKeys, ...args)
      }
      throw err
    }
  }
}

/**
 * Runs `send`, whose commands ioredis writes at once, with the connections' sockets corked: what it
 * sends to one Redis node leaves in one write instead of one each (what auto-pipelining does for
 * ordinary commands).
 */
export function inOneWrite(client: RedisClient, send: () => void): void {
  const nodes = client instanceof Redis ? [client] : client.nodes('all')
  const sockets = nodes.filter((n) => n.status === 'ready').map((n) => n.stream)
  for (const s of sockets) s.cork()
  try {
    send()
  } finally {
    for (const s of sockets) s.uncork()
  }
}
