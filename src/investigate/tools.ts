import { budgetStatus } from '../analytics/alarms.js';
import { OpxError } from '../domain/errors.js';
import type { EvidenceBundle } from '../domain/evidence.js';
import { AGENTS, type AgentName, type Finding } from '../domain/finding.js';
import type { Runtime } from '../runtime.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import { type GraphTools, investigationGraph } from './graph.js';
import { configuredRefiners } from './llm.js';

/* The investigation graph's tools and its compiled form, per runtime; shared by runs and replays. */

export type CompiledGraph = ReturnType<ReturnType<typeof investigationGraph>['compile']>;

const BUNDLE_CACHE_SIZE = 64;
const compiled = new WeakMap<
  Runtime,
  { tools: ReturnType<typeof graphTools>; graph: Promise<CompiledGraph> }
>();

/** The agents' tools for one runtime: bundles read through the read-only connection, cached by id. */
export function graphTools(
  runtime: Runtime,
  refiners: GraphTools['refiners'] = configuredRefiners(runtime.config, runtime.guardrailKey),
): GraphTools & { remember(bundle: EvidenceBundle): void } {
  // Insertion-ordered: the first key is the oldest, evicted when the cache is full.
  const cache = new Map<string, EvidenceBundle>();
  const remember = (id: string, bundle: EvidenceBundle) => {
    if (!cache.has(id) && cache.size >= BUNDLE_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(id, bundle);
  };
  return {
    refiners,
    groundingMode: runtime.config.groundingMode,
    /** A bundle this process just froze is the one the store holds; no need to read it back. */
    remember(bundle) {
      remember(bundle.id, bundle);
    },
    toolTimeoutMs: runtime.config.toolTimeoutSeconds * 1000,
    async loadBundle(bundleId) {
      const cached = cache.get(bundleId);
      if (cached) return cached;
      const bundle = await (await runtime.reader()).evidence.getBundle(bundleId);
      if (!bundle) throw new OpxError('not_found', `no evidence bundle ${bundleId}`);
      remember(bundleId, bundle);
      return bundle;
    },
  };
}

/**
 * Whether the month's model spend leaves room under a hard cap (`budgetHardCap`): one indexed sum over
 * the month's traces, asked before each agent's model call.
 */
function budgetGate(runtime: Runtime): (() => Promise<boolean>) | undefined {
  if (!runtime.config.budgetHardCap) return undefined;
  return async () =>
    (await budgetStatus(runtime.store, runtime.config.budgetMonthlyUsd, Date.now())).fraction < 1;
}

/** The investigation graph compiled once per runtime, on the runtime's checkpointer, with its tools. */
export function checkpointedGraph(runtime: Runtime) {
  let entry = compiled.get(runtime);
  if (!entry) {
    const gate = budgetGate(runtime);
    const tools = { ...graphTools(runtime), ...(gate ? { modelsAllowed: gate } : {}) };
    entry = {
      tools,
      graph: runtime.checkpointer().then(({ saver }) => investigationGraph(tools).compile(saver)),
    };
    compiled.set(runtime, entry);
  }
  return entry;
}

/**
 * Loads what the first investigation would otherwise load while its incident waits: the compiled graph
 * on its checkpointer (LangGraph's savers are imported on first use), the read-only connection and the
 * knowledge index. A process that runs investigation jobs calls it before it takes work, so a setup
 * fault stops start-up instead of failing the first investigation.
 */
export async function prepareInvestigations(runtime: Runtime): Promise<void> {
  await Promise.all([checkpointedGraph(runtime).graph, runtime.reader(), runtime.knowledge.index()]);
}

export function findingsOf(state: { findings: Partial<Record<AgentName, Finding>> }): Finding[] {
  return AGENTS.map((agent: AgentName) => {
    const finding = state.findings[agent];
    if (!finding) throw new OpxError('internal', `the investigation finished without a ${agent} finding`);
    return finding;
  });
}

/** The hash of an investigation's output: what a replay must reproduce. */
export function outputHash(findings: readonly Finding[]): string {
  return sha256(canonicalJson(findings));
}
