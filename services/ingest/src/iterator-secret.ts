/**
 * The key that signs shard iterators. From SLUICE_ITERATOR_SECRET when set (required when several
 * ingest processes serve the same streams, so each accepts the others' iterators); otherwise
 * generated once into <dataDir>/iterator-secret, so iterators survive a restart of this process.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export function resolveIteratorSecret(configured: string | undefined, dataDir: string): Buffer {
  if (configured !== undefined) return Buffer.from(configured, 'utf8')
  const file = join(dataDir, 'iterator-secret')
  try {
    const hex = readFileSync(file, 'utf8').trim()
    if (/^[0-9a-f]{64}$/.test(hex)) return Buffer.from(hex, 'hex')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(32)
  try {
    // 'wx': if another process created it meanwhile, use theirs.
    writeFileSync(file, secret.toString('hex') + '\n', { mode: 0o600, flag: 'wx' })
    return secret
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex')
  }
}
