import { newId } from '../domain/common.js';
import { OpxError } from '../domain/errors.js';
import type { EvidenceBundle } from '../domain/evidence.js';
import { AGENTS, type AgentName, type Finding, type RecommendationDraft } from '../domain/finding.js';
import { canTransition } from '../domain/incident.js';
import {
  appendIncidentEvents,
  freezeEvidence,
  requireIncident,
  transitionIncident,
} from '../incidents/service.js';
import type { Runtime } from '../runtime.js';
import type { StoreScope } from '../store/index.js';
import type { Recommendation } from '../store/repositories/investigations.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import { openCheckpointer } from './checkpointer.js';
import { investigationGraph } from './graph.js';

export interface InvestigationResult {
  investigationId: string;
  incidentId: string;
  bundle: EvidenceBundle;
  findings: Finding[];
  recommendations: Recommendation[];
  outputHash: string;
  checkpoints: number;
}

/** Runs the graph on a frozen bundle; `thread_id` is the incident id, so every run is checkpointed under it. */
export async function runGraph(
  runtime: Runtime,
  bundle: EvidenceBundle,
): Promise<{ findings: Finding[]; checkpoints: number }> {
  const checkpointer = await openCheckpointer(runtime.store);
  try {
    const config = { configurable: { thread_id: bundle.incidentId } };
    const graph = investigationGraph(async () => bundle).compile(checkpointer.saver);
    const state = await graph.invoke(
      { incidentId: bundle.incidentId, bundleId: bundle.id, findings: {} },
      config,
    );
    const findings = AGENTS.map((agent: AgentName) => {
      const finding = state.findings[agent];
      if (!finding) throw new OpxError('internal', `the investigation finished without a ${agent} finding`);
      return finding;
    });
    let checkpoints = 0;
    for await (const _checkpoint of checkpointer.saver.list(config)) checkpoints += 1;
    return { findings, checkpoints };
  } finally {
    await checkpointer.close();
  }
}

export function outputHash(findings: readonly Finding[]): string {
  return sha256(canonicalJson(findings));
}

/**
 * Freezes the evidence, runs the six agents, and records findings, recommendations and events. The
 * incident moves OPEN → INVESTIGATING → ADVISORY_READY where its lifecycle allows. Nothing outside OPX
 * is touched: recommendations wait for a human.
 */
export async function investigateIncident(
  runtime: Runtime,
  incidentId: string,
  principal: string,
): Promise<InvestigationResult> {
  const { config } = runtime;
  const knowledge = await runtime.knowledge.index();
  const started = await runtime.ingest.writer.run(async (scope) => {
    const incident = await requireIncident(scope, incidentId);
    if (incident.status === 'CLOSED')
      throw new OpxError(
        'illegal_transition',
        `incident ${incidentId} is CLOSED; re-open it before investigating`,
      );
    const { bundle } = await freezeEvidence(scope, incidentId, {
      lookbackMs: config.changeLookbackSeconds * 1000,
      radius: config.topologyRadius,
      principal,
      knowledge,
    });
    const id = newId('investigation');
    const attempt = (await scope.investigations.forIncident(incidentId)).length + 1;
    await scope.investigations.start({ id, incidentId, bundleId: bundle.id, attempt, startedAt: Date.now() });
    if (canTransition(incident.status, 'INVESTIGATING')) {
      await transitionIncident(scope, incidentId, 'INVESTIGATING', {
        principal,
        at: Date.now(),
        reason: `investigation ${id}`,
      });
    }
    await appendIncidentEvents(scope, incidentId, [
      {
        type: 'investigation_started',
        principal,
        at: Date.now(),
        data: { investigationId: id, bundleId: bundle.id, bundleHash: bundle.hash },
      },
    ]);
    return { id, bundle };
  });

  let outcome: { findings: Finding[]; checkpoints: number };
  try {
    outcome = await runGraph(runtime, started.bundle);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    await runtime.ingest.writer.run(async (scope) => {
      await scope.investigations.finish(started.id, {
        status: 'failed',
        finishedAt: Date.now(),
        error: reason,
      });
      await appendIncidentEvents(scope, incidentId, [
        {
          type: 'investigation_failed',
          principal: 'system',
          at: Date.now(),
          data: { investigationId: started.id, reason },
        },
      ]);
    });
    throw error;
  }

  const hash = outputHash(outcome.findings);
  const strategy = outcome.findings.find((finding) => finding.agent === 'response-strategy')!;
  const drafts = (strategy.data.recommendations as RecommendationDraft[]) ?? [];
  const now = Date.now();
  const recommendations: Recommendation[] = drafts.map((draft, rank) => ({
    ...draft,
    id: newId('recommendation', now),
    incidentId,
    investigationId: started.id,
    rank: rank + 1,
    status: 'proposed',
    decidedBy: null,
    decidedAt: null,
    decisionReason: null,
    createdAt: now,
  }));
  await runtime.ingest.writer.run(async (scope) => {
    await scope.investigations.finish(started.id, {
      status: 'completed',
      finishedAt: now,
      outputHash: hash,
      findings: outcome.findings,
    });
    await scope.investigations.addRecommendations(recommendations);
    await appendIncidentEvents(scope, incidentId, [
      ...outcome.findings.map((finding) => ({
        type: 'agent_completed' as const,
        principal: `agent:${finding.agent}`,
        at: now,
        data: {
          investigationId: started.id,
          summary: finding.summary,
          confidence: finding.confidence,
          insufficientEvidence: finding.insufficientEvidence,
        },
      })),
      ...recommendations.map((recommendation) => ({
        type: 'recommendation_proposed' as const,
        principal: 'agent:response-strategy',
        at: now,
        data: { recommendationId: recommendation.id, kind: recommendation.kind, title: recommendation.title },
      })),
    ]);
    const incident = await requireIncident(scope, incidentId);
    if (incident.status === 'INVESTIGATING') {
      await transitionIncident(scope, incidentId, 'ADVISORY_READY', {
        principal: 'system',
        at: now,
        reason: `investigation ${started.id} completed`,
      });
    }
  });
  return {
    investigationId: started.id,
    incidentId,
    bundle: started.bundle,
    findings: outcome.findings,
    recommendations,
    outputHash: hash,
    checkpoints: outcome.checkpoints,
  };
}

/** Approves or rejects a recommendation. Approval records a human decision; it executes nothing. */
export async function decideRecommendation(
  scope: StoreScope,
  recommendationId: string,
  decision: { status: 'approved' | 'rejected'; principal: string; reason: string; at?: number },
): Promise<Recommendation> {
  const reason = decision.reason.trim();
  if (!reason) throw new OpxError('invalid_request', 'give a reason for the decision', { path: 'reason' });
  const recommendation = await scope.investigations.recommendation(recommendationId, { forUpdate: true });
  if (!recommendation)
    throw new OpxError('not_found', `no recommendation ${recommendationId}`, { path: 'id' });
  if (recommendation.status !== 'proposed') {
    throw new OpxError(
      'conflict',
      `recommendation ${recommendationId} was already ${recommendation.status} by ${recommendation.decidedBy}`,
    );
  }
  const at = decision.at ?? Date.now();
  await scope.investigations.decide(recommendationId, {
    status: decision.status,
    by: decision.principal,
    at,
    reason,
  });
  await appendIncidentEvents(scope, recommendation.incidentId, [
    {
      type: decision.status === 'approved' ? 'recommendation_approved' : 'recommendation_rejected',
      principal: decision.principal,
      at,
      data: { recommendationId, kind: recommendation.kind, title: recommendation.title, reason },
    },
  ]);
  return {
    ...recommendation,
    status: decision.status,
    decidedBy: decision.principal,
    decidedAt: at,
    decisionReason: reason,
  };
}
