/**
 * `sluice keys …` and API keys in every command, against a real ingest with access control on: the
 * first key bootstrapped on the server (`npm run keys`), the rest made, listed and revoked with the
 * CLI; a token shown once and never logged; exit 4 for a missing, wrong or revoked key or a missing
 * scope.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { startProcess } from '@sluice/testkit'
import { startSluice, type Sluice } from '@sluice/ingest/testing'
import { runCli, exited, show, type CliResult } from './run-cli.js'

const KEYS_CLI = fileURLToPath(new URL('../../../ingest/dist/src/keys-cli.js', import.meta.url))
const TOKEN = /^sluice_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/

describe('sluice keys, and API keys in every command (SLUICE_AUTH=on)', () => {
  let s: Sluice
  let log = ''
  let admin: string
  const as = (token: string | undefined, ...args: string[]) => runCli(['--endpoint', s.url, ...args], token ? { env: { SLUICE_API_KEY: token } } : {})
  before(async () => {
    const logStream = new PassThrough()
    logStream.on('data', (chunk: Buffer) => (log += chunk.toString()))
    s = await startSluice({ env: { SLUICE_AUTH: 'on', SLUICE_LOG_LEVEL: 'debug' }, logStream })
    // The first key is made on the server, with Redis access, as an operator does.
    const bootstrap = await startProcess({ command: process.execPath, args: [KEYS_CLI, 'create', '--scope', 'admin:*', '--name', 'root'], env: { SLUICE_REDIS_URL: s.redis.url } })
    let timer: ReturnType<typeof setTimeout> | undefined
    const status = await Promise.race([bootstrap.exited, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 30_000)))])
    clearTimeout(timer)
    if (status === null) await bootstrap.kill('SIGKILL')
    assert.equal(status?.code, 0, bootstrap.output())
    admin = bootstrap.output().split('\n').find((l) => TOKEN.test(l))!
    assert.ok(admin, bootstrap.output())
  })
  after(async () => s?.close())

  it('without a key, or with a wrong one, every command is exit 4 with a hint', async () => {
    const none = await as(undefined, 'streams', 'list')
    exited(none, 4)
    assert.match(none.stderr, /^sluice: .* \u2014 give one with --api-key or SLUICE_API_KEY \[Unauthorized\]\n$/)
    const wrong = await runCli(['--endpoint', s.url, '--api-key', 'sluice_0123456789abcdef_' + 'A'.repeat(43), 'keys', 'list'])
    exited(wrong, 4)
    assert.match(wrong.stderr, /^sluice: The API key is not valid .*\[Unauthorized\]\n$/)
  })

  it('keys create prints only the token on stdout; it works at once for its scopes only; keys list never shows a secret', async () => {
    exited(await as(admin, 'streams', 'create', 'orders', '--shards', '2'), 0)
    const made = await as(admin, 'keys', 'create', '--scope', 'write:orders', 'read:orders', '--scope', 'read:logs-*', '--name', 'billing ci')
    exited(made, 0)
    const token = made.stdout.trim()
    const m = TOKEN.exec(token)
    assert.ok(m, `the token alone on stdout: ${show(made)}`)
    const id = m[1]!
    assert.match(made.stderr, new RegExp(`created key ${id} \\(write:orders, read:orders, read:logs-\\*\\); the token is shown only now`))
    assert.ok(!made.stderr.includes(token))

    const put = await as(token, 'put', '--stream', 'orders', '--partition-key', 'k')
    exited(put, 0)
    const putSome = await runCli(['--endpoint', s.url, '--api-key', token, 'put', '--stream', 'orders'], { input: 'a\nb\nc\n' })
    exited(putSome, 0)
    assert.match(putSome.stderr, /put 3 of 3 records/)
    const tail = await as(token, 'tail', '--stream', 'orders', '--from', 'TRIM_HORIZON', '--no-follow')
    exited(tail, 0)
    assert.deepEqual(tail.stdout.trim().split('\n').map((l) => JSON.parse(l).data).sort(), ['a', 'b', 'c'])

    const forbidden = await as(token, 'streams', 'create', 'other', '--shards', '1')
    exited(forbidden, 4)
    assert.match(forbidden.stderr, /\[Forbidden\]\n$/)
    exited(await as(token, 'keys', 'list'), 4)
    exited(await as(token, 'streams', 'list'), 4)

    const listed = await as(admin, 'keys', 'list')
    exited(listed, 0)
    assert.match(listed.stdout, /^ID\s+CREATED\s+SCOPES\s+NAME$/m)
    assert.match(listed.stdout, new RegExp(`^${id}\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+write:orders,read:orders,read:logs-\\*\\s+billing ci$`, 'm'))
    assert.match(listed.stdout, /\sadmin:\*\s+root$/m)
    const json = await as(admin, 'keys', 'list', '--json')
    exited(json, 0)
    const keys = json.stdout.trim().split('\n').map((l) => JSON.parse(l))
    assert.deepEqual(Object.keys(keys[0]).sort(), ['createdAt', 'id', 'name', 'scopes'])
    for (const t of [token, admin]) {
      const secret = t.slice('sluice_'.length + 17)
      assert.ok(!listed.stdout.includes(secret) && !json.stdout.includes(secret), 'no secret in a listing')
      assert.ok(!log.includes(secret), 'no token in the service log')
    }
    assert.match(log, new RegExp(`"keyId":"${id}".*"API key created"`), 'creation is logged, by id')
  })

  it('keys revoke: the token is refused at once (exit 4); revoking again is exit 3; --json create carries the token', async () => {
    const made = await as(admin, 'keys', 'create', '--scope', 'read:*', '--json')
    exited(made, 0)
    const k = JSON.parse(made.stdout) as { id: string; token: string; scopes: string[]; name: string }
    assert.deepEqual(k.scopes, ['read:*'])
    assert.equal(k.name, '')
    exited(await as(k.token, 'streams', 'describe', 'orders'), 0)
    const revoked = await as(admin, 'keys', 'revoke', k.id)
    exited(revoked, 0)
    assert.match(revoked.stdout, new RegExp(`^revoked key ${k.id}`))
    const refused = await as(k.token, 'streams', 'describe', 'orders')
    exited(refused, 4)
    assert.match(refused.stderr, /\[Unauthorized\]\n$/)
    const again = await as(admin, 'keys', 'revoke', k.id)
    exited(again, 3)
    assert.match(again.stderr, new RegExp(`^sluice: API key ${k.id} not found \\[KeyNotFound\\]\\n$`))
  })
})
