/** API keys: create (the token is answered once), list (never a secret), revoke. Admin on `*` only. */
import type { FastifyInstance } from 'fastify'
import type { CreateApiKeyRequest } from '@sluice/protocol'
import type { ActionContext } from '../context.js'
import { createApiKey, listApiKeys, revokeApiKey } from '../actions/api-keys.js'
import { createKeySchema, listKeysSchema, revokeKeySchema } from './keys.schema.js'

export function keyRoutes(app: FastifyInstance, ctx: ActionContext): void {
  app.post<{ Body: CreateApiKeyRequest }>('/v1/keys', { schema: createKeySchema }, async (req, reply) => {
    const created = await createApiKey(ctx, req.body)
    // An audit line without the token: who can do what from now on.
    req.log.info({ keyId: created.id, scopes: created.scopes }, 'API key created')
    return reply.code(201).send(created)
  })

  app.get('/v1/keys', { schema: listKeysSchema }, async () => listApiKeys(ctx))

  app.delete<{ Params: { id: string } }>('/v1/keys/:id', { schema: revokeKeySchema }, async (req, reply) => {
    await revokeApiKey(ctx, req.params.id)
    req.log.info({ keyId: req.params.id }, 'API key revoked')
    return reply.code(204).send()
  })
}
