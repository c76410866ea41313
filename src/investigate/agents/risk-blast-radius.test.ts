import { describe, expect, it } from 'vitest';
import { validateFinding } from '../evidence.js';
import { shopBundle, signal } from './fixtures.test-support.js';
import { analyzeBlastRadius, blastRadius } from './risk-blast-radius.js';

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
