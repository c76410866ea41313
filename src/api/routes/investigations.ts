import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { decideRecommendation } from '../../advise/decisions.js';
import { OpxError } from '../../domain/errors.js';
import { requireIncident } from '../../incidents/service.js';
import { runHandStartedInvestigation } from '../../investigate/jobs.js';
import { replayInvestigation } from '../../investigate/replay.js';
import type { Runtime } from '../../runtime.js';
import { idParams, parseInput, sendWrite, writeOf } from '../http.js';
import { presentInvestigation, presentRecommendation, presentTrace } from '../present.js';
import type {
  DecisionResponse,
  InvestigationList,
  InvestigationRun,
  RecommendationList,
  ReplayResultView,
  TraceList,
  TraceView,
} from '../schemas.js';

export const replayBody = z.strictObject({ investigationId: z.string().min(1).max(100).optional() });
export const tracesQuery = z.strictObject({
  incidentId: z.string().min(1).max(100).optional(),
  agent: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export const decisionBody = z.strictObject({
  reason: z.string().trim().min(1, 'give a reason for the decision').max(2000),
});

export function registerInvestigationRoutes(app: FastifyInstance, runtime: Runtime): void {
  const read = { config: { scope: 'read' as const } };
  const respond = { config: { scope: 'respond' as const } };

  app.post('/v1/incidents/:id/investigations', respond, async (request, reply) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const write = writeOf(request);
    const idempotency = write.idempotency;
    const replay = idempotency ? await runtime.writes.replayed(idempotency) : undefined;
    if (replay) return sendWrite(reply, replay);
    const result = await runHandStartedInvestigation(runtime, id, request.principal.name);
    const body: InvestigationRun = {
      investigationId: result.investigationId,
      incidentId: result.incidentId,
      bundleId: result.bundle.id,
      outputHash: result.outputHash,
      checkpoints: result.checkpoints,
      trust: result.findings.find((finding) => finding.agent === 'response-strategy')?.data.trust ?? null,
      findings: result.findings,
      recommendations: result.recommendations.map(presentRecommendation),
    };
    if (idempotency) await runtime.writes.remember(idempotency, { statusCode: 201, body });
    // Too long for one transaction: audited once it has completed.
    await runtime.writes.audited(write, 201, {
      detail: { investigationId: result.investigationId, outputHash: result.outputHash },
    });
    return reply.code(201).send(body);
  });

  app.post('/v1/incidents/:id/replay', respond, async (request): Promise<ReplayResultView> => {
    const { id } = parseInput(idParams, request.params, 'params');
    const { investigationId } = parseInput(replayBody, request.body ?? {});
    // Before replaying: a bad Idempotency-Key must be refused before the replay writes anything.
    const write = writeOf(request);
    const replayed = await replayInvestigation(runtime, id, {
      principal: request.principal.name,
      investigationId,
    });
    await runtime.writes.audited(write, 200, { detail: { investigationId } });
    return replayed;
  });

  app.get('/v1/traces', read, async (request): Promise<TraceList> => {
    const query = parseInput(tracesQuery, request.query ?? {}, 'query');
    return { items: (await runtime.store.safety.traces(query)).map(presentTrace) };
  });

  app.get('/v1/traces/:id', read, async (request): Promise<TraceView> => {
    const { id } = parseInput(idParams, request.params, 'params');
    const trace = await runtime.store.safety.trace(id);
    if (!trace) throw new OpxError('not_found', `no trace ${id}`, { path: 'id' });
    return presentTrace(trace);
  });

  app.get('/v1/incidents/:id/investigations', read, async (request): Promise<InvestigationList> => {
    const { id } = parseInput(idParams, request.params, 'params');
    await requireIncident(runtime.store, id);
    return { items: (await runtime.store.investigations.forIncident(id)).map(presentInvestigation) };
  });

  app.get('/v1/incidents/:id/recommendations', read, async (request): Promise<RecommendationList> => {
    const { id } = parseInput(idParams, request.params, 'params');
    await requireIncident(runtime.store, id);
    return { items: (await runtime.store.investigations.recommendations(id)).map(presentRecommendation) };
  });

  for (const status of ['approved', 'rejected'] as const) {
    app.post(
      `/v1/recommendations/:id/${status === 'approved' ? 'approve' : 'reject'}`,
      respond,
      async (request, reply) => {
        const { id } = parseInput(idParams, request.params, 'params');
        const { reason } = parseInput(decisionBody, request.body ?? {});
        const response = await runtime.writes.write(async (scope) => {
          const recommendation = await decideRecommendation(scope, id, {
            status,
            principal: request.principal.name,
            reason,
          });
          return {
            statusCode: 200,
            body: { recommendation: presentRecommendation(recommendation) } satisfies DecisionResponse,
          };
        }, writeOf(request));
        return sendWrite(reply, response);
      },
    );
  }
}
