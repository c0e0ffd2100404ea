/**
 * `sluice put`, `sluice tail` and `sluice lag` as child processes against a real ingest: records put
 * by the CLI are stored byte for byte under the right partition keys, tail prints what was put (and
 * follows new records, stops on Ctrl-C, stops when its reader goes away), a group tail checkpoints
 * exactly what it printed, and lag counts what is left.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { evenHashKeyRanges, hashKeyForPartitionKey, shardIdFor, shardIndexForHashKey } from '@sluice/protocol'
import { freePort, startRedis, waitFor } from '@sluice/testkit'
import { readAll, startIngestProcess, startSluice, type Sluice } from '@sluice/ingest/testing'
import type { PrintedRecord } from '../src/record-format.js'
import { runCli, exited, show, startCli, type CliResult } from './run-cli.js'

function printed(stdout: string): PrintedRecord[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as PrintedRecord)
}

function bytesOf(p: PrintedRecord): Buffer {
  return p.encoding === 'utf8' ? Buffer.from(p.data, 'utf8') : Buffer.from(p.data, 'base64')
}

describe('sluice put, tail and lag', () => {
  let s: Sluice
  let dir: string
  let sluice: (args: string[], input?: string | Buffer) => Promise<CliResult>
  const shardsOf = async (stream: string, count: number) => Promise.all(Array.from({ length: count }, (_, i) => readAll(s, stream, shardIdFor(i))))
  before(async () => {
    s = await startSluice({ env: { SLUICE_SHARD_READS_PER_SECOND: '50' } })
    dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'))
    sluice = (args, input) => runCli(['--endpoint', s.url, ...args], input === undefined ? {} : { input })
  })
  after(async () => {
    await s?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  // The NDJSON of the first test, line by line, for the tail tests.
  const events: string[] = []

  it('put: NDJSON from a file, keyed by a nested field — every record stored as its line, in the shard of its key, in order per key', async () => {
    exited(await sluice(['streams', 'create', 'events', '--shards', '4']), 0)
    for (let i = 0; i < 2000; i++) events.push(JSON.stringify({ user: { id: `u${i % 37}` }, n: i, note: i % 5 === 0 ? 'ünïcödé ✓' : 'plain' }))
    const file = join(dir, 'events.ndjson')
    writeFileSync(file, events.join('\n') + '\n')
    const r = await sluice(['put', '--stream', 'events', '--key-field', 'user.id', file])
    exited(r, 0)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^sluice: put 2,000 of 2,000 records \([\d.]+ MB\) to events in [\d.]+ s: [\d,]+ records\/s, [\d.]+ MB\/s; \d+ retried \(\d+ throttled\); 0 failed\n$/)
    assert.doesNotMatch(r.stderr, /\r|\u001b\[/, 'no progress bar when stderr is not a terminal')

    const ranges = evenHashKeyRanges(4)
    const stored = await shardsOf('events', 4)
    assert.equal(stored.flat().length, 2000, 'every line once')
    const seen = new Set<string>()
    stored.forEach((records, shard) => {
      const lastN = new Map<string, number>()
      for (const rec of records) {
        const line = Buffer.from(rec.data, 'base64').toString('utf8')
        const body = JSON.parse(line) as { user: { id: string }; n: number }
        assert.equal(rec.partitionKey, body.user.id, 'the key is the field')
        assert.equal(shardIndexForHashKey(ranges, hashKeyForPartitionKey(rec.partitionKey)), shard, 'in the shard of its key')
        assert.ok(body.n > (lastN.get(rec.partitionKey) ?? -1), 'in put order per key')
        lastN.set(rec.partitionKey, body.n)
        seen.add(line)
      }
    })
    assert.deepEqual([...seen].sort(), [...events].sort(), 'each record is its line, byte for byte')
  })

  it('put: lines from stdin with one partition key — CRLF and blank lines, bytes that are not UTF-8 kept as they are', async () => {
    exited(await sluice(['streams', 'create', 'raw', '--shards', '2']), 0)
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41])
    const input = Buffer.concat([Buffer.from('first\r\n\nsecond\n'), binary, Buffer.from('\nthird')])
    const r = await sluice(['put', '--stream', 'raw', '--partition-key', 'one-key', '-'], input)
    exited(r, 0)
    assert.match(r.stderr, /put 4 of 4 records/)
    const shard = shardIndexForHashKey(evenHashKeyRanges(2), hashKeyForPartitionKey('one-key'))
    const stored = (await shardsOf('raw', 2))[shard]!
    assert.deepEqual(
      stored.map((rec) => Buffer.from(rec.data, 'base64')),
      [Buffer.from('first'), Buffer.from('second'), binary, Buffer.from('third')],
      'in order, in the shard of the one key, byte for byte',
    )
    assert.ok(stored.every((rec) => rec.partitionKey === 'one-key'))
  })

  it('put: lines that cannot be put are named and counted, the rest are put, exit 1', async () => {
    exited(await sluice(['streams', 'create', 'mixed', '--shards', '1']), 0)
    const lines = ['{"k":"a","v":1}', 'not json', '{"v":2}', '{"k":"b","v":3}', `{"k":"c","pad":"${'x'.repeat(1024 * 1024)}"}`, '{"k":7,"v":4}']
    const r = await sluice(['put', '--stream', 'mixed', '--key-field', 'k'], lines.join('\n'))
    exited(r, 1)
    assert.match(r.stderr, /^sluice: line 2: not a JSON line/m)
    assert.match(r.stderr, /^sluice: line 3: no k field/m)
    assert.match(r.stderr, /^sluice: line 5: 1,048,5\d\d bytes, over the 1,048,576-byte limit of a record$/m)
    assert.match(r.stderr, /put 3 of 6 records .* 3 failed$/m)
    const stored = (await shardsOf('mixed', 1))[0]!
    assert.deepEqual(stored.map((rec) => rec.partitionKey), ['a', 'b', '7'])
  })

  it('put: no such stream is exit 3, an unreadable file exit 1, each in one line and at once', async () => {
    const missing = await sluice(['put', '--stream', 'nope'], 'x\n')
    exited(missing, 3)
    assert.match(missing.stderr, /^sluice: Stream nope not found \[StreamNotFound\]\n$/)
    const noFile = await sluice(['put', '--stream', 'raw', join(dir, 'absent.ndjson')])
    exited(noFile, 1)
    assert.match(noFile.stderr, /^sluice: cannot read .*absent\.ndjson: ENOENT\n$/)
  })

  it('put: Ctrl-C stops reading, gives up what is not acknowledged, reports it and exits 130', async () => {
    // 5 records a second: 300 records would take a minute.
    assert.equal((await s.request('POST', '/v1/streams', { name: 'slow', shardCount: 1, writeLimits: { recordsPerSecond: 5 } })).status, 201)
    const put = startCli(['--endpoint', s.url, 'put', '--stream', 'slow'], { input: Array.from({ length: 300 }, (_, i) => `r${i}`).join('\n') })
    await waitFor(async () => (await readAll(s, 'slow', 'shardId-000000000000')).length > 0, { timeoutMs: 10_000, message: 'the first records stored' })
    put.child.kill('SIGINT')
    const r = await put.done
    exited(r, 130)
    const m = /^sluice: interrupted: put (\d+) of 300 records .*; (\d+) not put\n$/.exec(r.stderr)
    assert.ok(m, show(r))
    const stored = await readAll(s, 'slow', 'shardId-000000000000')
    assert.ok(Number(m[1]) <= stored.length && stored.length < 300, `acknowledged ${m[1]}, stored ${stored.length}`)
    assert.equal(Number(m[1]) + Number(m[2]), 300)
  })

  it('put: a service that goes away mid-put (kill -9) is given up on after --give-up-after seconds without an acknowledgement: exit 1, saying why', async () => {
    const redis = await startRedis()
    const port = await freePort()
    const ingest = await startIngestProcess({ redisUrl: redis.url, port, dataDir: join(dir, 'down-data') })
    const url = `http://127.0.0.1:${port}`
    try {
      // 5 records a second: the put is still going when the service dies.
      const created = await fetch(`${url}/v1/streams`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'down', shardCount: 1, writeLimits: { recordsPerSecond: 5 } }),
      })
      assert.equal(created.status, 201)
      const put = startCli(['--endpoint', url, 'put', '--stream', 'down', '--give-up-after', '2'], { input: Array.from({ length: 300 }, (_, i) => `r${i}`).join('\n') })
      await waitFor(async () => (await (await fetch(`${url}/v1/streams/down/shards/shardId-000000000000/records?from=TRIM_HORIZON`)).json() as { records: unknown[] }).records.length > 0, {
        timeoutMs: 10_000,
        message: 'the first records stored',
      })
      await ingest.kill('SIGKILL')
      const killedAt = Date.now()
      const r = await put.done
      exited(r, 1)
      assert.match(r.stderr, /^sluice: put (\d+) of 300 records .*; (\d+) failed$/m, show(r))
      assert.match(r.stderr, /^sluice: gave up: no record was acknowledged for 2 s \(last error: .*ECONNREFUSED.*\); --give-up-after sets how long to wait$/m, show(r))
      // 2 s after the last acknowledgement, checked 4 times a second; the in-flight request fails at once.
      assert.ok(Date.now() - killedAt < 10_000, `gave up ${Date.now() - killedAt} ms after the kill`)
    } finally {
      await ingest.kill('SIGKILL')
      await redis.close()
    }
  })

  it('put: --give-up-after takes whole seconds, 0 meaning never; anything else is a usage error', async () => {
    const bad = await sluice(['put', '--stream', 'raw', '--give-up-after', '-1'], 'x\n')
    exited(bad, 2)
    assert.match(bad.stderr, /--give-up-after.*must be a whole number from 0 to 86400/)
  })

  it('tail: from TRIM_HORIZON without following prints every record once, as put, then exits 0', async () => {
    const r = await sluice(['tail', '--stream', 'events', '--from', 'TRIM_HORIZON', '--no-follow'])
    exited(r, 0)
    const got = printed(r.stdout)
    assert.equal(got.length, 2000)
    assert.ok(got.every((p) => p.encoding === 'utf8'))
    assert.deepEqual(got.map((p) => p.data).sort(), [...events].sort(), 'data is the line as text')
    const stored = (await shardsOf('events', 4)).flat()
    const bySequence = new Map(stored.map((rec) => [rec.sequenceNumber, rec]))
    for (const p of got) {
      const rec = bySequence.get(p.sequenceNumber)
      assert.ok(rec, 'a stored record')
      assert.equal(p.partitionKey, rec.partitionKey)
      assert.equal(p.approximateArrivalTimestamp, rec.approximateArrivalTimestamp)
      assert.equal(p.shardId, shardIdFor(Number(p.sequenceNumber.slice(-6))))
    }
    for (const shard of ['shardId-000000000000', 'shardId-000000000001']) {
      const inShard = got.filter((p) => p.shardId === shard).map((p) => p.sequenceNumber)
      assert.deepEqual(inShard, [...inShard].sort(), `${shard} in sequence order`)
    }
  })

  it('tail: data that is not UTF-8 comes as base64, and --encoding base64 gives every record so; --max stops', async () => {
    const r = await sluice(['tail', '--stream', 'raw', '--from', 'TRIM_HORIZON', '--no-follow'])
    exited(r, 0)
    const got = printed(r.stdout)
    assert.deepEqual(got.map((p) => p.encoding), ['utf8', 'utf8', 'base64', 'utf8'])
    assert.deepEqual(got.map(bytesOf), [Buffer.from('first'), Buffer.from('second'), Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]), Buffer.from('third')])
    const b64 = await sluice(['tail', '--stream', 'events', '--from', 'TRIM_HORIZON', '--encoding', 'base64', '--max', '5'])
    exited(b64, 0)
    const five = printed(b64.stdout)
    assert.equal(five.length, 5)
    assert.ok(five.every((p) => p.encoding === 'base64' && events.includes(bytesOf(p).toString('utf8'))))
  })

  it('tail: follows new records from LATEST (not the older ones) until Ctrl-C, then exits 0', async () => {
    exited(await sluice(['streams', 'create', 'live', '--shards', '2']), 0)
    exited(await sluice(['put', '--stream', 'live'], 'old\n'), 0)
    const tail = startCli(['--endpoint', s.url, 'tail', '--stream', 'live'], { timeoutMs: 60_000 })
    // LATEST is "after the newest record when the read starts": put until the tail shows one.
    let round = 0
    await waitFor(
      async () => {
        if (printed(tail.stdout()).length > 0) return true
        exited(await sluice(['put', '--stream', 'live'], `warm-up ${round++}\n`), 0)
        return false
      },
      { timeoutMs: 20_000, intervalMs: 200, message: 'the tail to print a record put after it started' },
    )
    const lines = Array.from({ length: 50 }, (_, i) => `live ${i}`)
    exited(await sluice(['put', '--stream', 'live', '--partition-key', 'p'], lines.join('\n')), 0)
    await waitFor(() => printed(tail.stdout()).filter((p) => p.data.startsWith('live ')).length === 50, { timeoutMs: 20_000, message: 'all 50 new records' })
    tail.child.kill('SIGINT')
    const r = await tail.done
    exited(r, 0)
    const got = printed(r.stdout)
    assert.deepEqual(got.filter((p) => p.data.startsWith('live ')).map((p) => p.data), lines, 'one key: in put order')
    assert.ok(!got.some((p) => p.data === 'old'), 'LATEST: nothing put before the tail started')
  })

  it('tail: stops by itself when its reader goes away (tail | head)', async () => {
    exited(await sluice(['streams', 'create', 'pipe', '--shards', '1']), 0)
    exited(await sluice(['put', '--stream', 'pipe'], 'first\n'), 0)
    const tail = startCli(['--endpoint', s.url, 'tail', '--stream', 'pipe', '--from', 'TRIM_HORIZON'], { timeoutMs: 30_000 })
    await waitFor(() => tail.stdout().includes('\n'), { timeoutMs: 10_000, message: 'a first line' })
    tail.child.stdout!.destroy()
    // A follower learns that its reader is gone when it next writes, as `tail -f | head` does: give it more.
    let gone = false
    void tail.done.then(() => (gone = true))
    let n = 0
    await waitFor(
      async () => {
        if (!gone) exited(await sluice(['put', '--stream', 'pipe'], `more ${n++}\n`), 0)
        return gone
      },
      { timeoutMs: 20_000, intervalMs: 100, message: 'the tail to exit after its reader went away' },
    )
    const r = await tail.done
    exited(r, 0)
    assert.equal(r.stderr, '', 'no EPIPE error')
  })

  it('tail --group prints exactly what it checkpoints: two runs with --max see every record once; lag counts the rest', async () => {
    exited(await sluice(['streams', 'create', 'grp', '--shards', '2']), 0)
    const lines = Array.from({ length: 30 }, (_, i) => `record ${i}`)
    exited(await sluice(['put', '--stream', 'grp'], lines.join('\n')), 0)
    const perShard = (await shardsOf('grp', 2)).map((records) => records.length)
    assert.equal(perShard[0]! + perShard[1]!, 30)

    const first = await sluice(['tail', '--stream', 'grp', '--group', 'billing', '--max', '12'])
    exited(first, 0)
    const firstRecords = printed(first.stdout)
    assert.equal(firstRecords.length, 12)

    const lag = await sluice(['lag', '--stream', 'grp', '--group', 'billing', '--json'])
    exited(lag, 0)
    const l = JSON.parse(lag.stdout) as { shards: Array<{ shardId: string; owner: string | null; records: number; millis: number; checkpoint: string | null }>; total: { records: number; millis: number } }
    assert.equal(l.total.records, 18, 'what the first run did not print')
    for (const [i, shard] of l.shards.entries()) {
      const shown = firstRecords.filter((p) => p.shardId === shard.shardId)
      assert.equal(shard.records, perShard[i]! - shown.length, `${shard.shardId}: records behind = put - printed`)
      assert.equal(shard.checkpoint, shown.length ? shown[shown.length - 1]!.sequenceNumber : null, `${shard.shardId}: checkpoint = last printed`)
      assert.equal(shard.owner, null, 'the tail left the group when it stopped')
    }
    const table = await sluice(['lag', '--stream', 'grp', '--group', 'billing'])
    exited(table, 0)
    assert.match(table.stdout, /^SHARD\s+OWNER\s+CHECKPOINT\s+BEHIND \(records\)\s+BEHIND \(ms\)$/m)
    assert.match(table.stdout, /^total\s+18\s+\d+$/m)
    for (const shard of l.shards) assert.match(table.stdout, new RegExp(`^${shard.shardId}\\s+-\\s+${shard.checkpoint ?? '-'}\\s+${shard.records}\\s+${shard.millis}$`, 'm'))

    const second = await sluice(['tail', '--stream', 'grp', '--group', 'billing', '--max', '18'])
    exited(second, 0)
    const secondRecords = printed(second.stdout)
    assert.deepEqual([...firstRecords, ...secondRecords].map((p) => p.data).sort(), [...lines].sort(), 'every record once over the two runs')
    const done = JSON.parse((await sluice(['lag', '--stream', 'grp', '--group', 'billing', '--json'])).stdout) as typeof l
    assert.deepEqual(done.total, { records: 0, millis: 0 })
  })

  it('lag: an unknown group or stream is exit 3', async () => {
    const noGroup = await sluice(['lag', '--stream', 'grp', '--group', 'nobody'])
    exited(noGroup, 3)
    assert.match(noGroup.stderr, /^sluice: .*\[GroupNotFound\]\n$/)
    exited(await sluice(['lag', '--stream', 'nope', '--group', 'billing']), 3)
    exited(await sluice(['tail', '--stream', 'nope', '--group', 'billing', '--max', '1']), 3)
  })
})
