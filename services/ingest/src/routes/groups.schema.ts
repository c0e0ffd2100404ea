import { errorResponses, shardIdSchema, streamNameSchema } from './common.schema.js'
import { MAX_LEASE_TTL_MS, MIN_LEASE_TTL_MS } from '../actions/consumer-groups.js'

// Group names and worker ids follow the stream-name rule: they end up inside key names and hash tags.
const groupSchema = streamNameSchema
const workerSchema = streamNameSchema

const groupParams = { type: 'object', required: ['name', 'group'], additionalProperties: false, properties: { name: streamNameSchema, group: groupSchema } } as const
const workerParams = {
  type: 'object',
  required: ['name', 'group', 'workerId'],
  additionalProperties: false,
  properties: { name: streamNameSchema, group: groupSchema, workerId: workerSchema },
} as const

const heartbeatResponse = {
  type: 'object',
  required: ['group', 'workerId', 'leaseTtlMs', 'shards'],
  properties: {
    group: { type: 'string' },
    workerId: { type: 'string' },
    leaseTtlMs: { type: 'integer' },
    shards: {
      type: 'array',
      items: {
        type: 'object',
        required: ['shardId', 'leaseToken', 'checkpoint'],
        properties: { shardId: { type: 'string' }, leaseToken: { type: 'string' }, checkpoint: { type: ['string', 'null'] } },
      },
    },
  },
} as const

export const heartbeatSchema = {
  params: workerParams,
  // The body is optional (curl -XPOST with none is fine); when sent it is checked in the route.
  response: { 200: heartbeatResponse, ...errorResponses },
} as const

export const leaveSchema = { params: workerParams, response: { 204: { type: 'null' }, ...errorResponses } } as const

export const checkpointSchema = {
  params: { type: 'object', required: ['name', 'group', 'shardId'], additionalProperties: false, properties: { name: streamNameSchema, group: groupSchema, shardId: shardIdSchema } },
  body: {
    type: 'object',
    required: ['sequenceNumber', 'leaseToken'],
    additionalProperties: false,
    properties: {
      sequenceNumber: { type: 'string', maxLength: 128 },
      leaseToken: { type: 'string', pattern: '^[0-9]{1,20}$', description: 'the lease token a heartbeat gave for this shard' },
    },
  },
  response: {
    200: { type: 'object', required: ['shardId', 'sequenceNumber'], properties: { shardId: { type: 'string' }, sequenceNumber: { type: 'string' } } },
    ...errorResponses,
  },
} as const

export const describeGroupSchema = {
  params: groupParams,
  response: {
    200: {
      type: 'object',
      required: ['stream', 'group', 'leaseTtlMs', 'workers', 'shards'],
      properties: {
        stream: { type: 'string' },
        group: { type: 'string' },
        leaseTtlMs: { type: 'integer' },
        workers: {
          type: 'array',
          items: { type: 'object', required: ['workerId', 'lastHeartbeat', 'shards'], properties: { workerId: { type: 'string' }, lastHeartbeat: { type: 'integer' }, shards: { type: 'integer' } } },
        },
        shards: {
          type: 'array',
          items: {
            type: 'object',
            required: ['shardId', 'owner', 'leaseToken', 'checkpoint', 'lag'],
            properties: {
              shardId: { type: 'string' },
              owner: { type: ['string', 'null'] },
              leaseToken: { type: ['string', 'null'] },
              checkpoint: { type: ['string', 'null'] },
              lag: { type: 'object', required: ['records', 'millis'], properties: { records: { type: 'integer' }, millis: { type: 'integer' } } },
            },
          },
        },
      },
    },
    ...errorResponses,
  },
} as const

export const listGroupsSchema = {
  params: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: streamNameSchema } },
  response: { 200: { type: 'object', required: ['groups'], properties: { groups: { type: 'array', items: { type: 'string' } } } }, ...errorResponses },
} as const

export const LEASE_TTL_RANGE = { min: MIN_LEASE_TTL_MS, max: MAX_LEASE_TTL_MS }
