import { API_KEY_ID_PATTERN, SCOPE_PATTERN } from '@sluice/protocol'
import { errorResponses } from './common.schema.js'

/** Most scopes one key may have: enough for any real use, and a bound on what a request stores. */
export const MAX_SCOPES_PER_KEY = 100

const scopeSchema = {
  type: 'string',
  pattern: SCOPE_PATTERN,
  description: 'read, write or admin, a colon, then a stream name, a prefix ending in * or *',
} as const

const keyNameSchema = {
  type: 'string',
  maxLength: 128,
  // No control characters: names are printed in terminals and tables.
  pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F]*$',
  description: 'at most 128 characters, without control characters',
} as const

const keyIdSchema = { type: 'string', pattern: API_KEY_ID_PATTERN, description: '16 hex digits (the part after sluice_ in a token)' } as const

const keyDescriptionProperties = {
  id: { type: 'string' },
  name: { type: 'string' },
  scopes: { type: 'array', items: { type: 'string' } },
  createdAt: { type: 'integer' },
} as const

const keyDescription = { type: 'object', required: ['id', 'name', 'scopes', 'createdAt'], properties: keyDescriptionProperties } as const

export const createKeySchema = {
  body: {
    type: 'object',
    required: ['scopes'],
    additionalProperties: false,
    properties: {
      scopes: { type: 'array', minItems: 1, maxItems: MAX_SCOPES_PER_KEY, items: scopeSchema },
      name: keyNameSchema,
    },
  },
  response: {
    201: { type: 'object', required: ['id', 'name', 'scopes', 'createdAt', 'token'], properties: { ...keyDescriptionProperties, token: { type: 'string' } } },
    ...errorResponses,
  },
} as const

export const listKeysSchema = {
  response: {
    200: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: keyDescription } } },
    ...errorResponses,
  },
} as const

export const revokeKeySchema = {
  params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: keyIdSchema } },
  response: { 204: { type: 'null' }, ...errorResponses },
} as const
