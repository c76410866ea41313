import { describe, expect, it } from 'vitest';
import { validateFinding } from '../evidence.js';
import { analyzeChanges, MIN_SUSPICION, rankChanges } from './change-intelligence.js';
import { change, shopBundle } from './fixtures.test-support.js';

describe('change-intelligence', () => {
  it('ranks the recent deploy on the service that fired first above a later config change and a rollback after onset', () => {
    const ranked = rankChanges(shopBundle());
    expect(ranked.map((suspect) => suspect.changeId)).toEqual([
      'chg_db_deploy',
      'chg_web_config',
      'chg_api_rollback',
    ]);
    expect(ranked[0]).toMatchObject({
      minutesBeforeOnset: 10,
      components: { topology: 1, kind: 1, lead: 1.5 },
    });
    expect(ranked[2]!.components.time).toBe(0.05);
  });

  it('decays suspicion with time before onset and with distance in the topology', () => {
    const recent = rankChanges(shopBundle({ changes: [change('chg_a', 'mobile', -10)] }))[0]!;
    const old = rankChanges(shopBundle({ changes: [change('chg_b', 'mobile', -180)] }))[0]!;
    expect(old.score).toBeLessThan(recent.score);
    const onAffected = rankChanges(shopBundle({ changes: [change('chg_c', 'api', -10)] }))[0]!;
    expect(recent.score).toBeLessThan(onAffected.score);
  });

  it('names the culprit with claims that cite evidence in the bundle', () => {
    const bundle = shopBundle();
    const finding = analyzeChanges(bundle);
    expect(finding.insufficientEvidence).toBe(false);
    expect(finding.claims[0]!.evidenceIds).toEqual(['chg_db_deploy', 'sig_db', 'service:db']);
    expect(finding.confidence).toBeGreaterThan(0.3);
    expect(validateFinding(finding, bundle)).toEqual([]);
  });

  it('says there is not enough evidence rather than naming a weak suspect', () => {
    expect(analyzeChanges(shopBundle({ changes: [] }))).toMatchObject({
      insufficientEvidence: true,
      claims: [],
      confidence: 0,
    });
    const weak = analyzeChanges(shopBundle({ changes: [change('chg_old', 'mobile', -300, 'infra')] }));
    expect(weak.insufficientEvidence).toBe(true);
    expect((weak.data.ranked as { score: number }[])[0]!.score).toBeLessThan(MIN_SUSPICION);
  });
});
