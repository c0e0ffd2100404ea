/**
 * SIGTERM under load (about 2,000 records/s): every request that reached the server gets an answer
 * (no reset connection), every acknowledged record is in the stream, and the process exits 0.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, startProcess, startRedis, waitFor } from '@sluice/testkit'
import { b64, readAll, request, startSluice } from './harness.js'

const serverJs = fileURLToPath(new URL('../src/server.js', import.meta.url))

describe('graceful shutdown', () => {
  const cleanup: Array<() => Promise<unknown>> = []
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined)
  })

  it('answers every request it received, loses no acknowledged record, and exits 0 on SIGTERM', async () => {
    const redis = await startRedis()
    cleanup.push(() => redis.close())
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-shutdown-'))
    cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }))
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const ingest = await startProcess({
      command: process.execPath,
      args: [serverJs],
      env: { SLUICE_REDIS_URL: redis.url, SLUICE_PORT: String(port), SLUICE_DATA_DIR: dataDir, SLUICE_LOG_LEVEL: 'warn', SLUICE_SHUTDOWN_TIMEOUT_MS: '5000' },
      readyUrl: `${base}/readyz`,
    })
    cleanup.push(() => ingest.kill('SIGKILL'))
    assert.equal((await request(base, 'POST', '/v1/streams', { name: 'sd', shardCount: 4 })).status, 201)

    const acknowledged: string[] = []
    const failures: string[] = []
    let answeredWhileDraining = 0
    let sigtermAt = 0
    let n = 0
    // 8 producers x 25 requests/s x 10 records = 2,000 records/s, on keep-alive connections.
    const producer = async () => {
      for (;;) {
        const started = Date.now()
        const records = Array.from({ length: 10 }, () => ({ partitionKey: `k${++n}`, data: b64(`v${n}`) }))
        let res: Response
        try {
          res = await fetch(`${base}/v1/streams/sd/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ records }) })
        } catch (err) {
          const code = (err as { cause?: { code?: string } }).cause?.code
          // Refused: the listener is gone, so the request never reached the server. Anything else
          // (a reset, a closed socket) is a request the server received and did not answer.
          if (code !== 'ECONNREFUSED') failures.push(`${code ?? (err as Error).message}`)
          return
        }
        const body = (await res.json()) as any
        if (res.status === 200) {
          body.records.forEach((r: any, i: number) => r.sequenceNumber && acknowledged.push(`${r.sequenceNumber} ${records[i]!.partitionKey}`))
        } else {
          failures.push(`status ${res.status} ${JSON.stringify(body).slice(0, 100)}`)
        }
        if (sigtermAt && res.headers.get('connection') === 'close') answeredWhileDraining++
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, 40 - (Date.now() - started))))
      }
    }
    const producers = Array.from({ length: 8 }, producer)
    await waitFor(() => acknowledged.length >= 1000, { timeoutMs: 15_000, message: '1,000 records acknowledged' })
    sigtermAt = Date.now()
    const exitCode = ingest.kill('SIGTERM')
    await Promise.all(producers)
    assert.equal(await exitCode, 0, ingest.output())
    assert.ok(Date.now() - sigtermAt < 6000, 'exited within the shutdown timeout')
    assert.deepEqual(failures, [], 'every request that reached the server was answered')
    assert.ok(answeredWhileDraining > 0, 'requests on open connections were still served while draining')

    const s = await startSluice({ redis, env: { SLUICE_SHARD_READS_PER_SECOND: '1000' } })
    cleanup.push(() => s.close())
    const present = new Set<string>()
    for (let i = 0; i < 4; i++) for (const r of await readAll(s, 'sd', `shardId-00000000000${i}`)) present.add(`${r.sequenceNumber} ${r.partitionKey}`)
    const lost = acknowledged.filter((a) => !present.has(a))
    assert.equal(lost.length, 0, `${lost.length} acknowledged records missing`)
  })

  it('a connection that never sends a byte neither holds close() open nor stays past the headers timeout', async () => {
    const s = await startSluice()
    cleanup.push(() => s.close())
    const { port, hostname } = new URL(s.url)
    const silent = async (): Promise<Socket> => {
      const socket = connect(Number(port), hostname)
      await once(socket, 'connect')
      return socket
    }
    s.app.server.headersTimeout = 300
    const dropped = await silent()
    const t0 = Date.now()
    await once(dropped, 'close')
    assert.ok(Date.now() - t0 < 2000, `closed by the server after ${Date.now() - t0} ms`)

    s.app.server.headersTimeout = 60_000
    const lingering = await silent()
    const lingeringClosed = once(lingering, 'close')
    const c0 = Date.now()
    await s.close()
    assert.ok(Date.now() - c0 < 2000, `close() took ${Date.now() - c0} ms`)
    await lingeringClosed
  })
})
