import { describe, expect, it } from 'vitest';
import type { EvidenceBundle } from '../../domain/evidence.js';
import { recommendationDraftSchema } from '../../domain/finding.js';
import { groundFinding, groundingContext } from '../../trust/grounding.js';
import { evidenceIds, validateFinding } from '../evidence.js';
import { analyzeChanges } from './change-intelligence.js';
import {
  BILLING_COMMAND,
  besideChangeBundle,
  change,
  hostAgentBundle,
  measured,
  service,
  shopBundle,
  signal,
} from './fixtures.test-support.js';
import { analyzeHistory } from './historical-pattern.js';
import { analyzeKnowledge } from './knowledge-rag.js';
import { respond } from './response-strategy.js';
import { analyzeBlastRadius } from './risk-blast-radius.js';
import { analyzeSignals } from './signal-intelligence.js';

function investigate(bundle: EvidenceBundle) {
  return respond(bundle, {
    'signal-intelligence': analyzeSignals(bundle),
    'historical-pattern': analyzeHistory(bundle),
    'change-intelligence': analyzeChanges(bundle),
    'risk-blast-radius': analyzeBlastRadius(bundle),
    'knowledge-rag': analyzeKnowledge(bundle),
  });
}

const runbook = {
  chunkId: 'chk_db',
  documentId: 'doc_db',
  path: 'runbooks/db.md',
  title: 'DB down',
  kind: 'runbook' as const,
  heading: 'DB down > Mitigation',
  text: '1. Check connections\n2. Fail over to the replica',
  score: 5,
  services: ['db'],
  alerts: [],
};

describe('response-strategy', () => {
  it('agrees on the origin and the culprit change, and ranks rollback, runbook steps, escalation and communication', () => {
    const bundle = shopBundle({ knowledge: [runbook] });
    const finding = investigate(bundle);
    expect(finding.insufficientEvidence).toBe(false);
    expect(finding.data.probableRootCause).toMatchObject({ service: 'db', changeId: 'chg_db_deploy' });
    const recommendations = finding.data.recommendations;
    expect(recommendations.map((recommendation) => recommendation.kind)).toEqual([
      'rollback',
      'runbook_step',
      'runbook_step',
      'escalate',
      'communicate',
    ]);
    expect(recommendations[1]!.title).toBe('Check connections');
    const known = evidenceIds(bundle);
    for (const recommendation of recommendations) {
      expect(recommendationDraftSchema.safeParse(recommendation).success).toBe(true);
      for (const citation of recommendation.citations) expect(known.has(citation)).toBe(true);
    }
    expect(finding.data.recommendedSeverity).toBe('SEV1');
    expect(finding.summary).toMatch(
      /^SEV2 \(evidence says SEV1: raise it\) shop is failing: probable cause db \(chg_db_deploy\); also affected: api, web, mobile\. Next: Roll back db/,
    );
    expect(validateFinding(finding, bundle)).toEqual([]);
  });

  it('answers "insufficient evidence" and recommends investigating when nothing stands out', () => {
    // web and mobile fail at once and share no dependency: neither explains the other.
    const bundle = shopBundle({
      changes: [],
      signals: [signal('sig_web', 'web', 0), signal('sig_mobile', 'mobile', 0)],
      services: [service('web', [], { tier: 1 }), service('mobile', [], { tier: 1 })],
    });
    const finding = investigate(bundle);
    expect(finding.insufficientEvidence).toBe(true);
    expect(finding.data.probableRootCause).toBeNull();
    expect(finding.data.recommendations[0]!.kind).toBe('investigate_further');
    expect(finding.summary).toContain('cause not yet clear');
  });
});

describe('response-strategy on warnings', () => {
  it('treats warnings alone, with no change behind the candidate, as noise; a change or a louder alert is not', () => {
    const warnings = shopBundle().signals.map((item) => ({ ...item, severity: 'warning' as const }));
    expect(investigate(shopBundle({ changes: [], signals: warnings })).insufficientEvidence).toBe(true);
    const changed = investigate(shopBundle({ signals: warnings }));
    expect(changed.insufficientEvidence).toBe(false);
    expect(changed.data.probableRootCause).toMatchObject({ service: 'db', changeId: 'chg_db_deploy' });
    const louder = investigate(shopBundle({ changes: [] }));
    expect(louder.insufficientEvidence).toBe(false);
    expect(louder.data.probableRootCause).toMatchObject({ service: 'db' });
  });
});

describe('response-strategy with datapoints', () => {
  // web calls api and cache; both slow down at once.
  const bundleWith = (signals: ReturnType<typeof signal>[]) =>
    shopBundle({
      changes: [],
      services: [
        service('web', ['api', 'cache'], { tier: 1, customerFacing: true }),
        service('api', []),
        service('cache', []),
      ],
      neighbourhood: [
        { service: 'web', distance: 0, relation: 'affected' },
        { service: 'api', distance: 0, relation: 'affected' },
        { service: 'cache', distance: 0, relation: 'affected' },
      ],
      signals,
    });

  it('names the best traced anomaly even when a second one is nearly as likely, and says so', () => {
    const bundle = bundleWith([
      measured('sig_web', 'web', 12, 'critical'),
      measured('sig_api', 'api', 60),
      measured('sig_cache', 'cache', 40),
    ]);
    const finding = investigate(bundle);
    expect(finding.insufficientEvidence).toBe(false);
    expect(finding.data.probableRootCause).toMatchObject({ service: 'api' });
    // Ranked: the voted candidates, then the rest of the trace (the alerting service itself last).
    expect(finding.data.candidates.map((entry) => entry.service)).toEqual(['api', 'cache', 'web']);
    expect(finding.claims[0]!.text).toMatch(/^Probable root cause, low confidence: api .* from cache\.$/);
    expect(validateFinding(finding, bundle)).toEqual([]);
  });

  it('answers "insufficient evidence" when the alert\'s own datapoints contradict it', () => {
    const finding = investigate(
      bundleWith([measured('sig_web', 'web', 0.5, 'critical'), measured('sig_api', 'api', 60)]),
    );
    expect(finding.insufficientEvidence).toBe(true);
    expect(finding.data.probableRootCause).toBeNull();
  });
});

describe('response-strategy: the answer follows the evidence', () => {
  // The host-agent outage, with a decoy: a deploy on one of the crashing services, but the agent
  // explains all three.
  const agentBundle = (extra: Partial<EvidenceBundle> = {}) =>
    hostAgentBundle({
      changes: [
        ...hostAgentBundle().changes,
        { ...change('chg_billing', 'billing', -4), summary: 'Deploy billing v3.1.0: structured logging' },
      ],
      ...extra,
    });

  it('names an inferred origin, says why, and acts on its change first', () => {
    const bundle = agentBundle();
    const finding = investigate(bundle);
    expect(finding.insufficientEvidence).toBe(false);
    const cause = finding.data.probableRootCause;
    expect(cause).toMatchObject({ service: 'host-agent', changeId: 'chg_agent_cfg' });
    expect(cause?.inferred).toMatchObject({ dependents: ['checkout', 'orders', 'billing'] });
    expect(finding.claims[0]!.text).toMatch(
      /^Probable root cause: host-agent after change chg_agent_cfg \(confidence [\d.]+\)\. host-agent is the INFERRED origin: it has no firing alert of its own in this incident, but config chg_agent_cfg on it started 12 minutes before the first signal \(push agent config v42\), and every alerting service depends on it: checkout, orders, billing\.$/,
    );
    const recommendations = finding.data.recommendations;
    expect(recommendations[0]).toMatchObject({ kind: 'rollback', title: 'Roll back host-agent' });
    expect(finding.summary).toMatch(
      /probable cause host-agent \(inferred: no firing alert of its own in this incident\) \(chg_agent_cfg\)/,
    );
    expect(validateFinding(finding, bundle)).toEqual([]);
    expect(groundFinding(finding, groundingContext(bundle)).unsupported).toEqual([]);
  });

  it('acts first on the change beside an inferred origin, and says how it reaches the outage', () => {
    const bundle = besideChangeBundle([BILLING_COMMAND, change('chg_api', 'api', -40)]);
    const finding = investigate(bundle);
    expect(finding.data.probableRootCause).toMatchObject({ service: 'index', changeId: 'chg_billing_cap' });
    expect(finding.data.probableRootCause?.inferred).toMatchObject({ basis: 'neighbour-change' });
    const [first] = finding.data.recommendations;
    expect(first).toMatchObject({ kind: 'rollback', title: 'Revert the infrastructure change on billing' });
    expect(first!.rationale).toContain('billing calls index, the inferred origin');
    expect(validateFinding(finding, bundle)).toEqual([]);
    expect(groundFinding(finding, groundingContext(bundle)).unsupported).toEqual([]);
  });

  it('names what separate failures share when no change explains them, and says so', () => {
    const bundle = hostAgentBundle({ changes: [] });
    const finding = investigate(bundle);
    expect(finding.data.probableRootCause).toMatchObject({ service: 'host-agent', changeId: null });
    expect(finding.data.probableRootCause?.inferred).toMatchObject({ basis: 'shared' });
    expect(finding.data.recommendations[0]).toMatchObject({ kind: 'investigate_further' });
    expect(finding.data.recommendations[0]!.rationale).toContain('fail together with nothing of their own');
    expect(validateFinding(finding, bundle)).toEqual([]);
  });

  it('reverts an infrastructure change when it is the culprit', () => {
    const bundle = agentBundle({
      changes: [
        {
          ...change('chg_index_cap', 'host-agent', -8, 'infra'),
          summary: 'remove capacity from the index subsystem',
        },
      ],
    });
    const recommendations = investigate(bundle).data.recommendations;
    expect(recommendations[0]).toMatchObject({
      kind: 'rollback',
      title: 'Revert the infrastructure change on host-agent',
      risk: 'medium',
    });
  });

  it('does not infer an origin when an alerting dependency explains the callers', () => {
    // shopBundle: db alerts and api, web call it; a silent dependency of db with a change stays a suspect.
    const bundle = shopBundle({
      services: [
        service('web', ['api'], { tier: 1, customerFacing: true }),
        service('api', ['db'], { tier: 1 }),
        service('db', ['storage'], { tier: 1 }),
        service('storage', []),
      ],
      neighbourhood: [
        { service: 'api', distance: 0, relation: 'affected' },
        { service: 'db', distance: 0, relation: 'affected' },
        { service: 'web', distance: 0, relation: 'affected' },
        { service: 'storage', distance: 1, relation: 'dependency' },
      ],
      changes: [change('chg_db_deploy', 'db', -10), change('chg_storage', 'storage', -20, 'config')],
    });
    const finding = investigate(bundle);
    const cause = finding.data.probableRootCause;
    expect(cause).toMatchObject({ service: 'db', changeId: 'chg_db_deploy' });
    expect(cause?.inferred).toBeUndefined();
    expect(finding.claims[0]!.text).not.toContain('INFERRED');
  });

  it('names a load-raising change on a caller as the culprit, and a plain one not', () => {
    const retries = {
      ...change('chg_api_retries', 'api', -6, 'config'),
      summary: 'api: retry budget 10% → 50%',
    };
    const loaded = investigate(shopBundle({ changes: [retries] }));
    expect(loaded.data.probableRootCause).toMatchObject({ service: 'db', changeId: 'chg_api_retries' });
    const first = loaded.data.recommendations[0]!;
    expect(first).toMatchObject({ kind: 'rollback', title: 'Roll back api' });
    expect(first.rationale).toMatch(/api calls the probable origin db, and the change may raise load on it/);

    const plain = { ...retries, summary: 'api: new request validation' };
    const decoyed = investigate(shopBundle({ changes: [plain] }));
    expect(decoyed.data.probableRootCause).toMatchObject({ service: 'db', changeId: null });
  });

  it('gives no vote to a deploy on a service that shows nothing wrong', () => {
    // The gateway feels it first, api behind it is the traced origin, and search (which the gateway
    // also calls) deployed just before without a single alert of its own.
    const bundle = shopBundle({
      services: [
        service('web', ['gw'], { tier: 1, customerFacing: true }),
        service('gw', ['api', 'search'], { tier: 1 }),
        service('api', [], { tier: 1 }),
        service('search', [], { tier: 2 }),
      ],
      signals: [
        signal('sig_gw', 'gw', 0, { severity: 'critical' }),
        signal('sig_api', 'api', 0.5, { severity: 'critical' }),
        signal('sig_web', 'web', 2),
      ],
      changes: [change('chg_search', 'search', -4)],
      incident: { ...shopBundle().incident, services: ['api', 'gw', 'web'] },
      neighbourhood: [
        { service: 'api', distance: 0, relation: 'affected' },
        { service: 'gw', distance: 0, relation: 'affected' },
        { service: 'web', distance: 0, relation: 'affected' },
        { service: 'search', distance: 1, relation: 'dependency' },
      ],
    });
    // change-intelligence still ranks the deploy first: it is the only change, minutes before.
    expect(analyzeChanges(bundle).data.ranked[0]).toMatchObject({ changeId: 'chg_search' });
    const finding = investigate(bundle);
    expect(finding.insufficientEvidence).toBe(false);
    expect(finding.data.probableRootCause).toMatchObject({ service: 'api', changeId: null });
    expect(Object.keys(finding.data.probableRootCause!.votes)).not.toContain('search');
  });

  it('acts on the origin first when no change explains it: its own runbook, else a check of it', () => {
    const webRunbook = {
      ...runbook,
      chunkId: 'chk_web',
      documentId: 'doc_web',
      path: 'runbooks/web.md',
      services: ['web'],
      score: 9,
    };
    const dbRunbook = { ...runbook, score: 4 };
    const noChanges = { changes: [] };
    const ownRunbook = investigate(shopBundle({ ...noChanges, knowledge: [webRunbook, dbRunbook] }));
    const ownFirst = ownRunbook.data.recommendations[0]!;
    expect(ownFirst).toMatchObject({ kind: 'runbook_step', citations: ['chk_db'] });
    const other = investigate(shopBundle({ ...noChanges, knowledge: [webRunbook] }));
    const recommendations = other.data.recommendations;
    expect(recommendations[0]).toMatchObject({
      kind: 'investigate_further',
      title: 'Start at db, the probable origin: check its errors, saturation and dependencies',
    });
    expect(recommendations[1]).toMatchObject({ kind: 'runbook_step' });
    expect(other.summary).toMatch(/Next: Start at db, the probable origin/);
  });

  it('prints one severity: the recommended one, never below the recorded one', () => {
    const recorded = (severity: 'SEV1' | 'SEV4') =>
      shopBundle({
        services: [service('batch', [], { tier: 3 })],
        neighbourhood: [{ service: 'batch', distance: 0, relation: 'affected' }],
        signals: [signal('sig_batch', 'batch', 0, { severity: 'critical' })],
        changes: [],
        incident: { ...shopBundle().incident, severity, services: ['batch'], title: 'batch is failing' },
      });
    // Recorded SEV1, evidence SEV3: the recorded one wins, everywhere.
    const high = recorded('SEV1');
    const findings = {
      'signal-intelligence': analyzeSignals(high),
      'change-intelligence': analyzeChanges(high),
      'risk-blast-radius': analyzeBlastRadius(high),
    };
    const strategy = respond(high, findings);
    expect(strategy.data.recommendedSeverity).toBe('SEV1');
    expect(strategy.summary).toMatch(/^SEV1 batch is failing/);
    expect(findings['risk-blast-radius'].summary).toMatch(/recommended SEV1\.$/);
    const everything = JSON.stringify([
      strategy.summary,
      strategy.claims,
      strategy.data.recommendations,
      findings['risk-blast-radius'].summary,
      findings['risk-blast-radius'].claims,
    ]);
    expect(everything.match(/SEV\d/g)?.every((level) => level === 'SEV1')).toBe(true);
    // Recorded SEV4 with a critical alert: at least SEV3, and never "monitor".
    const low = investigate(recorded('SEV4'));
    expect(low.data.recommendedSeverity).toBe('SEV3');
    expect(low.summary).toMatch(
      /^SEV4 \(evidence says SEV3: raise it\) batch is failing: probable cause batch\. Next: Start at batch/,
    );
    expect(low.summary).not.toContain('monitor');
  });

  it('asks to raise the recorded severity when the evidence is worse, naming one level', () => {
    const bundle = shopBundle({ incident: { ...shopBundle().incident, severity: 'SEV4' } });
    const finding = investigate(bundle);
    expect(finding.data.recommendedSeverity).toBe('SEV1');
    const escalate = finding.data.recommendations.find((item) => item.kind === 'escalate')!;
    expect(escalate.rationale).toBe(
      'Recommended severity is SEV1, more severe than the incident records: raise it.',
    );
  });
});
