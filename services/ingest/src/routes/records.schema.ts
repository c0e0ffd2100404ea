import {
  MAX_PARTITION_KEY_LENGTH,
  MAX_READ_LIMIT,
  MAX_RECORDS_PER_PUT,
  STARTING_POSITIONS,
} from '@sluice/protocol'
import { errorResponses, shardParams, streamParams } from './common.schema.js'

const putRecordsBody = {
  type: 'object',
  required: ['records'],
  additionalProperties: false,
  properties: {
    records: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_RECORDS_PER_PUT,
      items: {
        type: 'object',
        required: ['partitionKey', 'data'],
        additionalProperties: false,
        properties: {
          partitionKey: { type: 'string', minLength: 1, maxLength: MAX_PARTITION_KEY_LENGTH },
          // `base64` is registered in app.ts (a linear scan; ajv-formats' `byte` backtracks). The 1 MiB bound is on the
          // decoded size; a maxLength here would make ajv count the code points of every megabyte.
          data: {
            type: 'string',
            format: 'base64',
            description: 'base64 (standard alphabet A-Z a-z 0-9 + /, padded with =) of at most 1 MiB',
          },
          explicitHashKey: {
            type: 'string',
            pattern: '^(0|[1-9][0-9]{0,38})$',
            description: 'a decimal integer from 0 to 2^128-1 without leading zeros',
          },
        },
      },
    },
  },
} as const

const putRecordsResponse = {
  type: 'object',
  required: ['failedRecordCount', 'records'],
  properties: {
    failedRecordCount: { type: 'integer' },
    records: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          shardId: { type: 'string' },
          sequenceNumber: { type: 'string' },
          errorCode: { type: 'string' },
          errorMessage: { type: 'string' },
        },
      },
    },
  },
} as const

export const putRecordsSchema = {
  params: streamParams,
  body: putRecordsBody,
  response: { 200: putRecordsResponse, 429: putRecordsResponse, ...errorResponses },
} as const

export const putShardRecordsSchema = {
  params: shardParams,
  body: putRecordsBody,
  response: { 200: putRecordsResponse, 429: putRecordsResponse, ...errorResponses },
} as const

export const getRecordsSchema = {
  params: shardParams,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      from: { type: 'string', enum: [...STARTING_POSITIONS] },
      sequenceNumber: { type: 'string', maxLength: 128 },
      timestamp: { type: 'string', maxLength: 64, description: 'ms since the epoch, or an ISO 8601 date-time' },
      limit: { type: 'string', pattern: '^[0-9]{1,5}$', description: `a whole number from 1 to ${MAX_READ_LIMIT}` },
      iterator: { type: 'string', minLength: 1, maxLength: 1024 },
    },
  },
  response: {
    200: {
      type: 'object',
      required: ['records', 'nextIterator', 'millisBehindLatest'],
      properties: {
        records: {
          type: 'array',
          items: {
            type: 'object',
            required: ['sequenceNumber', 'partitionKey', 'data', 'approximateArrivalTimestamp'],
            properties: {
              sequenceNumber: { type: 'string' },
              partitionKey: { type: 'string' },
              data: { type: 'string' },
              approximateArrivalTimestamp: { type: 'integer' },
            },
          },
        },
        nextIterator: { type: 'string' },
        millisBehindLatest: { type: 'integer' },
      },
    },
    ...errorResponses,
  },
} as const
