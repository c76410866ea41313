import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createToken, parseScopes, type TokenVerifier } from '../../auth/tokens.js';
import { parseTimestamp, timestampSchema, toIso } from '../../domain/common.js';
import { OpxError } from '../../domain/errors.js';
import { ruleInputSchema, silenceInputSchema } from '../../domain/rule.js';
import { dryRunRules, ruleSetSchema } from '../../ingest/dry-run.js';
import type { Runtime } from '../../runtime.js';
import { nameParams, parseInput, sendWrite, writeOf } from '../http.js';
import { presentRule, presentSilence, presentSubscription, presentToken } from '../present.js';
import type { TokenCreated, TokenList } from '../schemas.js';

export const auditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  since: timestampSchema.optional(),
  until: timestampSchema.optional(),
  principal: z.string().min(1).max(200).optional(),
  target: z.string().min(1).max(200).optional(),
  action: z.string().min(1).max(200).optional(),
});
/** Rehearse a candidate rule set on stored signals; writes nothing (src/ingest/dry-run.ts). */
export const dryRunBody = z.strictObject({
  rules: ruleSetSchema,
  since: timestampSchema.optional(),
  until: timestampSchema.optional(),
});
export const tokenBody = z.strictObject({
  name: z.string().min(1).max(100),
  scopes: z.array(z.string()).min(1).max(4),
});

export function registerAdminRoutes(app: FastifyInstance, runtime: Runtime, verifier: TokenVerifier): void {
  const { store, ingest, writes } = runtime;
  const read = { config: { scope: 'read' as const } };
  const admin = { config: { scope: 'admin' as const } };

  // Every authenticated write, newest first (admin: it names who did what).
  app.get('/v1/audit', admin, async (request) => {
    const query = parseInput(auditQuery, request.query ?? {}, 'query');
    if (query.since !== undefined && query.until !== undefined && query.until <= query.since)
      throw new OpxError('invalid_request', 'query.until must be after query.since', { path: 'query.until' });
    const entries = await store.audit.list(query);
    return { items: entries.map((entry) => ({ ...entry, at: toIso(entry.at) })) };
  });

  // Rules: data, versioned on every edit.
  app.get('/v1/rules', read, async () => ({
    items: (await store.rules.list({ includeDisabled: true })).map(presentRule),
  }));
  app.get('/v1/rules/:id', read, async (request) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const rule = await store.rules.get(id);
    if (!rule) throw new OpxError('not_found', `no rule ${id}`, { path: 'id' });
    return presentRule(rule);
  });
  // Rehearse a candidate rule set on stored signals; writes nothing (src/ingest/dry-run.ts).
  app.post('/v1/rules/dry-run', admin, async (request) => {
    const body = parseInput(dryRunBody, request.body);
    const until = body.until ?? Date.now();
    const report = await dryRunRules(store, body.rules, {
      since: body.since ?? until - 7 * 86_400_000,
      until,
      reopenGraceMs: ingest.settings.reopenGraceMs,
      autoResolve: ingest.settings.autoResolve,
    });
    return { ...report, since: toIso(report.since), until: toIso(report.until) };
  });
  app.post('/v1/rules', admin, async (request, reply) => {
    const input = parseInput(ruleInputSchema, request.body);
    const response = await writes.write(async (scope) => {
      const rule = await scope.rules.create(input);
      return {
        statusCode: 201,
        body: presentRule(rule),
        audit: { target: rule.id, detail: { event: 'rule.create', name: rule.name } },
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });
  app.put('/v1/rules/:id', admin, async (request, reply) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const input = parseInput(ruleInputSchema, request.body);
    const response = await writes.write(async (scope) => {
      const rule = await scope.rules.update(id, input);
      return {
        statusCode: 200,
        body: presentRule(rule),
        audit: { target: rule.id, detail: { event: 'rule.update', version: rule.version } },
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });
  app.delete('/v1/rules/:id', admin, async (request, reply) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const response = await writes.write(async (scope) => {
      const rule = await scope.rules.remove(id);
      return {
        statusCode: 200,
        body: { deleted: rule.id },
        audit: { target: rule.id, detail: { event: 'rule.delete', name: rule.name } },
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });

  // Silences and maintenance windows: matching signals are stored, marked suppressed, and open nothing.
  app.get('/v1/silences', read, async () => ({ items: (await store.silences.list()).map(presentSilence) }));
  app.post('/v1/silences', admin, async (request, reply) => {
    const input = parseInput(silenceInputSchema, request.body);
    const now = Date.now();
    const time = (value: string | number | undefined, path: string, fallback: number) => {
      if (value === undefined) return fallback;
      const parsed = typeof value === 'number' ? value : parseTimestamp(value);
      if (parsed === undefined)
        throw new OpxError('invalid_request', `${path}: use an ISO-8601 time`, { path });
      return parsed;
    };
    const startsAt = time(input.startsAt, 'startsAt', now);
    const endsAt = time(input.endsAt, 'endsAt', now);
    if (endsAt <= startsAt)
      throw new OpxError('invalid_request', 'endsAt must be after startsAt', { path: 'endsAt' });
    // Stored as the signals it matches are: redacted.
    const { matchers, comment } = ingest.redactor?.silence(input) ?? input;
    const response = await writes.write(async (scope) => {
      const silence = await scope.silences.create({
        kind: input.kind,
        matchers,
        startsAt,
        endsAt,
        comment,
        createdBy: request.principal.name,
      });
      return { statusCode: 201, body: presentSilence(silence) };
    }, writeOf(request));
    return sendWrite(reply, response);
  });
  app.delete('/v1/silences/:id', admin, async (request, reply) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const response = await writes.write(async (scope) => {
      if (!(await scope.silences.expire(id)))
        throw new OpxError('not_found', `no active silence ${id}`, { path: 'id' });
      return { statusCode: 200, body: { expired: id } };
    }, writeOf(request));
    return sendWrite(reply, response);
  });

  // Tokens.
  app.get('/v1/tokens', admin, async (): Promise<TokenList> => {
    const tokens = await store.tokens.list();
    return { items: tokens.map(presentToken) };
  });
  app.post('/v1/tokens', admin, async (request, reply) => {
    const input = parseInput(tokenBody, request.body);
    const scopes = parseScopes(input.scopes);
    if (request.headers['idempotency-key'] !== undefined) {
      // Replaying would need the secret stored with the key; OPX stores tokens only as digests.
      throw new OpxError(
        'invalid_request',
        'POST /v1/tokens takes no Idempotency-Key: the token is shown once and never stored, so a replay could not return it; check GET /v1/tokens to see whether a create went through',
        { path: 'Idempotency-Key' },
      );
    }
    const response = await writes.write(async (scope) => {
      const { token, record } = await createToken(scope, input.name, scopes);
      return {
        statusCode: 201,
        body: {
          token,
          ...presentToken(record),
          note: 'store this token now: it is not shown again',
        } satisfies TokenCreated,
        audit: { target: record.id, detail: { event: 'token.create', name: record.name, scopes } },
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });
  app.delete('/v1/tokens/:id', admin, async (request, reply) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const response = await writes.write(async (scope) => {
      const revoked = await scope.tokens.revoke(id);
      if (revoked === 0) throw new OpxError('not_found', `no active token ${id}`, { path: 'id' });
      return { statusCode: 200, body: { revoked } };
    }, writeOf(request));
    verifier.invalidate();
    return sendWrite(reply, response);
  });

  app.get('/v1/ingest/cloudwatch/subscriptions', admin, async () => ({
    items: (await store.sns.list()).map(presentSubscription),
  }));
}
