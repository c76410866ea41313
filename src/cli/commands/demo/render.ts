/**
 * What the demo prints: progress per stage, then the summary, as JSON (`--json`) or as text.
 */
import path from 'node:path';
import type { KnowledgeHitView, RecommendationView, TraceView } from '../../../api/schemas.js';
import { AGENTS, type Finding } from '../../../domain/finding.js';
import { clipText, printFields, printTable, shortTime } from '../../output.js';
import { printTrust } from '../investigate.js';
import type { readOutcome } from './send.js';

/** Runs one numbered stage of the demo and reports it. */
export type Stage = <T>(label: string, work: () => Promise<T>) => Promise<T>;

/** Progress on stderr when --json owns stdout. */
export function stageReporter(total: number, quiet: boolean): Stage {
  let index = 0;
  return async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    index += 1;
    const started = performance.now();
    const out = quiet ? process.stderr : process.stdout;
    out.write(`[${index}/${total}] ${label}… `);
    const result = await work();
    out.write(`done (${Math.round(performance.now() - started)} ms)\n`);
    return result;
  };
}

interface UsageTotals {
  calls: number;
  inputTokens: number | null;
  cacheReadTokens: number | null;
  outputTokens: number | null;
  costUsd: number | null;
}

/** A sum where one unknown part makes the whole unknown. */
function addKnown(total: number | null, part: number | null): number | null {
  return total === null || part === null ? null : total + part;
}

function totals(traces: readonly TraceView[]): UsageTotals {
  // Cache counts a provider does not report count as none; input, output and cost stay unknown.
  return traces.reduce<UsageTotals>(
    (sum, trace) => ({
      calls: sum.calls + 1,
      inputTokens: addKnown(sum.inputTokens, trace.inputTokens),
      cacheReadTokens: addKnown(sum.cacheReadTokens, trace.cacheReadTokens ?? 0),
      outputTokens: addKnown(sum.outputTokens, trace.outputTokens),
      costUsd: addKnown(sum.costUsd, trace.costUsd),
    }),
    { calls: 0, inputTokens: 0, cacheReadTokens: 0, outputTokens: 0, costUsd: 0 },
  );
}

/** The investigation's model calls, per agent and in total; blocked calls (attempt 0) cost nothing. */
function modelUsage(traces: readonly TraceView[]) {
  const calls = traces.filter((trace) => trace.attempt > 0);
  const order = (agent: string) => (AGENTS as readonly string[]).indexOf(agent);
  const names = [...new Set(calls.map((trace) => trace.agent ?? '?'))].sort((a, b) => order(a) - order(b));
  const agents = names.map((agent) => {
    const own = calls.filter((trace) => (trace.agent ?? '?') === agent);
    const last = own[own.length - 1]!;
    return {
      agent,
      model: `${last.provider}/${last.model}`,
      outcome: last.status === 'ok' ? (own.length > 1 ? `ok after ${own.length} tries` : 'ok') : last.status,
      ...totals(own),
    };
  });
  return { ...totals(calls), agents };
}

const tokens = (count: number | null) => (count === null ? '?' : count.toLocaleString('en-US'));
const dollars = (usd: number | null) => (usd === null ? '?' : `$${usd.toFixed(6)}`);

export interface DemoRun {
  incidentId: string;
  investigation: {
    investigationId: string;
    findings: Finding[];
    recommendations: RecommendationView[];
    checkpoints: number;
  };
  replay: { identical: boolean; replayHash: string; differences: unknown[] };
  outcome: Awaited<ReturnType<typeof readOutcome>>;
  target: string;
  dataDir: string;
  token: string;
}

/** The summary `--json` prints, and the text summary is drawn from. */
export function demoResult(run: DemoRun) {
  const { incidentId, investigation, replay, outcome, dataDir, token } = run;
  const { evidence, detail, events, chain, traces } = outcome;
  const knowledge: KnowledgeHitView[] = outcome.knowledge.items;
  const llm = modelUsage(traces);
  const dataFlag = `--data-dir ${path.relative(process.cwd(), dataDir) || dataDir}`;
  const inspect = [
    `npx opx ${dataFlag} incidents list`,
    `npx opx ${dataFlag} incidents show ${incidentId}`,
    `npx opx ${dataFlag} incidents events ${incidentId}`,
    `npx opx ${dataFlag} incidents verify ${incidentId}`,
    `npx opx ${dataFlag} investigate show ${incidentId} --checkpoints`,
    `npx opx ${dataFlag} replay ${incidentId}`,
    `npx opx ${dataFlag} jobs list`,
    `npx opx ${dataFlag} approve ${investigation.recommendations[0]?.id ?? '<recommendation>'} --reason "matches the deploy"`,
    `npx opx ${dataFlag} rules list`,
    `npx opx ${dataFlag} services list`,
    `npx opx ${dataFlag} changes list`,
    `npx opx ${dataFlag} kb search --service ${run.target} --alert HighErrorRate 5xx`,
    `sqlite3 ${path.join(dataDir, 'opx.db')} 'select id, source, severity, status, service, title from signals'`,
  ];
  // The same store served on the default port: the console shows this incident with the demo's token.
  const consoleView = {
    command: `npx opx ${dataFlag} serve`,
    url: `http://127.0.0.1:8080/incidents/${incidentId}`,
    token,
  };
  const strategy = investigation.findings.find((finding) => finding.agent === 'response-strategy')!;
  const graph = evidence.graph!;
  return {
    incidentId,
    investigationId: investigation.investigationId,
    findings: investigation.findings,
    recommendations: investigation.recommendations,
    probableRootCause: strategy.data.probableRootCause ?? null,
    trust: strategy.data.trust ?? null,
    channelSummary: strategy.data.channelSummary,
    checkpoints: investigation.checkpoints,
    replay: { identical: replay.identical, outputHash: replay.replayHash },
    llm,
    incident: detail.incident,
    signals: detail.signals,
    events: events.items,
    chain,
    console: consoleView,
    knowledge,
    evidence: {
      bundleId: evidence.bundle.id,
      hash: evidence.bundle.hash,
      signals: evidence.bundle.signals.length,
      changes: evidence.bundle.changes,
      neighbourhood: evidence.bundle.neighbourhood,
      pastIncidents: evidence.bundle.history.length,
      knowledgeSections: evidence.bundle.knowledge.length,
      graph: { nodes: graph.nodes.length, edges: graph.edges.length },
    },
    dataDir,
    inspect,
  };
}

/** The text summary, section by section. */
export function printDemo(run: DemoRun, result: ReturnType<typeof demoResult>): void {
  const { incidentId, investigation, replay, outcome, token } = run;
  const { evidence, detail, events, chain } = outcome;
  const { llm, inspect, console: consoleView } = result;
  const incident = detail.incident;
  process.stdout.write('\n== Incident ==\n');
  printFields([
    ['id', incident.id],
    ['title', incident.title],
    ['severity', incident.severity],
    ['status', incident.status],
    ['origin', String(incident.rootService ?? '')],
    ['services', incident.services.join(', ')],
    ['started', incident.startedAt],
    ['detected', incident.detectedAt],
  ]);
  process.stdout.write('\n== Signals ==\n');
  printTable(
    ['source', 'severity', 'status', 'service', 'title'],
    detail.signals.map((signal) => [
      signal.source,
      signal.severity,
      signal.status,
      signal.service,
      clipText(signal.title, 60),
    ]),
  );
  process.stdout.write('\n== Timeline (hash-chained) ==\n');
  printTable(
    ['#', 'at', 'event', 'by'],
    events.items.map((event) => [event.seq, shortTime(Date.parse(event.at)), event.type, event.principal]),
  );
  process.stdout.write(
    `chain: ${chain.valid ? `intact, ${chain.events} events verified` : `BROKEN ${JSON.stringify(chain.brokenAt)}`}\n`,
  );
  const models = [
    ...new Set(
      investigation.findings
        .filter((finding) => finding.engine.provider !== 'deterministic')
        .map((finding) => `${finding.engine.provider}/${finding.engine.model}`),
    ),
  ];
  process.stdout.write(
    `\n== Investigation (${models.length > 0 ? `language model ${models.join(', ')}, behind the guardrails` : 'deterministic engine'}) ==\n`,
  );
  for (const finding of investigation.findings) {
    const by = finding.engine.provider === 'deterministic' ? '' : ` · ${finding.engine.model}`;
    process.stdout.write(
      `[${finding.agent}${by}${finding.degraded ? ' · degraded to the engine' : ''}] ${finding.insufficientEvidence ? '(insufficient evidence) ' : ''}${finding.summary}\n`,
    );
    const claim = finding.claims[0];
    if (claim)
      process.stdout.write(
        `    ${clipText(claim.text, 160)}  [${claim.evidenceIds.slice(0, 3).join(', ')}]\n`,
      );
  }
  if (llm.calls > 0) {
    process.stdout.write('\n== Language model calls (prompts redacted; opx traces list) ==\n');
    printTable(
      ['agent', 'model', 'calls', 'input', 'cached', 'output', 'cost (USD)', 'outcome'],
      [
        ...llm.agents.map((agent) => [
          agent.agent,
          agent.model,
          agent.calls,
          tokens(agent.inputTokens),
          tokens(agent.cacheReadTokens),
          tokens(agent.outputTokens),
          dollars(agent.costUsd),
          agent.outcome,
        ]),
        [
          'total',
          '',
          llm.calls,
          tokens(llm.inputTokens),
          tokens(llm.cacheReadTokens),
          tokens(llm.outputTokens),
          dollars(llm.costUsd),
          '',
        ],
      ],
    );
    if (llm.costUsd === null)
      process.stdout.write(
        'cost unknown: no price for this model (add one with OPX_LLM_PRICES) or the provider sent no token counts\n',
      );
  }
  const strategy = investigation.findings.find((finding) => finding.agent === 'response-strategy')!;
  process.stdout.write('\n== Trust (how far to rely on this; docs/trust.md) ==\n');
  printTrust(strategy.data.trust);
  const ungrounded = investigation.findings.flatMap((finding) => finding.grounding?.unsupported ?? []);
  process.stdout.write(
    ungrounded.length === 0
      ? 'every statement of every finding matches the evidence it cites\n'
      : `${ungrounded.length} statements not supported by their evidence (marked UNSUPPORTED in \`opx investigate show\`)\n`,
  );
  process.stdout.write('\n== Recommendations (approve or reject; nothing is executed) ==\n');
  printTable(
    ['#', 'id', 'kind', 'risk', 'conf', 'trust', 'recommendation'],
    investigation.recommendations.map((item) => [
      item.rank,
      item.id,
      item.kind,
      item.risk,
      item.confidence.toFixed(2),
      item.trust === null ? '–' : item.trust.toFixed(2),
      clipText(item.title, 60),
    ]),
  );
  process.stdout.write(
    `${investigation.checkpoints} LangGraph checkpoints on thread ${incidentId}; ` +
      `replay on the frozen bundle: ${replay.identical ? 'identical' : `DIFFERENT (${replay.differences.length} differences)`}\n`,
  );
  process.stdout.write(`\nFor the incident channel: ${strategy.data.channelSummary}\n`);
  process.stdout.write('\n== Evidence bundle ==\n');
  const graph = evidence.graph!;
  printFields([
    ['bundle', evidence.bundle.id],
    ['content hash', evidence.bundle.hash],
    ['signals', evidence.bundle.signals.length],
    [
      'changes in look-back',
      evidence.bundle.changes
        .map((change) => `${change.kind} ${change.service}: ${change.summary}`)
        .join('; ') || 'none',
    ],
    [
      'neighbourhood',
      evidence.bundle.neighbourhood.map((entry) => `${entry.service} (${entry.relation})`).join(', '),
    ],
    ['past incidents nearby', evidence.bundle.history.length],
    ['runbook sections', evidence.bundle.knowledge.length],
    ['graph', `${graph.nodes.length} nodes, ${graph.edges.length} edges`],
  ]);
  process.stdout.write('\n== Runbooks and postmortems that match (BM25) ==\n');
  printTable(
    ['score', 'kind', 'document', 'best section'],
    result.knowledge.map((hit) => [hit.score.toFixed(1), hit.kind, hit.path, clipText(hit.heading, 60)]),
  );
  process.stdout.write('\n== Look around ==\n');
  for (const line of inspect) process.stdout.write(`  ${line}\n`);
  process.stdout.write('\n== Open the web console ==\n');
  process.stdout.write(`  ${consoleView.command}\n`);
  process.stdout.write(`  then open ${consoleView.url} and paste the demo token ${token}\n`);
  process.stdout.write('  (scopes ingest, read, respond; docs/console.md shows each page)\n\n');
}
