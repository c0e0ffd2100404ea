import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError, loadConfig } from '../src/config.js'

describe('configuration from the environment', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({})
    assert.equal(c.host, '127.0.0.1')
    assert.equal(c.port, 4600)
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379')
    assert.equal(c.maxShards, 1000)
    assert.equal(c.shardWriteRecordsPerSecond, 1000)
    assert.equal(c.shardWriteBytesPerSecond, 1048576)
    assert.equal(c.shardReadsPerSecond, 5)
    assert.equal(c.shardReadBytesPerSecond, 2097152)
    assert.equal(c.redisFsync, undefined)
    assert.equal(c.dataDir, '.data')
    assert.equal(c.maxConnections, 10_000)
    assert.equal(c.headersTimeoutMs, 10_000)
    assert.equal(c.requestTimeoutMs, 60_000)
    assert.equal(c.keepAliveTimeoutMs, 72_000)
    assert.equal(c.connectionTimeoutMs, 120_000)
  })

  it('reads every variable', () => {
    const c = loadConfig({
      SLUICE_HOST: '0.0.0.0',
      SLUICE_PORT: '8080',
      SLUICE_REDIS_URL: 'redis-cluster://10.0.0.1:7000,10.0.0.2:7000',
      SLUICE_REDIS_FSYNC: 'always',
      SLUICE_MAX_SHARDS: '20',
      SLUICE_SHARD_WRITE_RECORDS_PER_SECOND: '5000',
      SLUICE_ITERATOR_SECRET: 'a-secret-of-enough-length',
      SLUICE_LOG_LEVEL: 'debug',
      SLUICE_MAX_CONNECTIONS: '500',
      SLUICE_HEADERS_TIMEOUT_MS: '2000',
      SLUICE_REQUEST_TIMEOUT_MS: '4000',
      SLUICE_KEEP_ALIVE_TIMEOUT_MS: '5000',
      SLUICE_CONNECTION_TIMEOUT_MS: '30000',
    })
    assert.equal(c.host, '0.0.0.0')
    assert.equal(c.port, 8080)
    assert.equal(c.redisFsync, 'always')
    assert.equal(c.maxShards, 20)
    assert.equal(c.shardWriteRecordsPerSecond, 5000)
    assert.equal(c.logLevel, 'debug')
    assert.deepEqual(
      [c.maxConnections, c.headersTimeoutMs, c.requestTimeoutMs, c.keepAliveTimeoutMs, c.connectionTimeoutMs],
      [500, 2000, 4000, 5000, 30_000],
    )
  })

  it('refuses connection limits and timeouts that cannot work together', () => {
    const problems = (env: Record<string, string>): string[] => {
      try {
        loadConfig(env)
        return []
      } catch (err) {
        assert.ok(err instanceof ConfigError)
        return err.problems
      }
    }
    assert.match(problems({ SLUICE_MAX_CONNECTIONS: '0' }).join('\n'), /SLUICE_MAX_CONNECTIONS must be from 1/)
    assert.match(problems({ SLUICE_HEADERS_TIMEOUT_MS: '20000', SLUICE_REQUEST_TIMEOUT_MS: '10000' }).join('\n'), /SLUICE_REQUEST_TIMEOUT_MS \(10000\) must be at least SLUICE_HEADERS_TIMEOUT_MS/)
    assert.match(problems({ SLUICE_CONNECTION_TIMEOUT_MS: '1000' }).join('\n'), /SLUICE_CONNECTION_TIMEOUT_MS must be from 30000/)
    assert.match(
      problems({ SLUICE_REDIS_COMMAND_TIMEOUT_MS: '30000', SLUICE_CONNECTION_TIMEOUT_MS: '60000' }).join('\n'),
      /SLUICE_CONNECTION_TIMEOUT_MS \(60000\) must be at least twice SLUICE_REDIS_COMMAND_TIMEOUT_MS/,
    )
    assert.deepEqual(problems({ SLUICE_HEADERS_TIMEOUT_MS: '5000', SLUICE_REQUEST_TIMEOUT_MS: '5000' }), [])
  })

  it('reports every bad value at once, by name', () => {
    try {
      loadConfig({ SLUICE_PORT: 'http', SLUICE_MAX_SHARDS: '0', SLUICE_REDIS_FSYNC: 'no', SLUICE_REDIS_URL: 'localhost:6379', SLUICE_ITERATOR_SECRET: 'short' })
      assert.fail('expected a ConfigError')
    } catch (err) {
      assert.ok(err instanceof ConfigError)
      const text = err.problems.join('\n')
      for (const name of ['SLUICE_PORT', 'SLUICE_MAX_SHARDS', 'SLUICE_REDIS_FSYNC', 'SLUICE_REDIS_URL', 'SLUICE_ITERATOR_SECRET']) {
        assert.match(text, new RegExp(name))
      }
      assert.equal(err.problems.length, 5)
    }
  })
})
