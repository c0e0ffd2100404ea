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
    })
    assert.equal(c.host, '0.0.0.0')
    assert.equal(c.port, 8080)
    assert.equal(c.redisFsync, 'always')
    assert.equal(c.maxShards, 20)
    assert.equal(c.shardWriteRecordsPerSecond, 5000)
    assert.equal(c.logLevel, 'debug')
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
