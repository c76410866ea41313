import { Annotation, type BaseCheckpointSaver, END, START, StateGraph } from '@langchain/langgraph';
import type { EvidenceBundle } from '../domain/evidence.js';
import type { AgentName, Finding } from '../domain/finding.js';
import { analyzeChanges } from './agents/change-intelligence.js';
import { analyzeHistory } from './agents/historical-pattern.js';
import { analyzeKnowledge } from './agents/knowledge-rag.js';
import { respond } from './agents/response-strategy.js';
import { analyzeBlastRadius } from './agents/risk-blast-radius.js';
import { analyzeSignals } from './agents/signal-intelligence.js';
import { validateFinding } from './evidence.js';

export const InvestigationState = Annotation.Root({
  incidentId: Annotation<string>,
  bundleId: Annotation<string>,
  findings: Annotation<Partial<Record<AgentName, Finding>>>({
    reducer: (left, right) => ({ ...left, ...right }),
    default: () => ({}),
  }),
});
export type InvestigationStateType = typeof InvestigationState.State;

export const EVIDENCE_AGENTS = {
  'signal-intelligence': analyzeSignals,
  'historical-pattern': analyzeHistory,
  'change-intelligence': analyzeChanges,
  'risk-blast-radius': analyzeBlastRadius,
  'knowledge-rag': analyzeKnowledge,
} as const;

/**
 * The five evidence agents run in parallel from START; response-strategy joins them once all have
 * written their findings. Each node reads the frozen bundle by id, so a checkpoint holds ids and
 * findings, not the evidence. A finding that fails validation fails its node (and the investigation).
 */
export function investigationGraph(loadBundle: (bundleId: string) => Promise<EvidenceBundle>) {
  const checked = (finding: Finding, bundle: EvidenceBundle): Finding => {
    const problems = validateFinding(finding, bundle);
    if (problems.length > 0)
      throw new Error(`${finding.agent} produced an invalid finding: ${problems.join('; ')}`);
    return finding;
  };
  const graph = new StateGraph(InvestigationState);
  for (const [name, analyze] of Object.entries(EVIDENCE_AGENTS)) {
    graph.addNode(name, async (state: InvestigationStateType) => {
      const bundle = await loadBundle(state.bundleId);
      return { findings: { [name]: checked(analyze(bundle), bundle) } };
    });
  }
  graph.addNode('response-strategy', async (state: InvestigationStateType) => {
    const bundle = await loadBundle(state.bundleId);
    return { findings: { 'response-strategy': checked(respond(bundle, state.findings), bundle) } };
  });
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
