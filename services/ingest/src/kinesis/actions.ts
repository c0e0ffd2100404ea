/**
 * The Kinesis actions, each mapped onto the same action functions as the REST API (no second
 * implementation): only the request members, the answer shapes and the error names differ.
 * Shapes and constraints follow the Kinesis API reference (Kinesis_20131202).
 */
import {
  MAX_PARTITION_KEY_LENGTH,
  MAX_READ_LIMIT,
  MAX_RECORDS_PER_PUT,
  MAX_RECORD_DATA_BYTES,
  MAX_RETENTION_HOURS,
  MIN_RETENTION_HOURS,
  STARTING_POSITIONS,
  STREAM_NAME_RE,
  base64DecodedLength,
  isBase64,
  parseShardId,
  type PutRecordEntry,
  type StartingPosition,
  type StreamDescription,
} from '@sluice/protocol'
import type { ActionContext } from '../context.js'
import { createStream } from '../actions/create-stream.js'
import { deleteStream } from '../actions/delete-stream.js'
import { describe, requireStream } from '../actions/describe-stream.js'
import { listStreams } from '../actions/list-streams.js'
import { putRecords } from '../actions/put-records.js'
import { getRecords, getShardIterator, type StartSpec } from '../actions/get-records.js'
import { setRetention } from '../actions/update-stream.js'
import { MAX_TAGS_PER_STREAM, MAX_TAG_KEY_LENGTH, MAX_TAG_VALUE_LENGTH, addTags, listTags, removeTags } from '../actions/tags.js'
import { ACCOUNT_ID, AwsValidation, KinesisError } from './errors.js'
import { arrayMember, enumMember, numberMember, objectAt, stringMember, type Body } from './members.js'

export interface CallContext {
  region: string
  /** Set by the action once it knows the stream, for error messages. */
  stream?: string
  /**
   * With SigV4 verification on: throws AccessDeniedException unless the caller's scopes allow this
   * action on the stream. Called (through namesStream) as soon as the stream is known, before any
   * lookup, so a denial never says whether the stream exists.
   */
  authorize?: (stream: string) => void
}

/** The action now knows its stream: remember it for messages, and check the caller may use it. */
function namesStream(call: CallContext, stream: string): void {
  call.stream = stream
  call.authorize?.(stream)
}

export type KinesisAction = (ctx: ActionContext, body: Body, call: CallContext) => Promise<Record<string, unknown>>

const STREAM_NAME_PATTERN = '[a-zA-Z0-9_.-]+'
/** AWS' rule for a stream name; "." and ".." pass it but are refused by CreateStream (see STREAM_NAME_RE). */
const AWS_STREAM_NAME_RE = /^[a-zA-Z0-9_.-]{1,128}$/
const ARN_RE = /^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/([a-zA-Z0-9_.-]{1,128})$/
const SEQUENCE_RE = /^(0|[1-9]\d{0,128})$/
const HASH_KEY_RE = /^(0|[1-9]\d{0,38})$/
const SHARD_ID_RE = /^[a-zA-Z0-9_.-]+$/
const SHARD_ID_PATTERN = '[a-zA-Z0-9_.-]+'
/** What AWS allows in tag keys and values: letters, digits, white space, _ . / = + - % @ */
const TAG_TEXT_RE = /^[\p{L}\p{N}\p{Z}\s_./=+\-%@]*$/u
const SHARD_FILTER_TYPES = ['AFTER_SHARD_ID', 'AT_TRIM_HORIZON', 'FROM_TRIM_HORIZON', 'AT_LATEST', 'AT_TIMESTAMP', 'FROM_TIMESTAMP'] as const

function arn(call: CallContext, stream: string): string {
  return `arn:aws:kinesis:${call.region}:${ACCOUNT_ID}:stream/${stream}`
}

/** The stream named by a StreamARN member, if there is one (checked as AWS checks it). */
function streamArnMember(body: Body, v: AwsValidation): string | undefined {
  const streamArn = stringMember(body, 'StreamARN', v, { min: 1, max: 2048, pattern: ARN_RE, patternText: 'arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+', path: 'streamARN' })
  return streamArn === undefined ? undefined : ARN_RE.exec(streamArn)?.[1]
}

/** StreamName, or the name inside StreamARN (AWS accepts either wherever a stream is named). */
function streamOf(body: Body, v: AwsValidation, call: CallContext): string {
  const name = stringMember(body, 'StreamName', v, { min: 1, max: 128, pattern: AWS_STREAM_NAME_RE, patternText: STREAM_NAME_PATTERN, path: 'streamName' })
  const fromArn = streamArnMember(body, v)
  v.throwIfAny()
  if (name !== undefined && fromArn !== undefined && name !== fromArn) {
    throw new KinesisError('InvalidArgumentException', 'StreamName and StreamARN name different streams.')
  }
  const stream = name ?? fromArn
  if (stream === undefined) throw new KinesisError('InvalidArgumentException', 'Either StreamName or StreamARN should be provided.')
  namesStream(call, stream)
  return stream
}

const seconds = (ms: number): number => ms / 1000

/** One page of a stream's shards: those after `after` (exclusive), at most `limit`. */
function shardPage(d: StreamDescription, after: string | undefined, limit: number): { shards: StreamDescription['shards']; more: boolean } {
  const start = after === undefined ? 0 : d.shards.findIndex((s) => s.shardId > after)
  if (start < 0) return { shards: [], more: false }
  return { shards: d.shards.slice(start, start + limit), more: start + limit < d.shards.length }
}

function streamSummaryShape(d: StreamDescription, call: CallContext): Record<string, unknown> {
  return {
    StreamName: d.name,
    StreamARN: arn(call, d.name),
    StreamStatus: d.status,
    StreamModeDetails: { StreamMode: 'PROVISIONED' },
    RetentionPeriodHours: d.retentionHours,
    StreamCreationTimestamp: seconds(d.createdAt),
    EnhancedMonitoring: [{ ShardLevelMetrics: [] }],
    EncryptionType: 'NONE',
  }
}

function shardShape(s: StreamDescription['shards'][number]): Record<string, unknown> {
  return {
    ShardId: s.shardId,
    HashKeyRange: { StartingHashKey: s.hashKeyRange.start, EndingHashKey: s.hashKeyRange.end },
    SequenceNumberRange: { StartingSequenceNumber: s.sequenceNumberRange.start, ...(s.sequenceNumberRange.end ? { EndingSequenceNumber: s.sequenceNumberRange.end } : {}) },
  }
}

function requireShardId(body: Body, v: AwsValidation): string {
  const shardId = stringMember(body, 'ShardId', v, { required: true, min: 1, max: 128, pattern: SHARD_ID_RE, patternText: SHARD_ID_PATTERN, path: 'shardId' })
  v.throwIfAny()
  return shardId!
}

function shardNotFound(shardId: string, stream: string): KinesisError {
  return new KinesisError('ResourceNotFoundException', `Shard ${shardId} in stream ${stream} under account ${ACCOUNT_ID} does not exist`)
}

/** Checks one record as AWS does; `at` is AWS' member path prefix ('' for PutRecord). */
function readRecord(record: Body, v: AwsValidation, at: string): PutRecordEntry {
  const data = record.Data
  if (data === undefined || data === null) v.add(null, `${at}data`, 'Member must not be null')
  else if (typeof data !== 'string' || !isBase64(data)) throw new KinesisError('SerializationException', `${at || ''}Data: expected base64-encoded bytes`)
  else if (base64DecodedLength(data) > MAX_RECORD_DATA_BYTES) v.add('java.nio.HeapByteBuffer', `${at}data`, `Member must have length less than or equal to ${MAX_RECORD_DATA_BYTES}`)
  const partitionKey = stringMember(record, 'PartitionKey', v, { required: true, min: 1, max: MAX_PARTITION_KEY_LENGTH, path: `${at}partitionKey` })
  const explicitHashKey = stringMember(record, 'ExplicitHashKey', v, { pattern: HASH_KEY_RE, patternText: '0|([1-9]\\d{0,38})', path: `${at}explicitHashKey` })
  return { partitionKey: partitionKey ?? '', data: typeof data === 'string' ? data : '', ...(explicitHashKey !== undefined ? { explicitHashKey } : {}) }
}

const SHARD_ITERATOR_TYPES = STARTING_POSITIONS

interface ShardFilter {
  type: (typeof SHARD_FILTER_TYPES)[number]
  shardId: string | undefined
  timestamp: number | undefined
}

/** ListShards' ShardFilter member, checked for types and constraints (collected into `v`). */
function readShardFilter(body: Body, v: AwsValidation): ShardFilter | undefined {
  if (body.ShardFilter === undefined || body.ShardFilter === null) return undefined
  const filter = objectAt(body.ShardFilter, 'ShardFilter')
  const type = enumMember(filter, 'Type', v, SHARD_FILTER_TYPES, { required: true, path: 'shardFilter.type' })
  const shardId = stringMember(filter, 'ShardId', v, { min: 1, max: 128, pattern: SHARD_ID_RE, patternText: SHARD_ID_PATTERN, path: 'shardFilter.shardId' })
  const timestamp = numberMember(filter, 'Timestamp', v, { path: 'shardFilter.timestamp' })
  return type === undefined ? undefined : { type, shardId, timestamp }
}

/**
 * Once the members are valid: checks the filter's combination as AWS does and returns the shard id
 * the listing starts after (AFTER_SHARD_ID), if any. Every shard is open and within retention until
 * resharding exists, so the other types (AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST,
 * AT_TIMESTAMP, FROM_TIMESTAMP) select every shard.
 */
function shardFilterStart({ type, shardId, timestamp }: ShardFilter): string | undefined {
  if (type === 'AFTER_SHARD_ID' && shardId === undefined) {
    throw new KinesisError('InvalidArgumentException', 'ShardId must be supplied in a ShardFilter of Type AFTER_SHARD_ID.')
  }
  if (type !== 'AFTER_SHARD_ID' && shardId !== undefined) {
    throw new KinesisError('InvalidArgumentException', `ShardId can only be supplied in a ShardFilter of Type AFTER_SHARD_ID, not ${type}.`)
  }
  const timed = type === 'AT_TIMESTAMP' || type === 'FROM_TIMESTAMP'
  if (timed && timestamp === undefined) throw new KinesisError('InvalidArgumentException', `Timestamp must be supplied in a ShardFilter of Type ${type}.`)
  if (!timed && timestamp !== undefined) {
    throw new KinesisError('InvalidArgumentException', `Timestamp can only be supplied in a ShardFilter of Type AT_TIMESTAMP or FROM_TIMESTAMP, not ${type}.`)
  }
  return shardId
}

/**
 * A Tags map as AddTagsToStream and CreateStream take it: `maxEntries` tags in one call, keys of 1 to
 * 128 characters and values of at most 256, in AWS' character set. `required`: AddTagsToStream
 * needs the member, CreateStream does not.
 */
function readTags(body: Body, v: AwsValidation, maxEntries: number, required: boolean): Record<string, string> | undefined {
  const tags = body.Tags === undefined || body.Tags === null ? undefined : objectAt(body.Tags, 'Tags')
  if (tags === undefined) {
    if (required) v.add(null, 'tags', 'Member must not be null')
    return undefined
  }
  const entries = Object.entries(tags)
  if (entries.length < 1) v.add('{}', 'tags', 'Member must have length greater than or equal to 1')
  if (entries.length > maxEntries) v.add(`{${entries.length} tags}`, 'tags', `Member must have length less than or equal to ${maxEntries}`)
  const clean: Record<string, string> = {}
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw new KinesisError('SerializationException', `Tags.${key}: expected a string`)
    if (key.length < 1 || key.length > MAX_TAG_KEY_LENGTH) v.add(key, 'tags', `Map keys must have length between 1 and ${MAX_TAG_KEY_LENGTH}`)
    if (value.length > MAX_TAG_VALUE_LENGTH) v.add(value, `tags.${key}`, `Member must have length less than or equal to ${MAX_TAG_VALUE_LENGTH}`)
    clean[key] = value
  }
  return clean
}

/** Once the members are valid (AWS checks the characters after the constraints). */
function refuseTagText(tags: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(tags)) {
    if (!TAG_TEXT_RE.test(key) || !TAG_TEXT_RE.test(value)) {
      throw new KinesisError('InvalidArgumentException', 'Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @.')
    }
  }
}

async function changeRetention(ctx: ActionContext, body: Body, call: CallContext, direction: 'Increase' | 'Decrease'): Promise<Record<string, unknown>> {
  const v = new AwsValidation()
  const hours = numberMember(body, 'RetentionPeriodHours', v, { required: true, integer: true, path: 'retentionPeriodHours' })
  const stream = streamOf(body, v, call)
  const current = (await requireStream(ctx, stream)).stored.retentionHours
  if (hours! < MIN_RETENTION_HOURS) {
    throw new KinesisError('InvalidArgumentException', `Minimum allowed retention period is ${MIN_RETENTION_HOURS} hours. Requested retention period (${hours} hours) is too short.`)
  }
  if (hours! > MAX_RETENTION_HOURS) {
    throw new KinesisError('InvalidArgumentException', `Maximum allowed retention period is ${MAX_RETENTION_HOURS} hours. Requested retention period (${hours} hours) is too long.`)
  }
  if (direction === 'Increase' && hours! < current) {
    throw new KinesisError('InvalidArgumentException', `Requested retention period (${hours} hours) for stream ${stream} can not be shorter than existing retention period (${current} hours). Use DecreaseRetentionPeriod API.`)
  }
  if (direction === 'Decrease' && hours! > current) {
    throw new KinesisError('InvalidArgumentException', `Requested retention period (${hours} hours) for stream ${stream} can not be longer than existing retention period (${current} hours). Use IncreaseRetentionPeriod API.`)
  }
  await setRetention(ctx, stream, hours!)
  return {}
}

export const KINESIS_ACTIONS: Record<string, KinesisAction> = {
  async CreateStream(ctx, body, call) {
    const v = new AwsValidation()
    const name = stringMember(body, 'StreamName', v, { required: true, min: 1, max: 128, pattern: AWS_STREAM_NAME_RE, patternText: STREAM_NAME_PATTERN, path: 'streamName' })
    const shardCount = numberMember(body, 'ShardCount', v, { integer: true, min: 1, max: 100_000, path: 'shardCount' })
    // AWS takes up to 200 tags here; a stream holds at most MAX_TAGS_PER_STREAM of them.
    const tags = readTags(body, v, 200, false)
    v.throwIfAny()
    if (!STREAM_NAME_RE.test(name!)) {
      throw new KinesisError('InvalidArgumentException', 'Stream names "." and ".." are not allowed here: the REST API could not address them in a URL path.')
    }
    if (tags) refuseTagText(tags)
    if (tags && Object.keys(tags).length > MAX_TAGS_PER_STREAM) {
      throw new KinesisError('InvalidArgumentException', `A stream cannot have more than ${MAX_TAGS_PER_STREAM} tags; ${Object.keys(tags).length} were given.`)
    }
    namesStream(call, name!)
    const mode = (body.StreamModeDetails as { StreamMode?: unknown } | undefined)?.StreamMode
    if (mode !== undefined && mode !== 'PROVISIONED') {
      throw new KinesisError('InvalidArgumentException', 'Sluice streams have a fixed shard count: StreamMode must be PROVISIONED.')
    }
    if (shardCount === undefined) throw new KinesisError('InvalidArgumentException', 'ShardCount is required for a PROVISIONED stream.')
    if (shardCount > ctx.limits.maxShards) {
      throw new KinesisError('LimitExceededException', `This request would exceed the shard limit for the stream: at most ${ctx.limits.maxShards} shards (SLUICE_MAX_SHARDS).`)
    }
    await createStream(ctx, { name: name!, shardCount }, tags)
    return {}
  },

  async DeleteStream(ctx, body, call) {
    const stream = streamOf(body, new AwsValidation(), call)
    await deleteStream(ctx, stream)
    return {}
  },

  async DescribeStream(ctx, body, call) {
    const v = new AwsValidation()
    const limit = numberMember(body, 'Limit', v, { integer: true, min: 1, max: 10_000, path: 'limit' }) ?? 100
    const after = stringMember(body, 'ExclusiveStartShardId', v, { min: 1, max: 128, pattern: SHARD_ID_RE, patternText: SHARD_ID_PATTERN, path: 'exclusiveStartShardId' })
    const stream = streamOf(body, v, call)
    const d = describe(await requireStream(ctx, stream))
    const page = shardPage(d, after, limit)
    return { StreamDescription: { ...streamSummaryShape(d, call), Shards: page.shards.map(shardShape), HasMoreShards: page.more } }
  },

  async DescribeStreamSummary(ctx, body, call) {
    const stream = streamOf(body, new AwsValidation(), call)
    const d = describe(await requireStream(ctx, stream))
    return { StreamDescriptionSummary: { ...streamSummaryShape(d, call), OpenShardCount: d.shardCount, ConsumerCount: 0 } }
  },

  async ListStreams(ctx, body, call) {
    const v = new AwsValidation()
    const limit = numberMember(body, 'Limit', v, { integer: true, min: 1, max: 10_000, path: 'limit' }) ?? 100
    const after = stringMember(body, 'ExclusiveStartStreamName', v, { min: 1, max: 128, pattern: AWS_STREAM_NAME_RE, patternText: STREAM_NAME_PATTERN, path: 'exclusiveStartStreamName' })
    const token = stringMember(body, 'NextToken', v, { min: 1, max: 1048576, path: 'nextToken' })
    v.throwIfAny()
    let next: string | undefined = token
    if (next === undefined && after !== undefined) next = Buffer.from(after, 'utf8').toString('base64url')
    let page
    try {
      page = await listStreams(ctx, { limit: Math.min(limit, 1000), ...(next !== undefined ? { next } : {}) })
    } catch (err) {
      if (token !== undefined) throw new KinesisError('InvalidArgumentException', 'NextToken is not a token this service issued.', { cause: err })
      throw err
    }
    return {
      StreamNames: page.streams.map((s) => s.name),
      HasMoreStreams: page.next !== undefined,
      ...(page.next !== undefined ? { NextToken: page.next } : {}),
      StreamSummaries: page.streams.map((s) => ({
        StreamName: s.name,
        StreamARN: arn(call, s.name),
        StreamStatus: s.status,
        StreamModeDetails: { StreamMode: 'PROVISIONED' },
        StreamCreationTimestamp: seconds(s.createdAt),
      })),
    }
  },

  async ListShards(ctx, body, call) {
    const v = new AwsValidation()
    const max = numberMember(body, 'MaxResults', v, { integer: true, min: 1, max: 10_000, path: 'maxResults' }) ?? 1000
    const token = stringMember(body, 'NextToken', v, { min: 1, max: 1048576, path: 'nextToken' })
    let after = stringMember(body, 'ExclusiveStartShardId', v, { min: 1, max: 128, pattern: SHARD_ID_RE, patternText: SHARD_ID_PATTERN, path: 'exclusiveStartShardId' })
    // Accepted, not compared: a name belongs to one stream at a time here, and a stream deleted and made
    // again is told apart by the iterators' and tokens' generation, not by this member.
    const createdAt = numberMember(body, 'StreamCreationTimestamp', v, { path: 'streamCreationTimestamp' })
    const filter = readShardFilter(body, v)
    let stream: string
    if (token !== undefined) {
      v.throwIfAny()
      if (body.StreamName !== undefined || body.StreamARN !== undefined) {
        throw new KinesisError('InvalidArgumentException', 'NextToken and StreamName cannot be provided together.')
      }
      if (after !== undefined) throw new KinesisError('InvalidArgumentException', 'NextToken and ExclusiveStartShardId cannot be provided together.')
      if (createdAt !== undefined) throw new KinesisError('InvalidArgumentException', 'NextToken and StreamCreationTimestamp cannot be provided together.')
      const decoded = Buffer.from(token, 'base64url').toString('utf8').split('\n')
      if (decoded.length !== 2 || !STREAM_NAME_RE.test(decoded[0]!) || parseShardId(decoded[1]!) === null) {
        throw new KinesisError('InvalidArgumentException', 'NextToken is not a token this service issued.')
      }
      stream = decoded[0]!
      after = decoded[1]!
      namesStream(call, stream)
    } else {
      stream = streamOf(body, v, call)
    }
    const filterAfter = filter ? shardFilterStart(filter) : undefined
    // Both are exclusive starts: the later one wins. (Shard ids of one width compare as strings.)
    if (filterAfter !== undefined && (after === undefined || filterAfter > after)) after = filterAfter
    const d = describe(await requireStream(ctx, stream))
    const page = shardPage(d, after, max)
    const last = page.shards[page.shards.length - 1]
    return {
      Shards: page.shards.map(shardShape),
      ...(page.more && last ? { NextToken: Buffer.from(`${stream}\n${last.shardId}`, 'utf8').toString('base64url') } : {}),
    }
  },

  async PutRecord(ctx, body, call) {
    const v = new AwsValidation()
    const record = readRecord(body, v, '')
    stringMember(body, 'SequenceNumberForOrdering', v, { pattern: SEQUENCE_RE, patternText: '0|([1-9]\\d{0,128})', path: 'sequenceNumberForOrdering' })
    const stream = streamOf(body, v, call)
    // Sequence numbers of a shard always increase, so SequenceNumberForOrdering's guarantee holds.
    const outcome = await putRecords(ctx, stream, [record])
    const r = outcome.response.records[0]!
    if ('errorCode' in r) {
      if (r.errorCode === 'ProvisionedThroughputExceeded') throw new KinesisError('ProvisionedThroughputExceededException', `${r.errorMessage} under account ${ACCOUNT_ID}.`)
      throw new KinesisError('InternalFailure', r.errorMessage)
    }
    return { ShardId: r.shardId, SequenceNumber: r.sequenceNumber, EncryptionType: 'NONE' }
  },

  async PutRecords(ctx, body, call) {
    const v = new AwsValidation()
    const list = arrayMember(body, 'Records')
    if (list === undefined) v.add(null, 'records', 'Member must not be null')
    else if (list.length < 1) v.add('[]', 'records', 'Member must have length greater than or equal to 1')
    else if (list.length > MAX_RECORDS_PER_PUT) v.add(`[${list.length} records]`, 'records', `Member must have length less than or equal to ${MAX_RECORDS_PER_PUT}`)
    const records = (list ?? []).slice(0, MAX_RECORDS_PER_PUT).map((r, i) => readRecord(objectAt(r, `Records.${i}`), v, `records.${i + 1}.member.`))
    const stream = streamOf(body, v, call)
    const outcome = await putRecords(ctx, stream, records)
    return {
      FailedRecordCount: outcome.response.failedRecordCount,
      Records: outcome.response.records.map((r) =>
        'errorCode' in r
          ? { ErrorCode: r.errorCode === 'ProvisionedThroughputExceeded' ? 'ProvisionedThroughputExceededException' : 'InternalFailure', ErrorMessage: r.errorMessage }
          : { ShardId: r.shardId, SequenceNumber: r.sequenceNumber },
      ),
      EncryptionType: 'NONE',
    }
  },

  async GetShardIterator(ctx, body, call) {
    const v = new AwsValidation()
    const type = enumMember(body, 'ShardIteratorType', v, SHARD_ITERATOR_TYPES, { required: true, path: 'shardIteratorType' })
    const sequenceNumber = stringMember(body, 'StartingSequenceNumber', v, { pattern: SEQUENCE_RE, patternText: '0|([1-9]\\d{0,128})', path: 'startingSequenceNumber' })
    const timestamp = numberMember(body, 'Timestamp', v, { path: 'timestamp' })
    const shardId = requireShardId(body, v)
    const stream = streamOf(body, v, call)
    const from = type as StartingPosition
    const bySequence = from === 'AT_SEQUENCE_NUMBER' || from === 'AFTER_SEQUENCE_NUMBER'
    if (bySequence && sequenceNumber === undefined) {
      throw new KinesisError('InvalidArgumentException', `Must specify StartingSequenceNumber for ${from} ShardIteratorType.`)
    }
    if (!bySequence && sequenceNumber !== undefined) {
      throw new KinesisError(
        'InvalidArgumentException',
        `Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified ${from} and also a StartingSequenceNumber.`,
      )
    }
    let timestampMs: number | undefined
    if (from === 'AT_TIMESTAMP') {
      if (timestamp === undefined) {
        throw new KinesisError('InvalidArgumentException', 'Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.')
      }
      timestampMs = Math.max(0, Math.round(timestamp * 1000))
    }
    const view = await requireStream(ctx, stream)
    const index = parseShardId(shardId)
    if (index === null || index >= view.stored.shardCount) throw shardNotFound(shardId, stream)
    const spec: StartSpec = { from }
    if (from === 'AT_SEQUENCE_NUMBER' || from === 'AFTER_SEQUENCE_NUMBER') spec.sequenceNumber = sequenceNumber!
    if (timestampMs !== undefined) spec.timestampMs = timestampMs
    try {
      return { ShardIterator: await getShardIterator(ctx, stream, shardId, spec) }
    } catch (err) {
      // The shared check refuses a start in the future (startPosition): in AWS' words.
      if (err instanceof Error && 'code' in err && err.code === 'ValidationError' && 'field' in err && err.field === 'timestamp') {
        throw new KinesisError(
          'InvalidArgumentException',
          `The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: ${timestampMs}, currentTimestampInMillis: ${ctx.now()}`,
          { cause: err },
        )
      }
      // A sequence number of another shard or not of this service: Kinesis calls that an invalid argument.
      if (err instanceof Error && 'code' in err && err.code === 'ValidationError') {
        throw new KinesisError('InvalidArgumentException', `StartingSequenceNumber ${sequenceNumber} used in GetShardIterator on shard ${shardId} in stream ${stream} under account ${ACCOUNT_ID} is invalid.`, { cause: err })
      }
      throw err
    }
  },

  IncreaseStreamRetentionPeriod: (ctx, body, call) => changeRetention(ctx, body, call, 'Increase'),
  DecreaseStreamRetentionPeriod: (ctx, body, call) => changeRetention(ctx, body, call, 'Decrease'),

  async AddTagsToStream(ctx, body, call) {
    const v = new AwsValidation()
    // The API reference: up to 10 tags per call.
    const clean = readTags(body, v, 10, true) ?? {}
    const stream = streamOf(body, v, call)
    refuseTagText(clean)
    try {
      await addTags(ctx, stream, clean)
    } catch (err) {
      if (err instanceof Error && 'code' in err && err.code === 'ValidationError') {
        throw new KinesisError('InvalidArgumentException', `Failed to add tags to stream ${stream} under account ${ACCOUNT_ID} because a given stream cannot have more than 50 tags.`, { cause: err })
      }
      throw err
    }
    return {}
  },

  async RemoveTagsFromStream(ctx, body, call) {
    const v = new AwsValidation()
    const keys = arrayMember(body, 'TagKeys')
    if (keys === undefined) v.add(null, 'tagKeys', 'Member must not be null')
    else if (keys.length < 1 || keys.length > 50) v.add(`[${keys.length} keys]`, 'tagKeys', 'Member must have length between 1 and 50')
    for (const k of keys ?? []) {
      if (typeof k !== 'string') throw new KinesisError('SerializationException', 'TagKeys: expected a list of strings')
      if (k.length < 1 || k.length > MAX_TAG_KEY_LENGTH) v.add(k, 'tagKeys', `Member must satisfy constraint: [Member must have length less than or equal to ${MAX_TAG_KEY_LENGTH}, Member must have length greater than or equal to 1]`)
    }
    const stream = streamOf(body, v, call)
    await removeTags(ctx, stream, (keys ?? []) as string[])
    return {}
  },

  async ListTagsForStream(ctx, body, call) {
    const v = new AwsValidation()
    const after = stringMember(body, 'ExclusiveStartTagKey', v, { min: 1, max: MAX_TAG_KEY_LENGTH, path: 'exclusiveStartTagKey' })
    const limit = numberMember(body, 'Limit', v, { integer: true, min: 1, max: 50, path: 'limit' }) ?? 50
    const stream = streamOf(body, v, call)
    const all = await listTags(ctx, stream)
    const from = after === undefined ? all : all.filter((t) => t.key > after)
    return { Tags: from.slice(0, limit).map((t) => ({ Key: t.key, Value: t.value })), HasMoreTags: from.length > limit }
  },

  async DescribeLimits(ctx) {
    // Sluice caps shards per stream (SLUICE_MAX_SHARDS), not per account; the open count is every stream's.
    let open = 0
    let next: string | undefined
    do {
      const page = await listStreams(ctx, { limit: 1000, ...(next !== undefined ? { next } : {}) })
      for (const s of page.streams) open += s.shardCount
      next = page.next
    } while (next !== undefined)
    return { ShardLimit: ctx.limits.maxShards, OpenShardCount: open, OnDemandStreamCount: 0, OnDemandStreamCountLimit: 0 }
  },

  async GetRecords(ctx, body, call) {
    const v = new AwsValidation()
    const iterator = stringMember(body, 'ShardIterator', v, { required: true, min: 1, max: 512, path: 'shardIterator' })
    const limit = numberMember(body, 'Limit', v, { integer: true, min: 1, max: 10_000, path: 'limit' })
    const fromArn = streamArnMember(body, v)
    v.throwIfAny()
    // The iterator names the stream; one that does not decode is refused by getRecords itself.
    const decoded = ctx.iterators.decode(iterator!, ctx.now())
    if (decoded.ok) {
      namesStream(call, decoded.position.stream)
      // StreamARN is optional here (the iterator says which stream): when given, it must agree.
      if (fromArn !== undefined && fromArn !== decoded.position.stream) {
        throw new KinesisError('InvalidArgumentException', `StreamARN names stream ${fromArn}, but the shard iterator is for stream ${decoded.position.stream}.`)
      }
    }
    // AWS' default is the most a call may ask for (10,000; REST's default is 1,000); the 10 MiB cap
    // of one answer holds either way.
    const answer = await getRecords(ctx, { iterator: iterator!, limit: limit ?? MAX_READ_LIMIT })
    return {
      Records: answer.records.map((r) => ({
        SequenceNumber: r.sequenceNumber,
        ApproximateArrivalTimestamp: seconds(r.approximateArrivalTimestamp),
        Data: r.data,
        PartitionKey: r.partitionKey,
      })),
      NextShardIterator: answer.nextIterator,
      MillisBehindLatest: answer.millisBehindLatest,
    }
  },
}
