/**
 * API keys over REST (`/v1/keys`): create, list, revoke. Only a key with `admin:*` may call them when
 * access control is on (auth.ts). The token is in the create answer and nowhere else: never stored
 * (Redis has a salted hash), never logged.
 */
import type { ApiKeyDescription, CreateApiKeyRequest, CreatedApiKey, ListApiKeysResponse } from '@sluice/protocol'
import type { ActionContext } from '../context.js'
import { ApiError } from '../errors.js'

export async function createApiKey(ctx: ActionContext, input: CreateApiKeyRequest): Promise<CreatedApiKey> {
  // The route schema has checked every scope; ApiKeys checks again and would throw a RangeError.
  return ctx.keys.create(input.name ?? '', input.scopes)
}

export async function listApiKeys(ctx: ActionContext): Promise<ListApiKeysResponse> {
  const keys: ApiKeyDescription[] = (await ctx.keys.list()).map(({ id, name, scopes, createdAt }) => ({ id, name, scopes, createdAt }))
  return { keys }
}

/** Revokes at once in this process; other ingest processes stop accepting the key within 5 s (their cache). */
export async function revokeApiKey(ctx: ActionContext, id: string): Promise<void> {
  if (!(await ctx.keys.revoke(id))) throw new ApiError('KeyNotFound', `API key ${id} not found`, { field: 'id' })
}
