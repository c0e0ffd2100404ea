/**
 * The AWS CLI (installed by `npm test` when missing) against the Kinesis endpoint, changing only
 * --endpoint-url: the commands a developer types work unchanged.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startSluice, type Sluice } from './harness.js'

const run = promisify(execFile)

describe('AWS CLI', () => {
  let s: Sluice
  let home: string
  let v2 = false
  before(async () => {
    s = await startSluice({ env: { SLUICE_SHARD_READS_PER_SECOND: '1000' } })
    home = mkdtempSync(join(tmpdir(), 'sluice-awscli-'))
    const version = await run('aws', ['--version'])
    v2 = /aws-cli\/2\./.test(version.stdout + version.stderr)
  })
  after(async () => {
    await s.close()
    rmSync(home, { recursive: true, force: true })
  })

  const aws = async (...args: string[]): Promise<any> => {
    const { stdout } = await run('aws', ['--endpoint-url', s.url, '--output', 'json', 'kinesis', ...args], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_PAGER: '',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      timeout: 60_000,
    })
    return stdout.trim() ? JSON.parse(stdout) : {}
  }
  // CLI v2 reads --data as base64 unless told otherwise; v1 sends the text as given.
  const raw = () => (v2 ? ['--cli-binary-format', 'raw-in-base64-out'] : [])

  it('creates, writes, reads, lists, describes and deletes a stream', async () => {
    await aws('create-stream', '--stream-name', 'cli', '--shard-count', '2')
    const summary = await aws('describe-stream-summary', '--stream-name', 'cli')
    assert.equal(summary.StreamDescriptionSummary.StreamStatus, 'ACTIVE')
    assert.equal(summary.StreamDescriptionSummary.OpenShardCount, 2)
    const shards = await aws('list-shards', '--stream-name', 'cli')
    assert.deepEqual(shards.Shards.map((x: any) => x.ShardId), ['shardId-000000000000', 'shardId-000000000001'])

    const one = await aws('put-record', '--stream-name', 'cli', '--partition-key', 'k1', '--data', 'hello-cli', ...raw())
    assert.match(one.SequenceNumber, /^1\d{41}$/)
    const many = await aws('put-records', '--stream-name', 'cli', '--records', JSON.stringify([{ PartitionKey: 'k1', Data: 'second' }, { PartitionKey: 'k1', Data: 'third' }]), ...raw())
    assert.equal(many.FailedRecordCount, 0)

    const it = await aws('get-shard-iterator', '--stream-name', 'cli', '--shard-id', one.ShardId, '--shard-iterator-type', 'TRIM_HORIZON')
    const got = await aws('get-records', '--shard-iterator', it.ShardIterator)
    const texts = got.Records.map((r: any) => Buffer.from(r.Data, 'base64').toString())
    assert.deepEqual(texts, ['hello-cli', 'second', 'third'])
    assert.equal(got.Records[0].SequenceNumber, one.SequenceNumber)
    // What the CLI wrote, the REST API reads.
    const rest = await s.request('GET', `/v1/streams/cli/shards/${one.ShardId}/records?from=TRIM_HORIZON`)
    assert.equal(Buffer.from(rest.body.records[0].data, 'base64').toString(), 'hello-cli')

    await aws('delete-stream', '--stream-name', 'cli')
    assert.equal((await s.request('GET', '/v1/streams/cli')).status, 404)
    await assert.rejects(aws('describe-stream-summary', '--stream-name', 'cli'), /ResourceNotFoundException/)
  })
})
