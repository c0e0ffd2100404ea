/**
 * Free ports for servers that tests start.
 *
 * A port is handed out here and bound later by another process (redis-server, the ingest service), so
 * something else may take it in between. The usual trick, listen(0), picks from the kernel's
 * ephemeral range — the same range the kernel uses for every outgoing connection and every other
 * listen(0), such as an in-process app in a test file running in parallel. So ports are picked at
 * random below that range, where nothing is handed out automatically; only if the range leaves no
 * room below it does the kernel choose.
 */
import { randomInt } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/** Lowest port picked at random: below it live well-known and registered services. */
const FLOOR = 10_000

/** The kernel's ephemeral port range (Linux; elsewhere the IANA range). */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (low !== undefined && high !== undefined && Number.isInteger(low) && Number.isInteger(high)) return [low, high]
  } catch {
    // Not Linux.
  }
  return [49152, 65535]
}

/** Whether `port` on 127.0.0.1 can be bound right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

function kernelChosenPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      if (address === null || typeof address === 'string') {
        srv.close()
        reject(new Error(`unexpected listen address ${String(address)}`))
        return
      }
      srv.close(() => resolve(address.port))
    })
  })
}

async function allFree(ports: readonly number[]): Promise<boolean> {
  for (const port of ports) if (!(await isPortFree(port))) return false
  return true
}

/**
 * A port P on 127.0.0.1 that is free, with P + each of `offsets` free too (a cluster node also
 * listens on its bus port, P + 10000).
 */
export async function freePortWith(offsets: readonly number[] = []): Promise<number> {
  const span = Math.max(0, ...offsets)
  const [ephemeralLow] = ephemeralRange()
  const high = ephemeralLow - 1 - span
  if (high - FLOOR >= 1000) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const port = randomInt(FLOOR, high + 1)
      if (await allFree([port, ...offsets.map((o) => port + o)])) return port
    }
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await kernelChosenPort()
    if (port + span <= 65535 && (await allFree(offsets.map((o) => port + o)))) return port
  }
  throw new Error(`found no free port${span ? ` with port + ${offsets.join(', +')} free too` : ''}`)
}

/** A TCP port on 127.0.0.1 that was free a moment ago, outside the range the kernel hands out itself. */
export function freePort(): Promise<number> {
  return freePortWith()
}
