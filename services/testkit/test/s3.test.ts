import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { startS3 } from '../src/index.js'

describe('startS3', () => {
  it('serves the S3 protocol with its buckets, keeps objects across kill -9 and restart, hangs while stopped, and cleans up', async () => {
    const s3 = await startS3({ buckets: ['sluice'] })
    try {
      // s3rver accepts unsigned requests; the tests of the archive go through the AWS SDK.
      const put = await fetch(`${s3.endpoint}/sluice/a/b.txt`, { method: 'PUT', body: 'hello' })
      assert.equal(put.status, 200)
      assert.equal(await (await fetch(`${s3.endpoint}/sluice/a/b.txt`)).text(), 'hello')
      assert.equal((await fetch(`${s3.endpoint}/missing-bucket/x`)).status, 404)

      const before = s3.pid
      await s3.kill()
      await assert.rejects(fetch(`${s3.endpoint}/sluice/a/b.txt`), 'nothing answers once it is killed')
      await s3.restart()
      assert.notEqual(s3.pid, before)
      assert.equal(await (await fetch(`${s3.endpoint}/sluice/a/b.txt`)).text(), 'hello', 'same port, same data')

      s3.stop()
      await assert.rejects(fetch(`${s3.endpoint}/sluice/a/b.txt`, { signal: AbortSignal.timeout(500) }), 'a stopped S3 does not answer')
      s3.resume()
      assert.equal((await fetch(`${s3.endpoint}/sluice/a/b.txt`, { signal: AbortSignal.timeout(5000) })).status, 200)
    } finally {
      await s3.close()
    }
    assert.equal(existsSync(s3.dir), false, 'its temporary directory is removed')
  })
})
