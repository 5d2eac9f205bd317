// Authentication and authorization, as a Fastify plugin registered in the scope of
// the routes it protects (app.ts): every route of the scope needs a key with the
// scope's scope. `Authorization: Bearer <key>`; a missing, unknown or revoked key is
// a 401, a valid key without the scope a 403. Failures are counted
// (bpe_api_auth_failures_total{reason}) and written to the audit trail, never with
// the key that was presented.

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { AuthUnavailableError } from './authenticator.ts';
import { keyId, type ApiKeyRecord, type Scope } from './keys.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The key the request was authenticated with (absent with API_AUTH=off). */
    apiKey?: ApiKeyRecord;
    /** Rows an export streamed (set by the export route, read by the audit hook). */
    exportRows?: number;
  }
}

type FailureReason = 'missing' | 'unknown' | 'revoked' | 'scope';

const CHALLENGE = 'Bearer realm="bluesky-post-explorer"';

function unauthorized(reason: Exclude<FailureReason, 'scope'>): ApiError {
  const messages = {
    missing: 'this endpoint needs an API key: send "Authorization: Bearer <key>"',
    unknown: 'the API key is not valid',
    revoked: 'the API key was revoked or has expired',
  };
  const challenge = reason === 'missing' ? CHALLENGE : `${CHALLENGE}, error="invalid_token"`;
  return new ApiError(401, 'unauthorized', messages[reason], { 'www-authenticate': challenge });
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

const auth: FastifyPluginAsync<{ ctx: ApiContext; scope: Scope }> = async (app, { ctx, scope }) => {
  const authenticator = ctx.auth;
  if (!authenticator) return; // API_AUTH=off: open, as the operator chose (logged at start-up)

  const fail = (request: FastifyRequest, reason: FailureReason, id?: string): void => {
    ctx.stats.authFailures[reason] += 1;
    ctx.audit?.record({
      action: 'auth_failure',
      actor: id ? { type: 'key', id } : { type: 'anonymous' },
      ip: request.ip,
      details: { reason, method: request.method, route: request.routeOptions.url ?? request.url.split('?')[0], scope },
    });
    request.log.info({ reason, keyId: id }, 'authentication failed');
  };

  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    const presented = bearerToken(request.headers.authorization);
    if (!presented) {
      fail(request, 'missing');
      throw unauthorized('missing');
    }
    let result;
    try {
      result = await authenticator.authenticate(presented);
    } catch (error) {
      if (error instanceof AuthUnavailableError) {
        request.log.warn({ err: (error.cause as Error | undefined)?.message }, 'key store unavailable');
        throw new ApiError(503, 'unavailable', 'authentication is unavailable right now; retry shortly', { 'retry-after': '5' });
      }
      throw error;
    }
    if (!result.ok) {
      // The id part of a key is public; it says which key (or which guess) it was.
      fail(request, result.reason, keyId(presented));
      throw unauthorized(result.reason);
    }
    if (!result.record.scopes.includes(scope)) {
      request.apiKey = result.record;
      fail(request, 'scope', result.record.id);
      throw new ApiError(403, 'forbidden', `this key does not have the ${scope} scope`);
    }
    request.apiKey = result.record;
  });
};

/** fp: the hook covers the scope that registers the plugin (a route group, app.ts), not a scope of the plugin's own. */
export const authPlugin = fp(auth, { name: 'bpe-auth', fastify: '5.x' });
