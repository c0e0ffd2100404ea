import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { Redis } from 'ioredis'
import { isAlive, redisCommand, startRedis, type RedisServer, type StartRedisOptions } from '../src/index.js'

describe('startRedis', () => {
  const servers: RedisServer[] = []
  const clients: Redis[] = []
  const start = async (options?: StartRedisOptions): Promise<RedisServer> => {
    const server = await startRedis(options)
    servers.push(server)
    return server
  }
  const connect = (server: RedisServer, commandTimeout?: number): Redis => {
    const client = new Redis(server.url, { maxRetriesPerRequest: 1, ...(commandTimeout ? { commandTimeout } : {}) })
    clients.push(client)
    return client
  }
  after(async () => {
    // Only once per client: ioredis arms a 2 s timer on every disconnect() that only a closing socket clears.
    for (const c of clients) if (c.status !== 'end') c.disconnect()
    await Promise.all(servers.map((s) => s.close()))
  })

  it('starts with the settings Sluice runs on, logs to a file, and close() stops it and removes its directory', async () => {
    const r = await start()
    assert.equal(await redisCommand(r.port, ['PING']), 'PONG')
    assert.equal(r.url, `redis://127.0.0.1:${r.port}`)
    for (const [name, value] of [
      ['appendonly', 'yes'],
      ['appendfsync', 'everysec'],
      ['maxmemory-policy', 'noeviction'],
      ['save', ''],
      ['bind', '127.0.0.1'],
      ['dir', r.dir],
    ]) {
      assert.deepEqual(await redisCommand(r.port, ['CONFIG', 'GET', name!]), [name, value], name)
    }
    assert.match(readFileSync(r.logFile, 'utf8'), /Ready to accept connections/)
    assert.match(r.log(), /Ready to accept connections/)
    const pid = r.pid
    await r.close()
    assert.equal(isAlive(pid), false)
    await assert.rejects(redisCommand(r.port, ['PING'], 500))
    assert.equal(existsSync(r.dir), false)
    await r.close() // idempotent
  })

  it('passes options through (appendfsync, maxmemory, policy, extra args)', async () => {
    const r = await start({ appendfsync: 'always', maxmemory: '10mb', maxmemoryPolicy: 'allkeys-lru', extraArgs: ['--maxclients', '77'] })
    assert.deepEqual(await redisCommand(r.port, ['CONFIG', 'GET', 'appendfsync']), ['appendfsync', 'always'])
    assert.deepEqual(await redisCommand(r.port, ['CONFIG', 'GET', 'maxmemory']), ['maxmemory', String(10 * 1024 * 1024)])
    assert.deepEqual(await redisCommand(r.port, ['CONFIG', 'GET', 'maxmemory-policy']), ['maxmemory-policy', 'allkeys-lru'])
    assert.deepEqual(await redisCommand(r.port, ['CONFIG', 'GET', 'maxclients']), ['maxclients', '77'])
  })

  it('keeps every acknowledged write across kill -9 with appendfsync always, and restart() waits until the AOF is loaded', async () => {
    const r = await start({ appendfsync: 'always' })
    const client = connect(r)
    for (let i = 0; i < 100; i++) await client.set(`k${i}`, String(i))
    // Enough data that loading the AOF takes a visible while: a restart that resolved on the first
    // TCP connect would meet LOADING below.
    const bulk = 100_000
    await client.eval(`for i = 1, ${bulk} do redis.call('SET', 'bulk:' .. i, i) end`, 0)
    client.disconnect()
    const { pid, port } = r
    await r.kill('SIGKILL')
    assert.equal(isAlive(pid), false)
    await r.restart()
    assert.notEqual(r.pid, pid)
    assert.equal(r.port, port)
    // Raw RESP on purpose: ioredis would itself wait out LOADING and hide a restart that returned early.
    assert.equal(await redisCommand(r.port, ['DBSIZE']), 100 + bulk)
    assert.equal(await redisCommand(r.port, ['GET', 'k99']), '99')
  })

  it('loses everything across kill -9 without the AOF (the control: restart really reloads from disk)', async () => {
    const r = await start({ appendonly: false })
    assert.equal(await redisCommand(r.port, ['SET', 'k', 'v']), 'OK')
    await r.kill()
    await r.restart()
    assert.equal(await redisCommand(r.port, ['DBSIZE']), 0)
    assert.deepEqual(await redisCommand(r.port, ['CONFIG', 'GET', 'appendonly']), ['appendonly', 'no'])
  })

  it('stop() makes commands time out with the connection open; resume() brings the same connection back', async () => {
    const r = await start()
    const client = connect(r, 300)
    assert.equal(await client.set('a', '1'), 'OK')
    r.stop()
    await assert.rejects(client.get('a'), /timed out/i)
    r.resume()
    assert.equal(await client.get('a'), '1')
    client.disconnect()
    // close() must also work on a frozen server.
    r.stop()
    const pid = r.pid
    await r.close()
    assert.equal(isAlive(pid), false)
  })

  it('fails fast with the log when redis-server refuses to start', async () => {
    const began = Date.now()
    await assert.rejects(start({ extraArgs: ['--no-such-directive', 'x'] }), /redis-server exited \(code 1\) before it was ready:[\s\S]*no-such-directive/)
    assert.ok(Date.now() - began < 5000, 'did not wait for the start deadline')
  })

  it('does not mistake another server on its port for its own', async () => {
    const first = await start()
    await assert.rejects(start({ port: first.port }), /Address already in use/)
    assert.equal(await redisCommand(first.port, ['PING']), 'PONG')
  })
})
