import { MemorySaver } from '@langchain/langgraph';
import { OpxError } from '../domain/errors.js';
import type { Finding } from '../domain/finding.js';
import { appendIncidentEvents, requireIncident } from '../incidents/service.js';
import type { Runtime } from '../runtime.js';
import { type JsonDifference, jsonDifferences } from '../util/json-diff.js';
import { type InvestigationStateType, investigationGraph } from './graph.js';
import { recordedRefiners } from './llm.js';
import { findingsOf, graphTools, outputHash } from './tools.js';

/** Where a replay's output differs from the stored one. */
export type ReplayDifference = JsonDifference;

export interface ReplayResult {
  incidentId: string;
  investigationId: string;
  bundleId: string;
  identical: boolean;
  storedHash: string;
  replayHash: string;
  findings: Finding[];
  differences: ReplayDifference[];
}

/**
 * Re-runs the graph on the frozen bundle of a completed investigation (the latest, unless one is
 * named) and compares the output with what was recorded. The re-run is checkpointed in memory, not on
 * the incident's thread, and changes nothing but one `investigation_replayed` event.
 */
export async function replayInvestigation(
  runtime: Runtime,
  incidentId: string,
  options: { principal: string; investigationId?: string | undefined },
): Promise<ReplayResult> {
  await requireIncident(runtime.store, incidentId);
  const investigations = await runtime.store.investigations.forIncident(incidentId);
  const target = options.investigationId
    ? investigations.find((item) => item.id === options.investigationId)
    : investigations.find((item) => item.status === 'completed');
  if (!target) {
    throw new OpxError(
      'not_found',
      options.investigationId
        ? `incident ${incidentId} has no investigation ${options.investigationId}`
        : `incident ${incidentId} has no completed investigation to replay; run \`opx investigate ${incidentId}\``,
    );
  }
  if (target.status !== 'completed' || !target.bundleId)
    throw new OpxError(
      'conflict',
      `investigation ${target.id} is ${target.status}; only a completed one replays`,
    );
  // An LLM-backed investigation replays from its recorded model calls, not from the provider.
  const recorded = (await runtime.store.safety.traces({ incidentId, limit: 1000 })).filter(
    (trace) => trace.createdAt >= target.startedAt && trace.createdAt <= (target.finishedAt ?? Date.now()),
  );
  const tools = graphTools(
    runtime,
    recordedRefiners(recorded, {
      maxAttempts: runtime.config.llmValidationAttempts,
      onInvalid: runtime.config.llmOnInvalid,
    }),
  );
  const bundle = await tools.loadBundle(target.bundleId);
  const graph = investigationGraph(tools).compile(new MemorySaver());
  const state = (await graph.invoke(
    { incidentId, investigationId: target.id, bundleId: bundle.id, findings: {} },
    { configurable: { thread_id: `replay:${target.id}` } },
  )) as InvestigationStateType;
  const findings = findingsOf(state);
  const replayHash = outputHash(findings);
  const storedHash = target.outputHash ?? outputHash(target.findings);
  const differences = jsonDifferences(target.findings, findings, 'findings');
  const identical = replayHash === storedHash && differences.length === 0;
  await runtime.writes.run((scope) =>
    appendIncidentEvents(scope, incidentId, [
      {
        type: 'investigation_replayed',
        principal: options.principal,
        at: Date.now(),
        data: { investigationId: target.id, identical, replayHash, differences: differences.length },
      },
    ]),
  );
  return {
    incidentId,
    investigationId: target.id,
    bundleId: bundle.id,
    identical,
    storedHash,
    replayHash,
    findings,
    differences,
  };
}
