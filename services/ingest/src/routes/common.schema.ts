/** Schema pieces shared by the routes. `description` doubles as the rule text in validation errors. */
import { STREAM_NAME_PATTERN } from '@sluice/protocol'

export const streamNameSchema = {
  type: 'string',
  pattern: STREAM_NAME_PATTERN,
  description: '1 to 128 characters from a-z, A-Z, 0-9, "_", "." and "-", other than "." and ".."',
} as const

export const shardIdSchema = { type: 'string', maxLength: 64, description: 'a shard id such as shardId-000000000000' } as const

export const streamParams = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: streamNameSchema },
} as const

export const shardParams = {
  type: 'object',
  required: ['name', 'shardId'],
  additionalProperties: false,
  properties: { name: streamNameSchema, shardId: shardIdSchema },
} as const

export const errorBodySchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        field: { type: 'string' },
        details: {
          type: 'array',
          items: { type: 'object', required: ['message'], properties: { field: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
  },
} as const

export const errorResponses = { '4xx': errorBodySchema, '5xx': errorBodySchema } as const

export const writeLimitsSchema = {
  type: 'object',
  required: ['recordsPerSecond', 'bytesPerSecond'],
  properties: { recordsPerSecond: { type: 'integer' }, bytesPerSecond: { type: 'integer' } },
} as const

export const streamSummarySchema = {
  type: 'object',
  required: ['name', 'status', 'shardCount', 'retentionHours', 'createdAt'],
  properties: {
    name: { type: 'string' },
    status: { type: 'string' },
    shardCount: { type: 'integer' },
    retentionHours: { type: 'integer' },
    createdAt: { type: 'integer' },
  },
} as const

export const streamDescriptionSchema = {
  type: 'object',
  required: [...streamSummarySchema.required, 'writeLimits', 'shards'],
  properties: {
    ...streamSummarySchema.properties,
    writeLimits: writeLimitsSchema,
    shards: {
      type: 'array',
      items: {
        type: 'object',
        required: ['shardId', 'hashKeyRange', 'sequenceNumberRange'],
        properties: {
          shardId: { type: 'string' },
          hashKeyRange: {
            type: 'object',
            required: ['start', 'end'],
            properties: { start: { type: 'string' }, end: { type: 'string' } },
          },
          sequenceNumberRange: {
            type: 'object',
            required: ['start'],
            properties: { start: { type: 'string' }, end: { type: 'string' } },
          },
        },
      },
    },
  },
} as const
