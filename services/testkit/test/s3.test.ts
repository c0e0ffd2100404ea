/**
 * startS3 through the S3 REST API itself (fetch, path-style), so testkit needs no AWS SDK: buckets,
 * objects, listing, what it accepts as credentials, and the faults it is there for — kill -9,
 * restart, SIGSTOP — plus cleanup, including after the test process itself is killed -9.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { freePort, isAlive, isPortFree, startProcess, startS3, waitFor, type ChildHandle, type S3Server, type StartS3Options } from '../src/index.js'

/** Every <tag>…</tag> text in an S3 XML answer. */
function xmlValues(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]!)
}

const md5Hex = (body: Uint8Array | string): string => createHash('md5').update(body).digest('hex')

/**
 * Headers signed with AWS signature version 2 (the one s3rver checks in full; of a SigV4 signature it
 * checks only the access key id). x-amz-date stands in for Date, so the Date line is empty.
 */
function signedV2(method: string, path: string, credentials: { accessKeyId: string; secretAccessKey: string }, contentType = ''): Record<string, string> {
  const amzDate = new Date().toUTCString()
  const stringToSign = [method, '', contentType, '', `x-amz-date:${amzDate}`, path].join('\n')
  const signature = createHmac('sha1', credentials.secretAccessKey).update(stringToSign).digest('base64')
  return {
    'x-amz-date': amzDate,
    authorization: `AWS ${credentials.accessKeyId}:${signature}`,
    ...(contentType ? { 'content-type': contentType } : {}),
  }
}

describe('startS3', () => {
  const servers: S3Server[] = []
  const start = async (options?: StartS3Options): Promise<S3Server> => {
    const server = await startS3(options)
    servers.push(server)
    return server
  }
  after(async () => {
    await Promise.all(servers.map((s) => s.close()))
  })

  it('answers at its endpoint on 127.0.0.1 with exactly the buckets it was given', async () => {
    const s3 = await start({ buckets: ['sluice', 'second'] })
    assert.equal(s3.endpoint, `http://127.0.0.1:${s3.port}`)
    assert.equal(s3.region, 'us-east-1')
    assert.ok(isAlive(s3.pid))
    const list = await fetch(`${s3.endpoint}/`)
    assert.equal(list.status, 200)
    assert.deepEqual(xmlValues(await list.text(), 'Name').sort(), ['second', 'sluice'])
    assert.equal((await fetch(`${s3.endpoint}/sluice`, { method: 'HEAD' })).status, 200)
    const missing = await fetch(`${s3.endpoint}/missing-bucket/x`)
    assert.equal(missing.status, 404)
    assert.deepEqual(xmlValues(await missing.text(), 'Code'), ['NoSuchBucket'])
  })

  it('stores and returns objects byte for byte; the ETag is the MD5 of the body', async () => {
    const s3 = await start({ buckets: ['sluice'] })
    const body = randomBytes(256 * 1024)
    const put = await fetch(`${s3.endpoint}/sluice/shard/0001.bin`, { method: 'PUT', body })
    assert.equal(put.status, 200)
    assert.equal(put.headers.get('etag'), `"${md5Hex(body)}"`)
    const get = await fetch(`${s3.endpoint}/sluice/shard/0001.bin`)
    assert.equal(get.status, 200)
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(body), 'the same bytes come back')
    const head = await fetch(`${s3.endpoint}/sluice/shard/0001.bin`, { method: 'HEAD' })
    assert.equal(head.headers.get('content-length'), String(body.length))
    assert.equal(head.headers.get('etag'), `"${md5Hex(body)}"`)
    assert.equal((await fetch(`${s3.endpoint}/sluice/shard/0002.bin`)).status, 404)
  })

  it('accepts a request signed with its credentials and refuses another secret or access key', async () => {
    const s3 = await start({ buckets: ['sluice'] })
    const path = '/sluice/signed.txt'
    const ok = await fetch(`${s3.endpoint}${path}`, { method: 'PUT', body: 'signed', headers: signedV2('PUT', path, s3.credentials, 'text/plain') })
    assert.equal(ok.status, 200, await ok.text())
    const read = await fetch(`${s3.endpoint}${path}`, { headers: signedV2('GET', path, s3.credentials) })
    assert.equal(await read.text(), 'signed')

    const wrongSecret = await fetch(`${s3.endpoint}${path}`, { headers: signedV2('GET', path, { ...s3.credentials, secretAccessKey: 'not-the-secret' }) })
    assert.equal(wrongSecret.status, 403)
    assert.deepEqual(xmlValues(await wrongSecret.text(), 'Code'), ['SignatureDoesNotMatch'])
    const wrongKey = await fetch(`${s3.endpoint}${path}`, { headers: signedV2('GET', path, { ...s3.credentials, accessKeyId: 'AKIAEXAMPLE' }) })
    assert.equal(wrongKey.status, 403)
    assert.deepEqual(xmlValues(await wrongKey.text(), 'Code'), ['InvalidAccessKeyId'])
  })

  it('pages through ListObjectsV2 with continuation tokens', async () => {
    const s3 = await start({ buckets: ['sluice'] })
    const keys = ['p/a', 'p/b', 'p/c', 'q/d']
    for (const key of keys) assert.equal((await fetch(`${s3.endpoint}/sluice/${key}`, { method: 'PUT', body: key })).status, 200)
    const seen: string[] = []
    let token: string | undefined
    for (let page = 1; ; page++) {
      const query = new URLSearchParams({ 'list-type': '2', prefix: 'p/', 'max-keys': '2', ...(token ? { 'continuation-token': token } : {}) })
      const res = await fetch(`${s3.endpoint}/sluice?${query}`)
      const xml = await res.text()
      // s3rver makes its tokens with DES; without OpenSSL's legacy provider this is a 500.
      assert.equal(res.status, 200, `page ${page}: ${xml}`)
      seen.push(...xmlValues(xml, 'Key'))
      token = xmlValues(xml, 'NextContinuationToken')[0]
      if (xmlValues(xml, 'IsTruncated')[0] !== 'true') break
      assert.ok(token, 'a truncated page carries a continuation token')
      assert.ok(page < 5, 'the listing ends')
    }
    assert.deepEqual(seen, ['p/a', 'p/b', 'p/c'])
  })

  it('refuses an aws-chunked body with 501 instead of storing its chunk framing', async () => {
    const s3 = await start({ buckets: ['sluice'] })
    const framed = '5;chunk-signature=0\r\nhello\r\n0;chunk-signature=0\r\n\r\n'
    const put = await fetch(`${s3.endpoint}/sluice/chunked`, {
      method: 'PUT',
      body: framed,
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '5', 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' },
    })
    assert.equal(put.status, 501)
    assert.deepEqual(xmlValues(await put.text(), 'Code'), ['NotImplemented'])
    assert.equal((await fetch(`${s3.endpoint}/sluice/chunked`)).status, 404, 'nothing was stored')
  })

  it('kill -9 and restart: nothing answers while it is down, then a new process serves the same data on the same port', async () => {
    const s3 = await start({ buckets: ['sluice'] })
    const body = randomBytes(64 * 1024)
    assert.equal((await fetch(`${s3.endpoint}/sluice/kept.bin`, { method: 'PUT', body })).status, 200)
    const before = s3.pid
    await s3.kill()
    assert.equal(isAlive(before), false)
    await assert.rejects(fetch(`${s3.endpoint}/sluice/kept.bin`, { signal: AbortSignal.timeout(2000) }), 'nothing answers once it is killed')
    await s3.restart()
    assert.notEqual(s3.pid, before)
    assert.ok(isAlive(s3.pid))
    const get = await fetch(`${s3.endpoint}/sluice/kept.bin`)
    assert.equal(get.status, 200)
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(body), 'the object survived kill -9')
    assert.deepEqual(xmlValues(await (await fetch(`${s3.endpoint}/`)).text(), 'Name'), ['sluice'])
  })

  it('stop() freezes it: a request hangs, and resume() lets that same request complete', async () => {
    const s3 = await start({ buckets: ['sluice'] })
    assert.equal((await fetch(`${s3.endpoint}/sluice/frozen.txt`, { method: 'PUT', body: 'thawed' })).status, 200)
    s3.stop()
    try {
      const pending = fetch(`${s3.endpoint}/sluice/frozen.txt`, { signal: AbortSignal.timeout(15_000) })
      const settled = pending.then(
        () => 'answered',
        () => 'failed',
      )
      // Proving that no answer comes needs a window; a running s3rver answers this in milliseconds.
      assert.equal(await Promise.race([settled, delay(750, 'still waiting')]), 'still waiting')
      s3.resume()
      const res = await pending
      assert.equal(res.status, 200)
      assert.equal(await res.text(), 'thawed')
    } finally {
      s3.resume()
    }
  })

  it('close() stops the process, frees the port and removes the directory it made; twice is fine', async () => {
    const s3 = await startS3({ buckets: ['sluice'] })
    const { pid, dir, port } = s3
    assert.ok(existsSync(join(dir, 'sluice')), 'a bucket is a directory under dir')
    assert.ok(existsSync(s3.logFile))
    await s3.close()
    assert.equal(isAlive(pid), false)
    assert.equal(existsSync(dir), false)
    assert.equal(await isPortFree(port), true)
    await s3.close()
  })

  it('keeps a directory it was given, and a later server on that directory has its buckets and objects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-s3-test-'))
    let second: S3Server | undefined
    try {
      const first = await start({ dir, buckets: ['sluice'] })
      assert.equal((await fetch(`${first.endpoint}/sluice/a`, { method: 'PUT', body: 'from the first' })).status, 200)
      await first.close()
      assert.ok(existsSync(dir), 'close() keeps a directory it did not make')
      second = await startS3({ dir })
      assert.equal(await (await fetch(`${second.endpoint}/sluice/a`)).text(), 'from the first')
    } finally {
      await second?.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a port that is taken fails the start at once, naming the port and the cause', async () => {
    const port = await freePort()
    const squatter = createServer().listen(port, '127.0.0.1')
    await new Promise((resolve) => squatter.once('listening', resolve))
    try {
      await assert.rejects(startS3({ port }), (err: Error) => {
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port} could not listen: the port is taken`))
        assert.match(err.message, /EADDRINUSE/, 'the log says why')
        return true
      })
    } finally {
      await new Promise((resolve) => squatter.close(resolve))
    }
  })

  it('does not outlive a test process that is killed -9 (which cleans nothing up)', async () => {
    const testkit = new URL('../src/index.js', import.meta.url).href
    const script = `
      import { startS3 } from ${JSON.stringify(testkit)}
      const s3 = await startS3()
      console.log(JSON.stringify({ pid: s3.pid, dir: s3.dir }))
      setInterval(() => {}, 1000)
    `
    let started: { pid: number; dir: string } | undefined
    try {
      const testProcess = await startProcess({ command: process.execPath, args: ['--input-type=module', '-e', script] })
      started = await waitFor(
        () => {
          const line = /^\{.*\}$/m.exec(testProcess.output())?.[0]
          return line ? (JSON.parse(line) as { pid: number; dir: string }) : undefined
        },
        { timeoutMs: 15_000, message: 'the script to start s3rver' },
      )
      const { pid } = started
      assert.ok(isAlive(pid))
      await testProcess.kill('SIGKILL')
      await waitFor(() => !isAlive(pid), { timeoutMs: 5000, message: `s3rver (pid ${pid}) to exit after its test process was killed` })
    } finally {
      if (started) {
        if (isAlive(started.pid)) process.kill(started.pid, 'SIGKILL')
        // The dead test process could not remove its temporary directory: that part is on us.
        rmSync(started.dir, { recursive: true, force: true })
      }
    }
  })

  it('the runner serves on its own, as npm start runs it (no IPC; it says where it listens)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-s3-runner-'))
    const port = await freePort()
    const runner = fileURLToPath(new URL('../src/s3rver-main.js', import.meta.url))
    let runnerProcess: ChildHandle | undefined
    try {
      runnerProcess = await startProcess({
        command: process.execPath,
        args: ['--openssl-legacy-provider', runner, '--directory', dir, '--port', String(port), '--bucket', 'sluice'],
        readyUrl: `http://127.0.0.1:${port}/sluice`,
      })
      const said = `listening on http://127.0.0.1:${port}, data in ${dir}, buckets sluice`
      assert.ok(runnerProcess.output().includes(said), runnerProcess.output())
      assert.equal((await fetch(`http://127.0.0.1:${port}/sluice/x`, { method: 'PUT', body: 'x' })).status, 200)
      assert.equal(readFileSync(join(dir, 'sluice', 'x._S3rver_object'), 'utf8'), 'x', 'data in the directory it was given')
    } finally {
      await runnerProcess?.kill('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
