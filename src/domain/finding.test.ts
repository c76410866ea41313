import { MemorySaver } from '@langchain/langgraph';
import { describe, expect, it } from 'vitest';
import { hostAgentBundle, shopBundle, T0 } from '../investigate/agents/fixtures.test-support.js';
import { validateFinding } from '../investigate/evidence.js';
import { investigationGraph } from '../investigate/graph.js';
import type { EvidenceBundle } from './evidence.js';
import { AGENTS, type Finding, type FindingOf, findingSchema } from './finding.js';

const MINUTE = 60_000;

/** Every branch worth a shape: runbook and postmortem, similar past incidents, an inferred origin, nothing. */
const BUNDLES: Record<string, EvidenceBundle> = {
  shop: shopBundle({
    knowledge: [
      {
        chunkId: 'chk_db',
        documentId: 'doc_db',
        path: 'runbooks/db.md',
        title: 'DB down',
        kind: 'runbook',
        heading: 'DB down > Mitigation',
        text: '1. Check connections\n2. Fail over to the replica',
        score: 5,
        services: ['db'],
        alerts: [],
      },
      {
        chunkId: 'chk_pm',
        documentId: 'doc_pm',
        path: 'postmortems/db.md',
        title: 'DB outage',
        kind: 'postmortem',
        heading: 'What happened',
        text: 'The pool ran out.',
        score: 3,
        services: ['db'],
        alerts: [],
      },
    ],
    history: [
      {
        id: 'inc_past',
        title: 'shop is failing: db alert',
        severity: 'SEV2',
        services: ['db', 'api'],
        detectedAt: T0 - 3 * 86_400_000,
        resolvedAt: T0 - 3 * 86_400_000 + 35 * MINUTE,
        rootCause: 'db connection pool exhausted',
        resolution: 'rolled back db',
        alerts: ['db alert'],
      },
    ],
  }),
  hostAgent: hostAgentBundle(),
  empty: shopBundle({ signals: [], changes: [] }),
};

/** The six findings of one graph run: grounded, and the strategy's with its trust. */
async function investigate(bundle: EvidenceBundle): Promise<Finding[]> {
  const graph = investigationGraph({ toolTimeoutMs: 5_000, loadBundle: async () => bundle }).compile(
    new MemorySaver(),
  );
  const state = await graph.invoke(
    { incidentId: bundle.incidentId, investigationId: 'inv_test', bundleId: bundle.id, findings: {} },
    { configurable: { thread_id: bundle.id } },
  );
  return AGENTS.map((agent) => state.findings[agent]!);
}

const all = async () => (await Promise.all(Object.values(BUNDLES).map(investigate))).flat();

function findingOf<A extends Finding['agent']>(findings: Finding[], agent: A): FindingOf<A> {
  const found = findings.find((finding): finding is FindingOf<A> => finding.agent === agent);
  if (!found) throw new Error(`no ${agent} finding`);
  return found;
}

/** A deep copy without the fields at these paths (`a.b[].c`: every element of `b`). */
function without(value: unknown, ...paths: string[]): unknown {
  const copy = structuredClone(value);
  const drop = (target: unknown, steps: string[]): void => {
    if (target === null || typeof target !== 'object') return;
    const [step, ...rest] = steps;
    if (step === undefined) return;
    const each = step.endsWith('[]');
    const key = each ? step.slice(0, -2) : step;
    if (rest.length === 0 && !each) {
      Reflect.deleteProperty(target, key);
      return;
    }
    const next: unknown = Reflect.get(target, key);
    if (each && Array.isArray(next)) for (const item of next) drop(item, rest);
    else drop(next, rest);
  };
  for (const path of paths) drop(copy, path.split('.'));
  return copy;
}

describe('finding schema', () => {
  it("parses every agent's finding as the investigation wrote it, and describes all of it", async () => {
    const findings = await all();
    for (const agent of AGENTS) {
      const mine = findings.filter((finding) => finding.agent === agent);
      // Each agent both with something to say and with too little evidence.
      expect(new Set(mine.map((finding) => finding.insufficientEvidence)), agent).toEqual(
        new Set([true, false]),
      );
    }
    for (const finding of findings) {
      const parsed = findingSchema.safeParse(finding);
      expect(parsed.error, finding.agent).toBeUndefined();
      // Object schemas drop what they do not describe: equal means every field is described.
      expect(parsed.data, finding.agent).toStrictEqual(finding);
    }
    expect(findingOf(findings, 'response-strategy').data.trust).toMatchObject({ abstain: false });
  });

  it('parses findings written before change direction, inferred origins and datapoint traces', async () => {
    const findings = await all();
    const older = findings.map((finding) => {
      switch (finding.agent) {
        case 'change-intelligence':
          return without(
            finding,
            'data.ranked[].relation',
            'data.ranked[].raisesLoad',
            'data.ranked[].target',
            'data.ranked[].oldOnOrigin',
          );
        case 'risk-blast-radius':
          return without(finding, 'data.inferredOrigin', 'data.severity', 'data.outside', 'data.candidates');
        case 'signal-intelligence':
          return without(finding, 'data.onsets[].strength');
        case 'response-strategy':
          return without(
            finding,
            'data.trust',
            'data.recommendations[].trust',
            'data.probableRootCause.inferred',
          );
        default:
          return finding;
      }
    });
    for (const finding of older) expect(findingSchema.safeParse(finding).error).toBeUndefined();
    const radius = findingOf(findings, 'risk-blast-radius');
    const uninferred = without(radius, 'data.candidates[].inferred');
    expect(findingSchema.safeParse(uninferred).error).toBeUndefined();
  });

  it("rejects a finding that carries another agent's data", async () => {
    const findings = await investigate(BUNDLES.shop!);
    const signals = findingOf(findings, 'signal-intelligence');
    const changes = findingOf(findings, 'change-intelligence');
    const swapped = { ...signals, data: changes.data };
    const parsed = findingSchema.safeParse(swapped);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.path.join('.'))).toEqual(
      expect.arrayContaining(['data.clusters', 'data.onsets', 'data.anomalies', 'data.patterns']),
    );
    // The check every reasoner's output goes through says so, naming the field.
    expect(validateFinding(swapped, BUNDLES.shop!)).toContain(
      'data.clusters: Invalid input: expected array, received undefined',
    );
    // The same data under its own agent is fine.
    expect(findingSchema.safeParse({ ...changes, data: changes.data }).success).toBe(true);
  });

  it('rejects data of the right agent with a field of the wrong type, and an unknown agent', async () => {
    const findings = await investigate(BUNDLES.shop!);
    const changes = findingOf(findings, 'change-intelligence');
    const wrong = JSON.parse(JSON.stringify(changes));
    wrong.data.ranked[0].score = 'high';
    expect(findingSchema.safeParse(wrong).error?.issues.map((issue) => issue.path.join('.'))).toEqual([
      'data.ranked.0.score',
    ]);
    const strategy = findingOf(findings, 'response-strategy');
    const noSeverity = without(strategy, 'data.recommendedSeverity');
    expect(findingSchema.safeParse(noSeverity).success).toBe(false);
    expect(findingSchema.safeParse({ ...changes, agent: 'root-cause-oracle' }).success).toBe(false);
  });
});
