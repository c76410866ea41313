import { describe, expect, it } from 'vitest';
import type { EvidenceBundle } from '../../domain/evidence.js';
import { recommendationDraftSchema } from '../../domain/finding.js';
import { evidenceIds, validateFinding } from '../evidence.js';
import { analyzeChanges } from './change-intelligence.js';
import { NORMAL, series, service, shopBundle, signal } from './fixtures.test-support.js';
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
    const recommendations = finding.data.recommendations as {
      kind: string;
      title: string;
      citations: string[];
    }[];
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
      /^SEV1 shop is failing: probable cause db \(chg_db_deploy\); also affected: api, web, mobile\. Next: Roll back db/,
    );
    expect(validateFinding(finding, bundle)).toEqual([]);
  });

  it('answers "insufficient evidence" and recommends investigating when nothing stands out', () => {
    const bundle = shopBundle({
      changes: [],
      signals: [signal('sig_web', 'web', 0), signal('sig_mobile', 'mobile', 0)],
    });
    const finding = investigate(bundle);
    expect(finding.insufficientEvidence).toBe(true);
    expect(finding.data.probableRootCause).toBeNull();
    expect((finding.data.recommendations as { kind: string }[])[0]!.kind).toBe('investigate_further');
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
  const spread = 1.4826; // NORMAL: median 100, MAD 1
  const measured = (id: string, name: string, z: number, severity: 'critical' | 'info' = 'info') =>
    signal(id, name, 0, {
      severity,
      metric: { name: 'latency', datapoints: series(NORMAL, [100, 100, 100 + z * spread, 100, 100]) },
    });
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
    expect((finding.data.candidates as { service: string }[]).map((entry) => entry.service)).toEqual([
      'api',
      'cache',
      'web',
    ]);
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
