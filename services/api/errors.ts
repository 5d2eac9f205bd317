// Every error the API answers with, created once with its status and code.
// Bodies are always {error, message}; nothing internal (SQL, stack, paths) leaks.

import type { FromSchema } from 'json-schema-to-ts';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string) => new ApiError(400, 'bad_request', message);
export const notFound = (message: string) => new ApiError(404, 'not_found', message);

/** Longest part of a client's q token an error message repeats. */
const TOKEN_ECHO_MAX = 100;

/**
 * A q (search syntax) the API cannot apply: what is wrong, then the token, last and in
 * backticks, so a client (or a test) can tell the API's words from its own input.
 */
export function badQuery(problem: string, token: string): ApiError {
  const chars = Array.from(token);
  return badRequest(`q: ${problem}: \`${chars.length > TOKEN_ECHO_MAX ? `${chars.slice(0, TOKEN_ECHO_MAX).join('')}…` : token}\``);
}

/** The query ran past its time budget and was cancelled. */
export const queryTimeout = (timeoutMs: number) =>
  new ApiError(503, 'timeout', `the query took longer than ${timeoutMs} ms and was cancelled; narrow the time window or the filters`, { 'retry-after': '5' });

/** Too many heavy queries at once: the client should come back shortly. */
export const overloaded = (retryAfterSeconds: number) =>
  new ApiError(503, 'overloaded', 'the server is busy with other queries; retry shortly', { 'retry-after': String(retryAfterSeconds) });

/** The `error` code of a status that has no ApiError of its own (Fastify's and Node's own 4xx). */
export function codeForStatus(status: number): string {
  const codes: Record<number, string> = {
    400: 'bad_request',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not_found',
    405: 'method_not_allowed',
    406: 'not_acceptable',
    408: 'request_timeout',
    413: 'payload_too_large',
    414: 'uri_too_long',
    415: 'unsupported_media_type',
    429: 'rate_limited',
    431: 'headers_too_large',
  };
  return codes[status] ?? (status >= 500 ? 'internal' : 'bad_request');
}

export const errorResponseSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

/** The body of every error response. */
export type ErrorBody = FromSchema<typeof errorResponseSchema>;
