import { describe, expect, it } from 'vitest';
import { validateFinding } from '../evidence.js';
import { NORMAL, series, shopBundle, signal } from './fixtures.test-support.js';
import { analyzeBlastRadius, blastRadius, traceOrigins } from './risk-blast-radius.js';

describe('risk-blast-radius', () => {
  it('finds the most-downstream unhealthy service as the origin and its quiet callers as impacted', () => {
    expect(blastRadius(shopBundle())).toEqual({
      unhealthy: ['db', 'api', 'web'],
      origins: ['db'],
      impacted: ['mobile'],
      customerFacing: ['mobile', 'web'],
      highestTier: 1,
      recommendedSeverity: 'SEV1',
    });
  });

  it('recommends a lower severity without a critical signal on a customer-facing path', () => {
    const bundle = shopBundle({ signals: [signal('sig_api', 'api', 0)] });
    expect(blastRadius(bundle)).toMatchObject({ origins: ['api'], recommendedSeverity: 'SEV2' });
  });

  it('reports several origins when the topology cannot separate them', () => {
    const bundle = shopBundle({ signals: [signal('sig_db', 'db', 0), signal('sig_mobile', 'mobile', 1)] });
    const radius = blastRadius(bundle);
    expect(radius.origins).toEqual(['db']);
    const separate = shopBundle({
      signals: [signal('sig_web', 'web', 0), signal('sig_mobile', 'mobile', 1)],
    });
    expect(blastRadius(separate).origins).toEqual(['web', 'mobile']);
    expect(analyzeBlastRadius(separate).confidence).toBeLessThan(analyzeBlastRadius(bundle).confidence);
  });

  it('cites only evidence in the bundle, and abstains when nothing fires', () => {
    const bundle = shopBundle();
    expect(validateFinding(analyzeBlastRadius(bundle), bundle)).toEqual([]);
    const quiet = shopBundle({ signals: [signal('sig_old', 'db', 0, { status: 'resolved' })] });
    expect(analyzeBlastRadius(quiet)).toMatchObject({ insufficientEvidence: true, claims: [] });
  });

  it('validateFinding rejects a claim that cites evidence not in the bundle', () => {
    const bundle = shopBundle();
    const finding = analyzeBlastRadius(bundle);
    finding.claims[0]!.evidenceIds.push('chg_invented');
    expect(validateFinding(finding, bundle)).toEqual([
      'claims[0].evidenceIds: chg_invented is not in the evidence bundle',
    ]);
  });
});

describe('risk-blast-radius with datapoints', () => {
  const spread = 1.4826; // NORMAL: median 100, MAD 1
  const measured = (id: string, service: string, z: number, severity: 'critical' | 'info' = 'info') =>
    signal(id, service, 0, {
      severity,
      metric: { name: 'latency', datapoints: series(NORMAL, [100, 100, 100 + z * spread, 100, 100]) },
    });

  it('traces from the alert down to the deepest strong anomaly; a weaker one below does not take over', () => {
    const bundle = shopBundle({
      signals: [
        measured('sig_web', 'web', 12, 'critical'),
        measured('sig_api', 'api', 40),
        measured('sig_db', 'db', 4),
        measured('sig_mobile', 'mobile', 20),
      ],
    });
    const traced = traceOrigins(bundle);
    expect(traced.map((entry) => [entry.service, entry.origin])).toEqual([
      ['api', true],
      ['db', true],
      ['web', false],
    ]);
    // api explains its two unhealthy callers (web, the alert, and mobile, an anomaly off the walk).
    expect(traced[0]).toMatchObject({ trace: 1, explains: 2, strength: 1 });
    expect(traced[1]).toMatchObject({ trace: 0.4, explains: 1 });
    // mobile is anomalous but no alert reaches it: not part of the incident's trace.
    expect(traced.some((entry) => entry.service === 'mobile')).toBe(false);
    const finding = analyzeBlastRadius(bundle);
    expect(finding.data.origins).toEqual(['api', 'db']);
    expect(finding.claims[0]!.text).toMatch(/^api is the deepest strong anomaly traced from the alerts/);
    expect(validateFinding(finding, bundle)).toEqual([]);
  });

  it('ignores observations within normal range and traces nothing when the alert is contradicted', () => {
    const quiet = shopBundle({
      signals: [measured('sig_web', 'web', 12, 'critical'), measured('sig_api', 'api', 1)],
    });
    expect(traceOrigins(quiet).map((entry) => entry.service)).toEqual(['web']);
    const contradicted = shopBundle({
      signals: [measured('sig_web', 'web', 0.5, 'critical'), measured('sig_api', 'api', 40)],
    });
    expect(analyzeBlastRadius(contradicted)).toMatchObject({ insufficientEvidence: true, claims: [] });
  });
});
