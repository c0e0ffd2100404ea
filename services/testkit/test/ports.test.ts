import { it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { freePort, isPortFree } from '../src/index.js'

it('freePort gives distinct bindable ports outside the range listen(0) and outgoing connections use', async (t) => {
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()))
  assert.equal(new Set(ports).size, ports.length)
  for (const port of ports) assert.equal(await isPortFree(port), true)
  const rangeFile = '/proc/sys/net/ipv4/ip_local_port_range'
  if (!existsSync(rangeFile)) return t.skip('no Linux ephemeral port range to compare with')
  const low = Number(readFileSync(rangeFile, 'utf8').trim().split(/\s+/)[0])
  for (const port of ports) assert.ok(port < low, `${port} is inside the ephemeral range (from ${low})`)
})

it('isPortFree sees a listening port as taken', async () => {
  const srv = createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const address = srv.address()
  assert.ok(address !== null && typeof address === 'object')
  try {
    assert.equal(await isPortFree(address.port), false)
  } finally {
    srv.close()
  }
})
