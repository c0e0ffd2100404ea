/**
 * Bad input over every route, REST and Kinesis (JSON and CBOR): each case gets its intended 4xx and a
 * message naming the problem (REST: the error code and the field; Kinesis: AWS' __type). Afterwards
 * the Redis keyspace holds nothing outside `sluice:`, nothing of a stream or group that a refused
 * request named, and no record at all (no case may write one). The results go to the test output.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { decode as cborDecode, encode as cborEncode } from 'cbor-x'
import { sequenceNumberFromEntryId } from '@sluice/protocol'
import { redisCommand } from '@sluice/testkit'
import { readAll, startSluice, type Sluice } from './harness.js'

type Lazy<T> = T | (() => T)
const resolve = <T>(v: Lazy<T>): T => (typeof v === 'function' ? (v as () => T)() : v)

interface Case {
  name: string
  method: string
  path: Lazy<string>
  /** Sent as JSON (application/json unless raw or headers say otherwise). */
  body?: Lazy<unknown>
  raw?: { text: Lazy<string | Uint8Array>; contentType: string }
  headers?: Record<string, string>
  status: number
  /** REST: error.code; Kinesis: __type */
  code: string
  /** REST: the field the error must name (error.field or one of details[].field). */
  field?: string
  /** What the message must say; by default the field. */
  says?: RegExp
}

const MiB = 1024 * 1024
const rec = (over: Record<string, unknown> = {}) => ({ partitionKey: 'k', data: 'AAAA', ...over })
const put = '/v1/streams/target/records'
const read = '/v1/streams/target/shards/shardId-000000000000/records'
const groups = '/v1/streams/target/groups'
const heartbeat = `${groups}/g/workers/w1/heartbeat`
const checkpointPath = `${groups}/g/shards/shardId-000000000000/checkpoint`
/** A well-formed sequence number of shard 0 that no record has. */
const SEQ0 = `1${'000001700000000'}${'0'.repeat(20)}000000`
/** The position before any record of shard 0: never past its newest record. */
const SEQ_FIRST = sequenceNumberFromEntryId('0-0', 0)
const deepJson = (levels: number) => '['.repeat(levels) + ']'.repeat(levels)
const json = (text: string) => ({ text, contentType: 'application/json' })
/** `{"name":"<bad bytes>","shardCount":1}` with a byte that is never valid UTF-8. */
const invalidUtf8 = (before: string, after: string) => Buffer.concat([Buffer.from(before), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(after)])

/** Iterators made in before(): a good one to tamper with, one of the other shard, expired ones. */
const iterators = { good: '', otherShard: '', expired: '', kinesisGood: '', kinesisExpired: '' }
/** Changes one character inside the signed payload (the last characters of the MAC may only carry padding bits). */
const tamper = (token: string) => token.slice(0, 5) + (token[5] === 'A' ? 'B' : 'A') + token.slice(6)

const restCases: Case[] = [
  // create
  { name: 'create: empty body object', method: 'POST', path: '/v1/streams', body: {}, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: name with a brace', method: 'POST', path: '/v1/streams', body: { name: 'a{b', shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: name with a closing brace', method: 'POST', path: '/v1/streams', body: { name: 'a}b', shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: name with a colon', method: 'POST', path: '/v1/streams', body: { name: 'a:b', shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: name with a slash', method: 'POST', path: '/v1/streams', body: { name: 'a/b', shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: 129-character name', method: 'POST', path: '/v1/streams', body: { name: 'n'.repeat(129), shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: empty name', method: 'POST', path: '/v1/streams', body: { name: '', shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  // URL paths cannot carry these: clients remove the dot segments before sending.
  { name: 'create: the name "."', method: 'POST', path: '/v1/streams', body: { name: '.', shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: the name ".."', method: 'POST', path: '/v1/streams', body: { name: '..', shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: a 60,000-character name', method: 'POST', path: '/v1/streams', body: { name: 'n'.repeat(60_000), shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: name as a number', method: 'POST', path: '/v1/streams', body: { name: 7, shardCount: 1 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'create: shardCount 0', method: 'POST', path: '/v1/streams', body: { name: 'x1', shardCount: 0 }, status: 400, code: 'ValidationError', field: 'shardCount' },
  { name: 'create: shardCount as a string', method: 'POST', path: '/v1/streams', body: { name: 'x2', shardCount: '2' }, status: 400, code: 'ValidationError', field: 'shardCount' },
  { name: 'create: fractional shardCount', method: 'POST', path: '/v1/streams', body: { name: 'x3', shardCount: 1.5 }, status: 400, code: 'ValidationError', field: 'shardCount' },
  { name: 'create: shardCount over SLUICE_MAX_SHARDS', method: 'POST', path: '/v1/streams', body: { name: 'x9', shardCount: 5000 }, status: 400, code: 'ValidationError', field: 'shardCount', says: /SLUICE_MAX_SHARDS/ },
  { name: 'create: retention below 24 h', method: 'POST', path: '/v1/streams', body: { name: 'x4', shardCount: 1, retentionHours: 23 }, status: 400, code: 'ValidationError', field: 'retentionHours' },
  { name: 'create: retention above 8760 h', method: 'POST', path: '/v1/streams', body: { name: 'x5', shardCount: 1, retentionHours: 8761 }, status: 400, code: 'ValidationError', field: 'retentionHours' },
  { name: 'create: retention null', method: 'POST', path: '/v1/streams', body: { name: 'x10', shardCount: 1, retentionHours: null }, status: 400, code: 'ValidationError', field: 'retentionHours' },
  { name: 'create: unknown member', method: 'POST', path: '/v1/streams', body: { name: 'x6', shardCount: 1, shards: 2 }, status: 400, code: 'ValidationError', field: 'shards' },
  { name: 'create: zero write limit', method: 'POST', path: '/v1/streams', body: { name: 'x7', shardCount: 1, writeLimits: { recordsPerSecond: 0 } }, status: 400, code: 'ValidationError', field: 'writeLimits.recordsPerSecond' },
  { name: 'create: writeLimits as a list', method: 'POST', path: '/v1/streams', body: { name: 'x11', shardCount: 1, writeLimits: [1, 2] }, status: 400, code: 'ValidationError', field: 'writeLimits' },
  { name: 'create: not JSON', method: 'POST', path: '/v1/streams', raw: json('{"name": '), status: 400, code: 'ValidationError', field: 'body', says: /not valid JSON/ },
  { name: 'create: empty JSON body', method: 'POST', path: '/v1/streams', raw: json(''), status: 400, code: 'ValidationError', field: 'body', says: /empty/ },
  { name: 'create: JSON null', method: 'POST', path: '/v1/streams', raw: json('null'), status: 400, code: 'ValidationError', field: 'body', says: /must be object/ },
  { name: 'create: a JSON array', method: 'POST', path: '/v1/streams', body: [], status: 400, code: 'ValidationError', field: 'body' },
  { name: 'create: text/plain', method: 'POST', path: '/v1/streams', raw: { text: 'name=x', contentType: 'text/plain' }, status: 415, code: 'UnsupportedMediaType', says: /application\/json/ },
  { name: 'create: a Kinesis content type', method: 'POST', path: '/v1/streams', raw: { text: '{"name":"x12","shardCount":1}', contentType: 'application/x-amz-json-1.1' }, status: 415, code: 'UnsupportedMediaType', says: /x-amz-json-1\.1/ },
  { name: 'create: JSON in latin1', method: 'POST', path: '/v1/streams', raw: { text: '{"name":"x13","shardCount":1}', contentType: 'application/json; charset=latin1' }, status: 415, code: 'UnsupportedMediaType', says: /UTF-8, not charset=latin1/ },
  { name: 'create: invalid UTF-8', method: 'POST', path: '/v1/streams', raw: { text: invalidUtf8('{"name":"x14', '","shardCount":1}'), contentType: 'application/json' }, status: 400, code: 'ValidationError', field: 'body', says: /UTF-8/ },
  { name: 'create: JSON 10,000 levels deep', method: 'POST', path: '/v1/streams', raw: json(deepJson(10_000)), status: 400, code: 'ValidationError', field: 'body', says: /nested deeper than 32 levels/ },
  { name: 'create: JSON 33 levels deep in a member', method: 'POST', path: '/v1/streams', raw: json(`{"name":"x15","shardCount":1,"writeLimits":${'{"a":'.repeat(32)}1${'}'.repeat(32)}}`), status: 400, code: 'ValidationError', field: 'body', says: /nested deeper/ },
  { name: 'create: __proto__ member', method: 'POST', path: '/v1/streams', raw: json('{"name":"x8","shardCount":1,"__proto__":{"admin":true}}'), status: 400, code: 'ValidationError', field: '__proto__' },
  { name: 'create: constructor.prototype member', method: 'POST', path: '/v1/streams', raw: json('{"name":"x16","shardCount":1,"constructor":{"prototype":{"admin":true}}}'), status: 400, code: 'ValidationError', field: 'constructor', says: /prototype/ },
  { name: 'create: a 2,000-character member name', method: 'POST', path: '/v1/streams', body: { name: 'x17', shardCount: 1, ['m'.repeat(2000)]: 1 }, status: 400, code: 'ValidationError', field: 'body', says: /member name/ },
  { name: 'create: body over 64 KiB', method: 'POST', path: '/v1/streams', body: { name: 'x18', shardCount: 1, pad: 'p'.repeat(70_000) }, status: 413, code: 'PayloadTooLarge', says: /65536 bytes/ },
  // streams by name
  { name: 'list: limit 0', method: 'GET', path: '/v1/streams?limit=0', status: 400, code: 'ValidationError', field: 'limit' },
  { name: 'list: forged next token', method: 'GET', path: '/v1/streams?next=e30', status: 400, code: 'ValidationError', field: 'next' },
  // "czE" is the token after a stream named s1; Node's decoder reads these alike, the service does not.
  { name: 'list: a next token spelt with padding', method: 'GET', path: '/v1/streams?next=czE%3D', status: 400, code: 'ValidationError', field: 'next' },
  { name: 'list: a next token with a character outside base64url', method: 'GET', path: '/v1/streams?next=cz!E', status: 400, code: 'ValidationError', field: 'next' },
  { name: 'list: 257-character next token', method: 'GET', path: `/v1/streams?next=${'a'.repeat(257)}`, status: 400, code: 'ValidationError', field: 'next' },
  { name: 'list: unknown query member', method: 'GET', path: '/v1/streams?offset=3', status: 400, code: 'ValidationError', field: 'offset' },
  { name: 'describe: a query parameter it does not take', method: 'GET', path: '/v1/streams/orders?verbose=1', status: 400, code: 'ValidationError', field: 'verbose' },
  { name: 'delete: a query parameter it does not take', method: 'DELETE', path: '/v1/streams/orders?force=true', status: 400, code: 'ValidationError', field: 'force' },
  { name: 'describe: 129-character name', method: 'GET', path: `/v1/streams/${'n'.repeat(129)}`, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'describe: name with a closing brace', method: 'GET', path: '/v1/streams/a%7Db', status: 400, code: 'ValidationError', field: 'name' },
  { name: 'describe: a path that is not valid UTF-8', method: 'GET', path: '/v1/streams/%FF', status: 400, code: 'ValidationError', field: 'path', says: /not a valid URL/ },
  { name: 'update: unknown stream', method: 'PATCH', path: '/v1/streams/nope', body: { retentionHours: 48 }, status: 404, code: 'StreamNotFound', says: /nope/ },
  { name: 'update: name with a colon', method: 'PATCH', path: '/v1/streams/a:b', body: { retentionHours: 48 }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'update: no retentionHours', method: 'PATCH', path: '/v1/streams/target', body: {}, status: 400, code: 'ValidationError', field: 'retentionHours' },
  { name: 'update: retentionHours as a string', method: 'PATCH', path: '/v1/streams/target', body: { retentionHours: '48' }, status: 400, code: 'ValidationError', field: 'retentionHours' },
  { name: 'update: unknown member', method: 'PATCH', path: '/v1/streams/target', body: { retentionHours: 48, shardCount: 4 }, status: 400, code: 'ValidationError', field: 'shardCount' },
  { name: 'delete: unknown stream', method: 'DELETE', path: '/v1/streams/nope', status: 404, code: 'StreamNotFound', says: /nope/ },
  { name: 'delete: name with a slash', method: 'DELETE', path: '/v1/streams/a%2Fb', status: 400, code: 'ValidationError', field: 'name' },
  // puts
  { name: 'put: no records member', method: 'POST', path: put, body: {}, status: 400, code: 'ValidationError', field: 'records' },
  { name: 'put: empty records', method: 'POST', path: put, body: { records: [] }, status: 400, code: 'ValidationError', field: 'records' },
  { name: 'put: records not a list', method: 'POST', path: put, body: { records: { partitionKey: 'k', data: 'AAAA' } }, status: 400, code: 'ValidationError', field: 'records' },
  { name: 'put: a record that is a string', method: 'POST', path: put, body: { records: ['k:AAAA'] }, status: 400, code: 'ValidationError', field: 'records[0]' },
  { name: 'put: 501 records', method: 'POST', path: put, body: { records: Array.from({ length: 501 }, () => rec()) }, status: 400, code: 'ValidationError', field: 'records' },
  { name: 'put: no partition key', method: 'POST', path: put, body: { records: [{ data: 'AAAA' }] }, status: 400, code: 'ValidationError', field: 'records[0].partitionKey' },
  { name: 'put: no data', method: 'POST', path: put, body: { records: [{ partitionKey: 'k' }] }, status: 400, code: 'ValidationError', field: 'records[0].data' },
  { name: 'put: empty partition key', method: 'POST', path: put, body: { records: [rec({ partitionKey: '' })] }, status: 400, code: 'ValidationError', field: 'records[0].partitionKey' },
  { name: 'put: 257-character partition key', method: 'POST', path: put, body: { records: [rec({ partitionKey: 'k'.repeat(257) })] }, status: 400, code: 'ValidationError', field: 'records[0].partitionKey' },
  { name: 'put: partition key as a number', method: 'POST', path: put, body: { records: [rec({ partitionKey: 12 })] }, status: 400, code: 'ValidationError', field: 'records[0].partitionKey' },
  { name: 'put: data not base64', method: 'POST', path: put, body: { records: [rec({ data: '@@@@' })] }, status: 400, code: 'ValidationError', field: 'records[0].data' },
  { name: 'put: unpadded base64', method: 'POST', path: put, body: { records: [rec({ data: 'AAA' })] }, status: 400, code: 'ValidationError', field: 'records[0].data' },
  { name: 'put: URL-safe base64', method: 'POST', path: put, body: { records: [rec({ data: 'ab-_' })] }, status: 400, code: 'ValidationError', field: 'records[0].data' },
  { name: 'put: base64 with a line break', method: 'POST', path: put, body: { records: [rec({ data: 'AAAA\nAAAA' })] }, status: 400, code: 'ValidationError', field: 'records[0].data' },
  { name: 'put: data as a number', method: 'POST', path: put, body: { records: [rec({ data: 5 })] }, status: 400, code: 'ValidationError', field: 'records[0].data' },
  { name: 'put: data over 1 MiB', method: 'POST', path: put, body: { records: [rec({ data: Buffer.alloc(MiB + 1).toString('base64') })] }, status: 400, code: 'ValidationError', field: 'records[0].data' },
  {
    name: 'put: over 5 MiB in one request',
    method: 'POST',
    path: put,
    body: () => ({ records: [...Array.from({ length: 5 }, () => rec({ data: Buffer.alloc(MiB).toString('base64') })), rec()] }),
    status: 400,
    code: 'ValidationError',
    field: 'records',
  },
  { name: 'put: a 3 MiB string', method: 'POST', path: put, body: () => ({ records: [rec({ data: 'A'.repeat(3 * MiB) })] }), status: 400, code: 'ValidationError', field: 'records[0].data', says: /longer than 2097152 characters/ },
  { name: 'put: explicit hash key 2^128', method: 'POST', path: put, body: { records: [rec({ explicitHashKey: (2n ** 128n).toString() })] }, status: 400, code: 'ValidationError', field: 'records[0].explicitHashKey' },
  { name: 'put: negative explicit hash key', method: 'POST', path: put, body: { records: [rec({ explicitHashKey: '-1' })] }, status: 400, code: 'ValidationError', field: 'records[0].explicitHashKey' },
  { name: 'put: unknown record member', method: 'POST', path: put, body: { records: [rec({ sequenceNumberForOrdering: '1' })] }, status: 400, code: 'ValidationError', field: 'records[0].sequenceNumberForOrdering' },
  { name: 'put: one bad record among good ones', method: 'POST', path: put, body: { records: [rec(), rec(), rec({ data: '!' })] }, status: 400, code: 'ValidationError', field: 'records[2].data' },
  { name: 'put: __proto__ inside a record', method: 'POST', path: put, raw: json('{"records":[{"partitionKey":"k","data":"AAAA","__proto__":{"x":1}}]}'), status: 400, code: 'ValidationError', field: 'records[0].__proto__' },
  { name: 'put: JSON 10,000 levels deep inside a record', method: 'POST', path: put, raw: json(`{"records":[{"partitionKey":"k","data":"AAAA","x":${deepJson(10_000)}}]}`), status: 400, code: 'ValidationError', field: 'body', says: /nested deeper/ },
  {
    name: 'put: a lone surrogate escape in a partition key',
    method: 'POST',
    path: put,
    raw: json('{"records":[{"partitionKey":"\\ud800","data":"AAAA"}]}'),
    status: 400,
    code: 'ValidationError',
    field: 'records[0].partitionKey',
    says: /lone UTF-16 surrogate/,
  },
  { name: 'put: invalid UTF-8 in a partition key', method: 'POST', path: put, raw: { text: invalidUtf8('{"records":[{"partitionKey":"', '","data":"AAAA"}]}'), contentType: 'application/json' }, status: 400, code: 'ValidationError', field: 'body', says: /UTF-8/ },
  { name: 'put: a body labelled gzip', method: 'POST', path: put, raw: json('{"records":[{"partitionKey":"k","data":"AAAA"}]}'), headers: { 'content-encoding': 'gzip' }, status: 415, code: 'UnsupportedMediaType', says: /Content-Encoding gzip/ },
  { name: 'put: text/plain', method: 'POST', path: put, raw: { text: '{"records":[{"partitionKey":"k","data":"AAAA"}]}', contentType: 'text/plain' }, status: 415, code: 'UnsupportedMediaType', says: /application\/json/ },
  { name: 'put: CBOR', method: 'POST', path: put, raw: { text: cborEncode({ records: [rec()] }), contentType: 'application/x-amz-cbor-1.1' }, status: 415, code: 'UnsupportedMediaType', says: /cbor/ },
  { name: 'put: body over 8 MiB', method: 'POST', path: put, raw: { text: () => JSON.stringify({ records: [rec({ data: 'A'.repeat(9 * MiB) })] }), contentType: 'application/json' }, status: 413, code: 'PayloadTooLarge', says: /8388608 bytes/ },
  { name: 'put: unknown stream', method: 'POST', path: '/v1/streams/nope/records', body: { records: [rec()] }, status: 404, code: 'StreamNotFound', says: /nope/ },
  { name: 'put: stream name with a brace', method: 'POST', path: '/v1/streams/a%7Bb/records', body: { records: [rec()] }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'put: 129-character stream name', method: 'POST', path: `/v1/streams/${'n'.repeat(129)}/records`, body: { records: [rec()] }, status: 400, code: 'ValidationError', field: 'name' },
  { name: 'put shard: malformed shard id', method: 'POST', path: '/v1/streams/target/shards/shard-1/records', body: { records: [rec()] }, status: 400, code: 'ValidationError', field: 'shardId' },
  { name: 'put shard: unknown shard', method: 'POST', path: '/v1/streams/target/shards/shardId-000000000009/records', body: { records: [rec()] }, status: 404, code: 'ShardNotFound', says: /shardId-000000000009/ },
  { name: 'put shard: a record of another shard', method: 'POST', path: '/v1/streams/target/shards/shardId-000000000000/records', body: { records: [rec({ partitionKey: 'k1' })] }, status: 400, code: 'ValidationError', field: 'records[0]', says: /hashes to shardId-000000000001/ },
  // reads
  { name: 'read: no position', method: 'GET', path: read, status: 400, code: 'ValidationError', field: 'from' },
  { name: 'read: unknown position', method: 'GET', path: `${read}?from=BEGINNING`, status: 400, code: 'ValidationError', field: 'from' },
  { name: 'read: position not valid UTF-8', method: 'GET', path: `${read}?from=%FF`, status: 400, code: 'ValidationError', field: 'from' },
  { name: 'read: AT_SEQUENCE_NUMBER without a number', method: 'GET', path: `${read}?from=AT_SEQUENCE_NUMBER`, status: 400, code: 'ValidationError', field: 'sequenceNumber' },
  { name: 'read: garbage sequence number', method: 'GET', path: `${read}?from=AT_SEQUENCE_NUMBER&sequenceNumber=12abc`, status: 400, code: 'ValidationError', field: 'sequenceNumber' },
  { name: "read: another shard's sequence number", method: 'GET', path: `${read}?from=AT_SEQUENCE_NUMBER&sequenceNumber=1${'0'.repeat(35)}000001`, status: 400, code: 'ValidationError', field: 'sequenceNumber' },
  { name: 'read: limit 0', method: 'GET', path: `${read}?from=LATEST&limit=0`, status: 400, code: 'ValidationError', field: 'limit' },
  { name: 'read: limit 10001', method: 'GET', path: `${read}?from=LATEST&limit=10001`, status: 400, code: 'ValidationError', field: 'limit' },
  { name: 'read: limit not a number', method: 'GET', path: `${read}?from=LATEST&limit=ten`, status: 400, code: 'ValidationError', field: 'limit' },
  { name: 'read: garbage iterator', method: 'GET', path: `${read}?iterator=abc`, status: 400, code: 'InvalidIterator', field: 'iterator' },
  { name: 'read: tampered iterator', method: 'GET', path: () => `${read}?iterator=${encodeURIComponent(tamper(iterators.good))}`, status: 400, code: 'InvalidIterator', field: 'iterator' },
  { name: "read: another shard's iterator", method: 'GET', path: () => `${read}?iterator=${encodeURIComponent(iterators.otherShard)}`, status: 400, code: 'InvalidIterator', field: 'iterator', says: /belongs to stream target shardId-000000000001/ },
  { name: 'read: expired iterator', method: 'GET', path: () => `${read}?iterator=${encodeURIComponent(iterators.expired)}`, status: 400, code: 'ExpiredIterator', field: 'iterator', says: /expired/ },
  { name: 'read: 1,025-character iterator', method: 'GET', path: `${read}?iterator=${'a'.repeat(1025)}`, status: 400, code: 'ValidationError', field: 'iterator' },
  { name: 'read: iterator and from', method: 'GET', path: `${read}?iterator=abc&from=LATEST`, status: 400, code: 'ValidationError', field: 'iterator' },
  { name: 'read: unparseable timestamp', method: 'GET', path: `${read}?from=AT_TIMESTAMP&timestamp=yesterday`, status: 400, code: 'ValidationError', field: 'timestamp' },
  { name: 'read: impossible date', method: 'GET', path: `${read}?from=AT_TIMESTAMP&timestamp=2024-13-45`, status: 400, code: 'ValidationError', field: 'timestamp' },
  { name: 'read: 30 February', method: 'GET', path: `${read}?from=AT_TIMESTAMP&timestamp=2024-02-30`, status: 400, code: 'ValidationError', field: 'timestamp' },
  { name: 'read: 24:00', method: 'GET', path: `${read}?from=AT_TIMESTAMP&timestamp=2024-01-01T24:00:00Z`, status: 400, code: 'ValidationError', field: 'timestamp' },
  { name: 'read: a date-time without Z or an offset', method: 'GET', path: `${read}?from=AT_TIMESTAMP&timestamp=2024-01-01T00:00:00`, status: 400, code: 'ValidationError', field: 'timestamp', says: /Z or an offset/ },
  { name: 'read: a time in the future', method: 'GET', path: `${read}?from=AT_TIMESTAMP&timestamp=${Date.now() + 86_400_000}`, status: 400, code: 'ValidationError', field: 'timestamp', says: /current time/ },
  { name: 'read: timestamp without AT_TIMESTAMP', method: 'GET', path: `${read}?from=LATEST&timestamp=5`, status: 400, code: 'ValidationError', field: 'timestamp' },
  { name: 'read: unknown query member', method: 'GET', path: `${read}?from=LATEST&shard=1`, status: 400, code: 'ValidationError', field: 'shard' },
  { name: 'read: unknown shard', method: 'GET', path: '/v1/streams/target/shards/shardId-000000000002/records?from=LATEST', status: 404, code: 'ShardNotFound', says: /shardId-000000000002/ },
  { name: 'read: unknown stream', method: 'GET', path: '/v1/streams/nope/shards/shardId-000000000000/records?from=LATEST', status: 404, code: 'StreamNotFound', says: /nope/ },
  // consumer groups
  { name: 'heartbeat: lease TTL below 1 s', method: 'POST', path: heartbeat, body: { leaseTtlMs: 1 }, status: 400, code: 'ValidationError', field: 'leaseTtlMs' },
  { name: 'heartbeat: lease TTL as a string', method: 'POST', path: heartbeat, body: { leaseTtlMs: '10000' }, status: 400, code: 'ValidationError', field: 'leaseTtlMs' },
  { name: 'heartbeat: unknown member', method: 'POST', path: heartbeat, body: { leaseTtl: 10_000 }, status: 400, code: 'ValidationError', field: 'leaseTtl' },
  { name: 'heartbeat: a list body', method: 'POST', path: heartbeat, body: [1], status: 400, code: 'ValidationError', field: 'body' },
  { name: 'heartbeat: worker id with a colon', method: 'POST', path: `${groups}/g/workers/w:1/heartbeat`, body: {}, status: 400, code: 'ValidationError', field: 'workerId' },
  { name: 'heartbeat: group with a brace', method: 'POST', path: `${groups}/g%7B1/workers/w1/heartbeat`, body: {}, status: 400, code: 'ValidationError', field: 'group' },
  { name: 'heartbeat: 129-character group', method: 'POST', path: `${groups}/${'g'.repeat(129)}/workers/w1/heartbeat`, body: {}, status: 400, code: 'ValidationError', field: 'group' },
  { name: 'heartbeat: unknown stream', method: 'POST', path: '/v1/streams/nope/groups/g/workers/w1/heartbeat', body: {}, status: 404, code: 'StreamNotFound', says: /nope/ },
  { name: 'heartbeat: body over 64 KiB', method: 'POST', path: heartbeat, body: { leaseTtlMs: 10_000, pad: 'p'.repeat(70_000) }, status: 413, code: 'PayloadTooLarge', says: /65536 bytes/ },
  { name: 'checkpoint: no lease token', method: 'PUT', path: checkpointPath, body: { sequenceNumber: SEQ0 }, status: 400, code: 'ValidationError', field: 'leaseToken' },
  { name: 'checkpoint: lease token not a number', method: 'PUT', path: checkpointPath, body: { sequenceNumber: SEQ0, leaseToken: 'abc' }, status: 400, code: 'ValidationError', field: 'leaseToken' },
  { name: 'checkpoint: garbage sequence number', method: 'PUT', path: checkpointPath, body: { sequenceNumber: 'zzz', leaseToken: '1' }, status: 400, code: 'ValidationError', field: 'sequenceNumber' },
  { name: 'checkpoint: unknown shard', method: 'PUT', path: `${groups}/g/shards/shardId-000000000007/checkpoint`, body: { sequenceNumber: SEQ0, leaseToken: '1' }, status: 404, code: 'ShardNotFound', says: /shardId-000000000007/ },
  { name: 'checkpoint: a group nobody holds', method: 'PUT', path: `${groups}/nogroup/shards/shardId-000000000000/checkpoint`, body: { sequenceNumber: SEQ_FIRST, leaseToken: '1' }, status: 409, code: 'LeaseLost', field: 'leaseToken', says: /Lease 1 on shardId-000000000000/ },
  { name: 'checkpoint: past the shard\'s newest record', method: 'PUT', path: `${groups}/nogroup/shards/shardId-000000000000/checkpoint`, body: { sequenceNumber: SEQ0, leaseToken: '1' }, status: 400, code: 'ValidationError', field: 'sequenceNumber', says: /after the newest record/ },
  { name: 'checkpoint: text/plain', method: 'PUT', path: checkpointPath, raw: { text: 'x', contentType: 'text/plain' }, status: 415, code: 'UnsupportedMediaType', says: /application\/json/ },
  { name: 'describe group: unknown group', method: 'GET', path: `${groups}/nogroup`, status: 404, code: 'GroupNotFound', field: 'group', says: /nogroup/ },
  { name: 'list groups: unknown stream', method: 'GET', path: '/v1/streams/nope/groups', status: 404, code: 'StreamNotFound', says: /nope/ },
  { name: 'leave: worker id with a slash', method: 'DELETE', path: `${groups}/g/workers/w%2F1`, status: 400, code: 'ValidationError', field: 'workerId' },
  // routes
  { name: 'unknown route', method: 'GET', path: '/v2/streams', status: 404, code: 'NotFound', says: /No route GET \/v2\/streams/ },
  { name: 'a method a route does not have', method: 'PUT', path: '/v1/streams/target', body: {}, status: 404, code: 'NotFound', says: /PUT/ },
]

// ---------------------------------------------------------------------------------------------
// The Kinesis endpoint: AWS' error types; unknown members are ignored, as AWS ignores them.

const SIGV4 = 'AWS4-HMAC-SHA256 Credential=AKIDSLUICE/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd'
const CBOR = 'application/x-amz-cbor-1.1'

function kinesis(
  name: string,
  action: string,
  body: Lazy<unknown>,
  expect: { status?: number; type: string; says: RegExp },
  options: { contentType?: string; raw?: Lazy<string | Uint8Array>; headers?: Record<string, string> } = {},
): Case {
  const contentType = options.contentType ?? 'application/x-amz-json-1.1'
  const text = options.raw ?? (() => (contentType === CBOR ? cborEncode(resolve(body)) : JSON.stringify(resolve(body))))
  return {
    name: `kinesis ${action}: ${name}`,
    method: 'POST',
    path: '/',
    raw: { text, contentType },
    headers: { 'x-amz-target': `Kinesis_20131202.${action}`, authorization: SIGV4, ...options.headers },
    status: expect.status ?? 400,
    code: expect.type,
    says: expect.says,
  }
}

const kinesisRecords = (n: number, over: Record<string, unknown> = {}) => Array.from({ length: n }, (_, i) => ({ PartitionKey: `k${i}`, Data: 'AAAA', ...over }))

const kinesisCases: Case[] = [
  kinesis('unknown operation', 'SplitShardz', {}, { type: 'UnknownOperationException', says: /SplitShardz/ }),
  kinesis('no X-Amz-Target', 'ListStreams', {}, { type: 'UnknownOperationException', says: /no X-Amz-Target/ }, { headers: { 'x-amz-target': '' } }),
  kinesis('no Authorization header', 'ListStreams', {}, { status: 403, type: 'MissingAuthenticationTokenException', says: /Missing Authentication Token/ }, { headers: { authorization: '' } }),
  kinesis('stream name with a brace', 'CreateStream', { StreamName: 'bad{name', ShardCount: 1 }, { type: 'ValidationException', says: /Value 'bad\{name' at 'streamName' failed to satisfy constraint/ }),
  kinesis('stream name with a closing brace', 'CreateStream', { StreamName: 'bad}name', ShardCount: 1 }, { type: 'ValidationException', says: /at 'streamName'/ }),
  kinesis('stream name with a colon', 'CreateStream', { StreamName: 'bad:name', ShardCount: 1 }, { type: 'ValidationException', says: /at 'streamName'/ }),
  kinesis('stream name with a slash', 'CreateStream', { StreamName: 'bad/name', ShardCount: 1 }, { type: 'ValidationException', says: /at 'streamName'/ }),
  kinesis('129-character stream name', 'CreateStream', { StreamName: 'n'.repeat(129), ShardCount: 1 }, { type: 'ValidationException', says: /length less than or equal to 128/ }),
  kinesis('no stream name', 'CreateStream', { ShardCount: 1 }, { type: 'ValidationException', says: /'streamName' failed to satisfy constraint: Member must not be null/ }),
  kinesis('ShardCount as a string', 'CreateStream', { StreamName: 'badcount', ShardCount: '1' }, { type: 'SerializationException', says: /ShardCount/ }),
  kinesis('ShardCount 0', 'CreateStream', { StreamName: 'badcount', ShardCount: 0 }, { type: 'ValidationException', says: /at 'shardCount'/ }),
  kinesis('ShardCount over the limit', 'CreateStream', { StreamName: 'badcount', ShardCount: 5000 }, { type: 'LimitExceededException', says: /SLUICE_MAX_SHARDS/ }),
  kinesis('a stream that exists', 'CreateStream', { StreamName: 'target', ShardCount: 1 }, { type: 'ResourceInUseException', says: /target/ }),
  kinesis('unknown stream', 'DescribeStream', { StreamName: 'nope' }, { type: 'ResourceNotFoundException', says: /Stream nope/ }),
  kinesis('unknown stream', 'DeleteStream', { StreamName: 'nope' }, { type: 'ResourceNotFoundException', says: /Stream nope/ }),
  kinesis('Limit 0', 'ListStreams', { Limit: 0 }, { type: 'ValidationException', says: /at 'limit'/ }),
  kinesis('forged NextToken', 'ListShards', { NextToken: 'bm90IGEgdG9rZW4' }, { type: 'InvalidArgumentException', says: /NextToken/ }),
  kinesis('Data not base64', 'PutRecord', { StreamName: 'target', PartitionKey: 'k', Data: '@@@@' }, { type: 'SerializationException', says: /Data/ }),
  kinesis('no partition key', 'PutRecord', { StreamName: 'target', Data: 'AAAA' }, { type: 'ValidationException', says: /at 'partitionKey'/ }),
  kinesis('a lone surrogate escape in a partition key', 'PutRecord', {}, { type: 'SerializationException', says: /PartitionKey: holds a lone UTF-16 surrogate/ }, { raw: '{"StreamName":"target","PartitionKey":"a\\udc00","Data":"AAAA"}' }),
  kinesis('a body labelled gzip', 'PutRecord', { StreamName: 'target', PartitionKey: 'k', Data: 'AAAA' }, { type: 'SerializationException', says: /Content-Encoding/ }, { headers: { 'content-encoding': 'gzip' } }),
  kinesis('the stream name ".."', 'CreateStream', { StreamName: '..', ShardCount: 1 }, { type: 'InvalidArgumentException', says: /"\." and "\.\." are not allowed/ }),
  kinesis('257-character partition key', 'PutRecord', { StreamName: 'target', PartitionKey: 'k'.repeat(257), Data: 'AAAA' }, { type: 'ValidationException', says: /at 'partitionKey'/ }),
  kinesis('unknown stream', 'PutRecord', { StreamName: 'nope', PartitionKey: 'k', Data: 'AAAA' }, { type: 'ResourceNotFoundException', says: /Stream nope/ }),
  kinesis('Records not a list', 'PutRecords', { StreamName: 'target', Records: { PartitionKey: 'k', Data: 'AAAA' } }, { type: 'SerializationException', says: /Records/ }),
  kinesis('a record that is a string', 'PutRecords', { StreamName: 'target', Records: ['AAAA'] }, { type: 'SerializationException', says: /Records\.0/ }),
  kinesis('no records', 'PutRecords', { StreamName: 'target', Records: [] }, { type: 'ValidationException', says: /at 'records'/ }),
  kinesis('501 records', 'PutRecords', { StreamName: 'target', Records: kinesisRecords(501) }, { type: 'ValidationException', says: /less than or equal to 500/ }),
  kinesis('Data over 1 MiB', 'PutRecords', () => ({ StreamName: 'target', Records: kinesisRecords(1, { Data: Buffer.alloc(MiB + 1).toString('base64') }) }), { type: 'ValidationException', says: /records\.1\.member\.data/ }),
  kinesis('over 5 MiB in one request', 'PutRecords', () => ({ StreamName: 'target', Records: kinesisRecords(5, { Data: Buffer.alloc(MiB).toString('base64') }) }), { type: 'InvalidArgumentException', says: /^Records size exceeds 5 MB limit$/ }),
  kinesis('body over 8 MiB', 'PutRecords', () => ({ StreamName: 'target', Records: kinesisRecords(1, { Data: 'A'.repeat(9 * MiB) }) }), { status: 413, type: 'RequestEntityTooLargeException', says: /8388608 bytes PutRecords accepts/ }),
  kinesis('body over 64 KiB', 'ListStreams', { Pad: 'p'.repeat(70_000) }, { status: 413, type: 'RequestEntityTooLargeException', says: /65536 bytes ListStreams accepts/ }),
  kinesis('JSON 10,000 levels deep', 'ListStreams', null, { type: 'SerializationException', says: /nested deeper than 32 levels/ }, { raw: `{"X":${deepJson(10_000)}}` }),
  kinesis('__proto__ member', 'ListStreams', null, { type: 'SerializationException', says: /__proto__/ }, { raw: '{"__proto__":{"Limit":0}}' }),
  kinesis('constructor.prototype in a record', 'PutRecords', null, { type: 'SerializationException', says: /Records\[0\]\.constructor/ }, { raw: '{"StreamName":"target","Records":[{"PartitionKey":"k","Data":"AAAA","constructor":{"prototype":{}}}]}' }),
  kinesis('invalid UTF-8', 'PutRecord', null, { type: 'SerializationException', says: /UTF-8/ }, { raw: invalidUtf8('{"StreamName":"target","Data":"AAAA","PartitionKey":"', '"}') }),
  kinesis('not JSON', 'ListStreams', null, { type: 'SerializationException', says: /not valid JSON/ }, { raw: '{not json' }),
  kinesis('a JSON list', 'ListStreams', [], { type: 'SerializationException', says: /JSON object/ }),
  kinesis('text/plain', 'ListStreams', {}, { type: 'SerializationException', says: /Content-Type/ }, { contentType: 'text/plain' }),
  kinesis('unknown shard', 'GetShardIterator', { StreamName: 'target', ShardId: 'shardId-000000000009', ShardIteratorType: 'LATEST' }, { type: 'ResourceNotFoundException', says: /shardId-000000000009/ }),
  kinesis('unknown iterator type', 'GetShardIterator', { StreamName: 'target', ShardId: 'shardId-000000000000', ShardIteratorType: 'BEGINNING' }, { type: 'ValidationException', says: /at 'shardIteratorType'/ }),
  kinesis('AT_SEQUENCE_NUMBER without a number', 'GetShardIterator', { StreamName: 'target', ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_SEQUENCE_NUMBER' }, { type: 'InvalidArgumentException', says: /StartingSequenceNumber/ }),
  kinesis('tampered iterator', 'GetRecords', () => ({ ShardIterator: tamper(iterators.kinesisGood) }), { type: 'InvalidArgumentException', says: /Invalid ShardIterator/ }),
  kinesis('expired iterator', 'GetRecords', () => ({ ShardIterator: iterators.kinesisExpired }), { type: 'ExpiredIteratorException', says: /expired/ }),
  kinesis('Limit 0', 'GetRecords', () => ({ ShardIterator: iterators.kinesisGood, Limit: 0 }), { type: 'ValidationException', says: /at 'limit'/ }),
  kinesis('retention above 8760 h', 'IncreaseStreamRetentionPeriod', { StreamName: 'target', RetentionPeriodHours: 9000 }, { type: 'InvalidArgumentException', says: /Maximum allowed retention period is 8760 hours/ }),
  kinesis('Tags as a list', 'AddTagsToStream', { StreamName: 'target', Tags: ['a'] }, { type: 'SerializationException', says: /Tags/ }),
  kinesis('CBOR: not CBOR', 'ListStreams', null, { type: 'SerializationException', says: /not valid CBOR/ }, { contentType: CBOR, raw: Buffer.from([0xff, 0xff, 0x00]) }),
  kinesis('CBOR: 10,000 levels deep', 'ListStreams', null, { type: 'SerializationException', says: /nested deeper than 32 levels/ }, { contentType: CBOR, raw: Buffer.concat([Buffer.from([0xa1, 0x61, 0x58]), Buffer.alloc(10_000, 0x81), Buffer.from([0x01])]) }),
  kinesis('CBOR: Data as a number', 'PutRecord', { StreamName: 'target', PartitionKey: 'k', Data: 5 }, { type: 'SerializationException', says: /Data/ }, { contentType: CBOR }),
  kinesis('CBOR: stream name with a brace', 'PutRecord', { StreamName: 'a{b', PartitionKey: 'k', Data: new Uint8Array([1]) }, { type: 'ValidationException', says: /at 'streamName'/ }, { contentType: CBOR }),
  kinesis('CBOR: body over 64 KiB', 'DescribeStream', { StreamName: 'target', Pad: new Uint8Array(70_000) }, { status: 413, type: 'RequestEntityTooLargeException', says: /65536 bytes DescribeStream accepts/ }, { contentType: CBOR }),
]

// ---------------------------------------------------------------------------------------------

interface Answer {
  status: number
  code: unknown
  message: unknown
  fields: unknown[]
  text: string
}

describe('bad input: a clear 4xx, and nothing written', () => {
  let s: Sluice
  let clock = 0
  const results: Array<{ name: string; expected: string; got: string }> = []

  async function send(c: Case): Promise<Answer> {
    // An empty value stands for a header left out.
    const headers: Record<string, string> = Object.fromEntries(Object.entries(c.headers ?? {}).filter(([, v]) => v !== ''))
    let body: string | Uint8Array | undefined
    if (c.raw) {
      body = resolve(c.raw.text)
      headers['content-type'] = c.raw.contentType
    } else if (c.body !== undefined) {
      body = JSON.stringify(resolve(c.body))
      headers['content-type'] ??= 'application/json'
    }
    const res = await fetch(s.url + resolve(c.path), { method: c.method, headers, ...(body !== undefined ? { body } : {}) })
    const bytes = Buffer.from(await res.arrayBuffer())
    let parsed: any
    try {
      parsed = (res.headers.get('content-type') ?? '').startsWith(CBOR) ? cborDecode(bytes) : JSON.parse(bytes.toString('utf8'))
    } catch {
      parsed = undefined
    }
    const text = bytes.toString('utf8').slice(0, 400)
    if (parsed?.error) {
      const e = parsed.error
      return { status: res.status, code: e.code, message: e.message, fields: [e.field, ...(e.details ?? []).map((d: { field?: string }) => d.field)], text }
    }
    return { status: res.status, code: parsed?.__type, message: parsed?.message, fields: [], text }
  }

  before(async () => {
    s = await startSluice({ now: () => Date.now() + clock, env: { SLUICE_SHARD_READS_PER_SECOND: '10000' } })
    assert.equal((await s.request('POST', '/v1/streams', { name: 'target', shardCount: 2 })).status, 201)
    const latest = async (shard: number) => (await s.request('GET', `/v1/streams/target/shards/shardId-00000000000${shard}/records?from=LATEST`)).body.nextIterator as string
    const kinesisLatest = async () => {
      const r = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.GetShardIterator', authorization: SIGV4 },
        body: JSON.stringify({ StreamName: 'target', ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' }),
      })
      return ((await r.json()) as { ShardIterator: string }).ShardIterator
    }
    clock = -6 * 60_000 // iterators live 5 minutes
    iterators.expired = await latest(0)
    iterators.kinesisExpired = await kinesisLatest()
    clock = 0
    iterators.good = await latest(0)
    iterators.otherShard = await latest(1)
    iterators.kinesisGood = await kinesisLatest()
  })
  after(async () => s.close())

  const cases = [...restCases, ...kinesisCases]
  it('has at least 60 cases, each saying what its message must name', () => {
    assert.ok(cases.length >= 60, `${cases.length} cases`)
    for (const c of cases) assert.ok(c.field !== undefined || c.says !== undefined, `${c.name}: no field or message to check`)
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'case names are unique')
  })

  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.code}${c.field ? ` (${c.field})` : ''}`, async () => {
      const r = await send(c)
      results.push({ name: c.name, expected: `${c.status} ${c.code}`, got: `${r.status} ${String(r.code)}` })
      assert.equal(r.status, c.status, r.text)
      assert.equal(r.code, c.code, r.text)
      assert.ok(typeof r.message === 'string' && r.message.length > 5, r.text)
      if (c.field) assert.ok(r.fields.includes(c.field), `expected field ${c.field} in ${r.text}`)
      const says = c.says ?? new RegExp(c.field!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      assert.match(r.message as string, says)
    })
  }

  it('reports every problem of a request, not just the first', async () => {
    const r = await s.request('POST', put, { records: [rec({ partitionKey: '' }), rec({ data: '!' }), rec({ extra: 1 })] })
    assert.equal(r.status, 400)
    const fields = r.body.error.details.map((d: any) => d.field)
    for (const f of ['records[0].partitionKey', 'records[1].data', 'records[2].extra']) assert.ok(fields.includes(f), `${f} in ${fields}`)
  })

  it('names the allowed values of an enum', async () => {
    const r = await s.request('GET', `${read}?from=BEGINNING`)
    assert.match(r.body.error.message, /from: must be one of TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP/)
  })

  it('the Kinesis endpoint ignores unknown members, as AWS does', async () => {
    const r = await send(kinesis('unknown member', 'DescribeStreamSummary', { StreamName: 'target', SomethingNew: { deep: [1, 2] } }, { type: '', says: /./ }))
    assert.equal(r.status, 200, r.text)
  })

  it('refuses a chunked body over the limit once it is read (no Content-Length to go by)', async () => {
    const chunked = (path: string, headers: Record<string, string>, size: number) =>
      new Promise<{ status: number; text: string }>((done, fail) => {
        const req = httpRequest(s.url + path, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (d: string) => (text += d))
          res.on('end', () => done({ status: res.statusCode ?? 0, text }))
        })
        req.on('error', fail)
        const chunk = Buffer.alloc(16 * 1024, 0x20) // JSON whitespace
        for (let sent = 0; sent < size; sent += chunk.length) req.write(chunk)
        req.end('{}')
      })
    const rest = await chunked('/v1/streams', { 'content-type': 'application/json' }, 80 * 1024)
    assert.equal(rest.status, 413, rest.text)
    assert.equal(JSON.parse(rest.text).error.code, 'PayloadTooLarge')
    const list = await chunked('/', { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.ListStreams', authorization: SIGV4 }, 80 * 1024)
    assert.equal(list.status, 413, list.text)
    assert.match(JSON.parse(list.text).message, /65536 bytes ListStreams accepts/)
    const putWithin = await chunked('/', { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.PutRecords', authorization: SIGV4 }, 80 * 1024)
    assert.equal(putWithin.status, 400, 'a put may be larger than 64 KiB: this one fails on its missing members, not its size')
    assert.match(JSON.parse(putWithin.text).message, /at 'records'/)
  })

  it('records the results in the test output', (t) => {
    const byStatus = new Map<string, number>()
    for (const r of results) byStatus.set(r.got.split(' ')[0]!, (byStatus.get(r.got.split(' ')[0]!) ?? 0) + 1)
    const wrong = results.filter((r) => r.expected !== r.got)
    t.diagnostic(`${results.length} bad-input cases (${restCases.length} REST, ${kinesisCases.length} Kinesis): ${results.length - wrong.length} answered as intended; by status ${[...byStatus].map(([k, v]) => `${k}×${v}`).join(', ')}`)
    for (const r of results) t.diagnostic(`${r.expected === r.got ? 'ok  ' : 'FAIL'} ${r.got.padEnd(44)} ${r.name}`)
    assert.equal(results.length, cases.length, 'every case ran')
    assert.ok(results.every((r) => Number(r.got.split(' ')[0]) >= 400 && Number(r.got.split(' ')[0]) < 500), 'every answer was a 4xx')
  })

  it('left no record, no stream and no key outside sluice: behind', async () => {
    assert.equal((await readAll(s, 'target', 'shardId-000000000000')).length, 0)
    assert.equal((await readAll(s, 'target', 'shardId-000000000001')).length, 0)
    const list = await s.request('GET', '/v1/streams')
    assert.deepEqual(list.body.streams.map((x: any) => x.name), ['target'])
    const keys = (await redisCommand(s.redis.port, ['KEYS', '*'])) as string[]
    assert.ok(Array.isArray(keys) && keys.length > 0)
    for (const key of keys) {
      assert.ok(key.startsWith('sluice:'), `${key} is outside sluice:`)
      // Shard and group keys carry {<stream>:…}; catalog keys name the stream after their kind.
      const named = /^sluice:\{(?!catalog\})([^:}]+)/.exec(key)?.[1] ?? /^sluice:\{catalog\}:(?:stream|tags|groups):([^:]+)/.exec(key)?.[1]
      if (named !== undefined) assert.equal(named, 'target', `${key} belongs to a stream a refused request named`)
      assert.doesNotMatch(key, /:g:/, `${key}: a refused request made a consumer group`)
    }
    const logs = keys.filter((k) => k.endsWith(':log'))
    for (const log of logs) assert.equal(await redisCommand(s.redis.port, ['XLEN', log]), 0, `${log} holds a record`)
  })
})
