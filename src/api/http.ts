import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { IdempotencyRequest, WriteRequest } from '../audit/writes.js';
import type { SourceName } from '../auth/sources.js';
import type { Principal } from '../auth/tokens.js';
import { formatPath, OpxError } from '../domain/errors.js';
import type { Scope } from '../store/repositories/access.js';

/** The `:id` of a route that names a record by its id. */
export const idParams = z.object({ id: z.string().min(1).max(100) });
/** The `:id` of a route that names a record by its name (a rule, a service, a token). */
export const nameParams = z.object({ id: z.string().min(1).max(200) });

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
    /** The body's bytes as received, kept for signature checks. */
    rawBody?: Buffer;
  }
  interface FastifyContextConfig {
    /** The scope a route needs; `public` routes need no token. */
    scope?: Scope | 'public';
    /** PagerDuty senders put the credential in the body's routing_key, not a header. */
    bodyToken?: 'routing_key';
    /** The ingest source a route belongs to, for per-source authentication (`sourceAuth`). */
    source?: SourceName;
  }
}

/** Validates a body or query with zod; a failure names the first offending field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = [prefix, formatPath(issue.path)].filter(Boolean).join('.');
  throw new OpxError('invalid_request', `${path || 'body'}: ${issue.message}`, { path: path || undefined });
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The idempotency request for a write, if the client sent an `Idempotency-Key` header. */
export function idempotencyOf(request: FastifyRequest): IdempotencyRequest | undefined {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined || !IDEMPOTENCY_KEY.test(key)) {
    throw new OpxError('invalid_request', 'Idempotency-Key must be 1-255 visible ASCII characters', {
      path: 'Idempotency-Key',
    });
  }
  return {
    principal: request.principal.name,
    key,
    route: `${request.method} ${request.routeOptions.url ?? request.url}`,
    body: request.body ?? null,
  };
}

/**
 * A write as the ingest service takes it: the audit record (principal, route, the `:id` it names) and
 * the idempotency key, if any.
 */
export function writeOf(request: FastifyRequest): WriteRequest {
  const params = request.params as Record<string, unknown> | undefined;
  const target = typeof params?.id === 'string' ? params.id : null;
  return {
    audit: {
      principal: request.principal.name,
      action: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
      target,
      requestId: request.id,
    },
    idempotency: idempotencyOf(request),
  };
}

export function sendWrite(
  reply: FastifyReply,
  response: { statusCode: number; body: unknown; replayed: boolean },
): FastifyReply {
  reply.code(response.statusCode);
  if (response.replayed) reply.header('idempotent-replayed', 'true');
  return response.body === undefined || response.body === null ? reply.send() : reply.send(response.body);
}

export function errorBody(error: OpxError): { error: { code: string; message: string; path?: string } } {
  return { error: { code: error.code, message: error.message, ...(error.path ? { path: error.path } : {}) } };
}
