/**
 * `sluice streams …` and what every command shares — help, version, usage errors (exit 2), an
 * unreachable service (exit 1), not found (3), exists (5) — run as a child process against a real
 * ingest (harness) on a real redis-server.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { freePort } from '@sluice/testkit'
import { startSluice, type Sluice } from '@sluice/ingest/testing'
import { runCli, exited, show, type CliResult } from './run-cli.js'

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

/** An error is one line on stderr, starting "sluice: ", without a stack trace. */
function oneLineError(r: CliResult, pattern: RegExp): void {
  const lines = r.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `one line on stderr:\n${show(r)}`)
  assert.match(lines[0]!, /^sluice: /)
  assert.match(lines[0]!, pattern, show(r))
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
}

describe('sluice streams, help, version and exit codes', () => {
  let s: Sluice
  let sluice: (...args: string[]) => Promise<CliResult>
  before(async () => {
    s = await startSluice()
    sluice = (...args) => runCli(['--endpoint', s.url, ...args])
  })
  after(async () => s?.close())

  it('--version, and --help on every command (exit 0)', async () => {
    const v = await runCli(['--version'])
    exited(v, 0)
    assert.equal(v.stdout.trim(), version)
    const help = await runCli(['--help'])
    exited(help, 0)
    for (const c of ['streams', 'put', 'tail', 'lag', 'keys']) assert.match(help.stdout, new RegExp(`^  ${c}\\b`, 'm'), `help lists ${c}`)
    assert.match(help.stdout, /SLUICE_ENDPOINT/)
    assert.match(help.stdout, /Exit codes: 0 done/)
    for (const args of [['streams', '--help'], ['streams', 'create', '--help'], ['streams', 'list', '--help'], ['streams', 'describe', '--help'], ['streams', 'delete', '--help'], ['put', '--help'], ['tail', '--help'], ['lag', '--help'], ['keys', '--help'], ['keys', 'create', '--help'], ['keys', 'list', '--help'], ['keys', 'revoke', '--help']]) {
      const r = await runCli(args)
      exited(r, 0)
      assert.match(r.stdout, /^Usage: sluice /, `${args.join(' ')}: ${show(r)}`)
    }
  })

  it('usage mistakes exit 2 with one line, before anything is sent', async () => {
    // No service at this endpoint: a usage error must be found without one.
    const nowhere = `http://127.0.0.1:${await freePort()}`
    const cases: Array<[string[], RegExp]> = [
      [['streams', 'create', 'x'], /required option '--shards <n>'/],
      [['streams', 'create', 'x', '--shards', '0'], /--shards.*at least 1/],
      [['streams', 'create', 'x', '--shards', 'two'], /--shards.*whole number/],
      [['streams', 'create', 'x', '--shards', '1', '--retention-hours', '9999'], /--retention-hours.*24 to 8760/],
      [['streams', 'lst'], /unknown command 'lst'.*list/],
      [['streams', 'describe'], /missing required argument 'name'/],
      [['put', '--stream', 's', '--partition-key', 'a', '--key-field', 'b'], /cannot be used with/],
      [['tail', '--stream', 's', '--from', 'AT_TIMESTAMP'], /needs --timestamp/],
      [['tail', '--stream', 's', '--from', 'EARLIEST'], /Allowed choices are TRIM_HORIZON, LATEST, AT_TIMESTAMP/],
      [['tail', '--stream', 's', '--timestamp', 'yesterday'], /--timestamp.*ISO 8601/],
      [['tail', '--stream', 's', '--group', 'g', '--from', 'LATEST'], /--group starts where the group's checkpoints are/],
      [['keys', 'create', '--scope', 'root:*'], /a scope is read, write or admin/],
      [['keys', 'revoke', 'nope'], /16 hex digits/],
      [['--endpoint', 'localhost:4600', 'streams', 'list'], /--endpoint localhost:4600: must be http/],
      [['--bogus'], /unknown option '--bogus'/],
    ]
    for (const [args, pattern] of cases) {
      const r = await runCli(args, { env: { SLUICE_ENDPOINT: nowhere } })
      exited(r, 2)
      oneLineError(r, pattern)
      assert.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`)
    }
    const bare = await runCli([])
    exited(bare, 2)
    assert.match(bare.stderr, /Usage: sluice/, 'no command: the usage, on stderr')
  })

  it('an unreachable service is exit 1 with one line that says why', async () => {
    const port = await freePort()
    const r = await runCli(['--endpoint', `http://127.0.0.1:${port}`, 'streams', 'list'])
    exited(r, 1)
    oneLineError(r, new RegExp(`cannot reach http://127.0.0.1:${port}.*ECONNREFUSED`))
  })

  it('create, list, describe and delete, with exit codes 3 (none) and 5 (exists)', async () => {
    const created = await sluice('streams', 'create', 'orders', '--shards', '3', '--retention-hours', '48')
    exited(created, 0)
    assert.equal(created.stdout, 'created stream orders: 3 shards, retention 48 h\n')
    const stored = await s.request('GET', '/v1/streams/orders')
    assert.equal(stored.body.shardCount, 3)
    assert.equal(stored.body.retentionHours, 48)

    const again = await sluice('streams', 'create', 'orders', '--shards', '1')
    exited(again, 5)
    oneLineError(again, /orders.*\[StreamExists\]/)
    const bad = await sluice('streams', 'create', 'a/b', '--shards', '1')
    exited(bad, 1)
    oneLineError(bad, /name.*\[ValidationError\]/)

    exited(await sluice('streams', 'create', 'logs', '--shards', '1', '--json'), 0)
    // The endpoint from the environment works as well as the option.
    const listed = await runCli(['streams', 'list'], { env: { SLUICE_ENDPOINT: s.url } })
    exited(listed, 0)
    const rows = listed.stdout.trimEnd().split('\n')
    assert.match(rows[0]!, /^NAME\s+SHARDS\s+RETENTION \(h\)\s+CREATED$/)
    assert.deepEqual(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 3)), [['logs', '1', '24'], ['orders', '3', '48']])
    const json = await sluice('streams', 'list', '--json')
    exited(json, 0)
    assert.deepEqual(json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l).name), ['logs', 'orders'])

    const described = await sluice('streams', 'describe', 'orders', '--json')
    exited(described, 0)
    assert.deepEqual(JSON.parse(described.stdout), stored.body)
    const table = await sluice('streams', 'describe', 'orders')
    exited(table, 0)
    for (const shard of stored.body.shards) assert.match(table.stdout, new RegExp(`^${shard.shardId}\\s+0*${shard.hashKeyRange.start}\\s+${shard.hashKeyRange.end}\\s+${shard.sequenceNumberRange.start}$`, 'm'))
    assert.match(table.stdout, /^retention\s+48 h$/m)

    const missing = await sluice('streams', 'describe', 'nope')
    exited(missing, 3)
    oneLineError(missing, /nope.*\[StreamNotFound\]/)

    const deleted = await sluice('streams', 'delete', 'orders')
    exited(deleted, 0)
    assert.equal((await s.request('GET', '/v1/streams/orders')).status, 404)
    exited(await sluice('streams', 'delete', 'orders'), 3)
    const empty = await sluice('streams', 'list')
    exited(empty, 0)
    assert.deepEqual(empty.stdout.trimEnd().split('\n').slice(1).map((r) => r.split(/\s+/)[0]), ['logs'])
  })
})
