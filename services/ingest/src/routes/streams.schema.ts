import {
  MAX_CONFIGURED_BYTES_PER_SECOND,
  MAX_CONFIGURED_RECORDS_PER_SECOND,
  MAX_LIST_LIMIT,
  MAX_RETENTION_HOURS,
  MIN_RETENTION_HOURS,
} from '@sluice/protocol'
import { errorResponses, streamDescriptionSchema, streamNameSchema, streamParams, streamSummarySchema } from './common.schema.js'

export const createStreamSchema = {
  body: {
    type: 'object',
    required: ['name', 'shardCount'],
    additionalProperties: false,
    properties: {
      name: streamNameSchema,
      shardCount: { type: 'integer', minimum: 1 },
      retentionHours: { type: 'integer', minimum: MIN_RETENTION_HOURS, maximum: MAX_RETENTION_HOURS },
      writeLimits: {
        type: 'object',
        additionalProperties: false,
        properties: {
          recordsPerSecond: { type: 'integer', minimum: 1, maximum: MAX_CONFIGURED_RECORDS_PER_SECOND },
          bytesPerSecond: { type: 'integer', minimum: 1, maximum: MAX_CONFIGURED_BYTES_PER_SECOND },
        },
      },
    },
  },
  response: { 201: streamDescriptionSchema, ...errorResponses },
} as const

export const listStreamsSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      limit: { type: 'string', pattern: '^[0-9]{1,4}$', description: `a whole number from 1 to ${MAX_LIST_LIMIT}` },
      next: { type: 'string', minLength: 1, maxLength: 256 },
    },
  },
  response: {
    200: {
      type: 'object',
      required: ['streams'],
      properties: { streams: { type: 'array', items: streamSummarySchema }, next: { type: 'string' } },
    },
    ...errorResponses,
  },
} as const

export const describeStreamSchema = {
  params: streamParams,
  response: { 200: streamDescriptionSchema, ...errorResponses },
} as const

export const deleteStreamSchema = {
  params: streamParams,
  response: { 204: { type: 'null' }, ...errorResponses },
} as const

export const updateStreamSchema = {
  params: streamParams,
  body: {
    type: 'object',
    required: ['retentionHours'],
    additionalProperties: false,
    properties: { retentionHours: { type: 'integer', minimum: MIN_RETENTION_HOURS, maximum: MAX_RETENTION_HOURS } },
  },
  response: { 200: streamDescriptionSchema, ...errorResponses },
} as const
