import { Annotation, type BaseCheckpointSaver, END, START, StateGraph } from '@langchain/langgraph';
import { OpxError } from '../domain/errors.js';
import type { EvidenceBundle } from '../domain/evidence.js';
import {
  AGENTS,
  type AgentName,
  type Finding,
  type FindingOf,
  type FindingsByAgent,
} from '../domain/finding.js';
import { agentDuration, timed } from '../telemetry/metrics.js';
import { inSpan } from '../telemetry/tracing.js';
import { applyGrounding, type GroundingMode, groundingContext } from '../trust/grounding.js';
import { recommendationTrust, trustOf } from '../trust/trust.js';
import { analyzeChanges } from './agents/change-intelligence.js';
import { analyzeHistory } from './agents/historical-pattern.js';
import { analyzeKnowledge } from './agents/knowledge-rag.js';
import { respond } from './agents/response-strategy.js';
import { analyzeBlastRadius } from './agents/risk-blast-radius.js';
import { analyzeSignals } from './agents/signal-intelligence.js';
import { validateFinding } from './evidence.js';
import type { LlmRecords, Refiner } from './llm.js';
import { redactFinding } from './redact.js';

/** The update that empties an accumulating channel at the start of a run. */
export const RESET = 'reset' as const;

export const InvestigationState = Annotation.Root({
  incidentId: Annotation<string>,
  /** The investigation this run belongs to; an incident's thread holds every run of it. */
  investigationId: Annotation<string>,
  bundleId: Annotation<string>,
  /** Each agent's finding. A run starts with `RESET`: the thread still holds the previous run's. */
  findings: Annotation<FindingsByAgent, FindingsByAgent | typeof RESET>({
    reducer: (left, right) => (right === RESET ? {} : { ...left, ...right }),
    default: () => ({}),
  }),
  /**
   * Model calls, validation failures and guardrail matches, written with the investigation. A run
   * starts with `RESET`, or it would write the previous runs' records again.
   */
  llm: Annotation<LlmRecords[], LlmRecords[] | typeof RESET>({
    reducer: (left, right) => (right === RESET ? [] : [...left, ...right]),
    default: () => [],
  }),
});
export type InvestigationStateType = typeof InvestigationState.State;

const AGENT_ORDER = AGENTS.filter((agent) => agent !== 'response-strategy');

export const EVIDENCE_AGENTS = {
  'signal-intelligence': analyzeSignals,
  'historical-pattern': analyzeHistory,
  'change-intelligence': analyzeChanges,
  'risk-blast-radius': analyzeBlastRadius,
  'knowledge-rag': analyzeKnowledge,
} as const;

/** What the graph's nodes may call: read-only access to frozen evidence, under a time limit. */
export interface GraphTools {
  /** Reads a frozen evidence bundle by id. */
  loadBundle(bundleId: string): Promise<EvidenceBundle>;
  /** Limit for one tool call. */
  toolTimeoutMs: number;
  /** Agents that reason with a language model on top of their engine (none: all deterministic). */
  refiners?: Partial<Record<AgentName, Refiner>>;
  /**
   * Asked before each model refinement; false keeps the engine's finding (not degraded). The budget's
   * hard cap uses it.
   */
  modelsAllowed?: () => Promise<boolean>;
  /** What happens to claims the grounding check does not support (default `downgrade`). */
  groundingMode?: GroundingMode;
}

/**
 * The strategy finding with the investigation's trust score (data.trust) and each recommendation's
 * (data.recommendations[i].trust), from every finding and the run's model-call records.
 */
function withTrust(
  strategy: FindingOf<'response-strategy'>,
  state: InvestigationStateType,
  own: readonly LlmRecords[],
  bundle: EvidenceBundle,
): FindingOf<'response-strategy'> {
  const findings = [...AGENT_ORDER.flatMap((agent) => state.findings[agent] ?? []), strategy];
  const records = [...state.llm, ...own];
  const trust = trustOf({
    findings,
    bundle,
    invalidAnswers: records.reduce((sum, record) => sum + record.validationErrors.length, 0),
    degradedAgents: findings.filter((finding) => finding.degraded).length,
    injectionWarnings: records.reduce(
      (sum, record) =>
        sum + record.violations.filter((violation) => violation.entityType.startsWith('INJECTION:')).length,
      0,
    ),
  });
  const ids = groundingContext(bundle).ids;
  const recommendations = strategy.data.recommendations.map((recommendation) => ({
    ...recommendation,
    trust: recommendationTrust(trust, recommendation, ids),
  }));
  return { ...strategy, data: { ...strategy.data, trust, recommendations } };
}

/** The environment variable that makes a node hold forever (fault injection for crash tests). */
export const FAULT_HOLD_ENV = 'OPX_FAULT_HOLD_NODE';

/**
 * Fault injection: when `OPX_FAULT_HOLD_NODE` names this node, the node announces itself on stderr
 * and never finishes, so a test can kill the process at a known point mid-investigation.
 */
async function holdIfAsked(node: string): Promise<void> {
  if (process.env[FAULT_HOLD_ENV] !== node) return;
  process.stderr.write(`opx fault injection: holding node ${node} until the process is killed\n`);
  await new Promise<never>(() => {
    setInterval(() => {}, 60_000);
  });
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new OpxError('timeout', `${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The five evidence agents run in parallel from START; response-strategy joins them once all have
 * written their findings. Each node reads the frozen bundle by id through its tool, so a checkpoint
 * holds ids and findings, not the evidence. A finding that fails validation fails its node (and the
 * investigation).
 */
export function investigationGraph(tools: GraphTools) {
  const checked = <F extends Finding>(finding: F, bundle: EvidenceBundle): F => {
    const problems = validateFinding(finding, bundle);
    if (problems.length > 0)
      throw new Error(`${finding.agent} produced an invalid finding: ${problems.join('; ')}`);
    return finding;
  };
  const read = (node: string, bundleId: string) =>
    withTimeout(tools.loadBundle(bundleId), tools.toolTimeoutMs, `${node}: reading evidence ${bundleId}`);
  const graph = new StateGraph(InvestigationState);
  // The engine's finding, refined by the agent's model when one is configured (checked either way).
  // What a human reads of it passes the guardrails either way (redactFinding).
  // Every finding, the engine's or a model's, is grounded against the evidence it cites.
  const grounded = <F extends Finding>(finding: F, bundle: EvidenceBundle): F =>
    checked(
      applyGrounding(redactFinding(finding), groundingContext(bundle), tools.groundingMode ?? 'downgrade'),
      bundle,
    );
  const finish = async <A extends AgentName>(
    name: A,
    base: FindingOf<A>,
    bundle: EvidenceBundle,
  ): Promise<{ finding: FindingOf<A>; llm: LlmRecords[] }> => {
    const refine = tools.refiners?.[name];
    if (!refine || (tools.modelsAllowed && !(await tools.modelsAllowed())))
      return { finding: grounded(base, bundle), llm: [] };
    const { finding, records } = await refine(checked(base, bundle), bundle);
    return { finding: grounded(finding, bundle), llm: [records] };
  };
  // Each agent's node is one `invoke_agent` span; its model calls are spans under it.
  const agentSpan = <T>(name: AgentName, state: InvestigationStateType, work: () => Promise<T>) =>
    timed(agentDuration.labels({ agent: name }), () =>
      inSpan(
        `invoke_agent ${name}`,
        {
          attributes: {
            'gen_ai.operation.name': 'invoke_agent',
            'gen_ai.agent.name': name,
            'opx.incident.id': state.incidentId,
            'opx.investigation.id': state.investigationId,
          },
        },
        work,
      ),
    );
  for (const [name, analyze] of Object.entries(EVIDENCE_AGENTS)) {
    graph.addNode(name, (state: InvestigationStateType) =>
      agentSpan(name as AgentName, state, async () => {
        const bundle = await read(name, state.bundleId);
        await holdIfAsked(name);
        const { finding, llm } = await finish(name as AgentName, analyze(bundle), bundle);
        return { findings: { [name]: finding }, llm };
      }),
    );
  }
  graph.addNode('response-strategy', (state: InvestigationStateType) =>
    agentSpan('response-strategy', state, async () => {
      const bundle = await read('response-strategy', state.bundleId);
      await holdIfAsked('response-strategy');
      const { finding, llm } = await finish('response-strategy', respond(bundle, state.findings), bundle);
      return { findings: { 'response-strategy': withTrust(finding, state, llm, bundle) }, llm };
    }),
  );
  const builder = graph as unknown as StateGraph<
    typeof InvestigationState.spec,
    InvestigationStateType,
    Partial<InvestigationStateType>,
    string
  >;
  for (const name of Object.keys(EVIDENCE_AGENTS)) {
    builder.addEdge(START, name);
    builder.addEdge(name, 'response-strategy');
  }
  builder.addEdge('response-strategy', END);
  return {
    compile: (checkpointer: BaseCheckpointSaver) => builder.compile({ checkpointer }),
  };
}
