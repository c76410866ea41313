import { describe, expect, it } from 'vitest';
import type { Change } from '../../domain/change.js';
import { validateFinding } from '../evidence.js';
import {
  analyzeChanges,
  MIN_SUSPICION,
  ORIGIN_TIME_FLOOR,
  raisesLoad,
  rankChanges,
} from './change-intelligence.js';
import {
  BILLING_COMMAND,
  besideChangeBundle,
  change,
  service,
  shopBundle,
  signal,
} from './fixtures.test-support.js';

describe('change-intelligence', () => {
  it('ranks first the change an origin was inferred from beside it, as explaining that origin', () => {
    const bundle = besideChangeBundle([BILLING_COMMAND, change('chg_api', 'api', -40)]);
    const [top] = rankChanges(bundle);
    expect(top).toMatchObject({
      changeId: 'chg_billing_cap',
      relation: 'inferred-from',
      target: 'index',
      components: { topology: 1 },
    });
    const finding = analyzeChanges(bundle);
    expect(finding.claims[0]!.text).toContain(
      'billing calls the inferred origin index and nothing alerting depends on it',
    );
    expect(validateFinding(finding, bundle)).toEqual([]);
  });

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
    expect(weak.data.ranked[0]!.score).toBeLessThan(MIN_SUSPICION);
  });
});

describe('change-intelligence: direction from the origin', () => {
  // shopBundle: db (the origin, critical) ← api ← web; mobile ← api stays quiet.
  const withChanges = (changes: Change[]) => shopBundle({ changes });
  const summarized = (item: Change, summary: string): Change => ({ ...item, summary });

  it('does not take a decoy deploy on a caller of the origin for the culprit, however recent', () => {
    const decoy = summarized(change('chg_web_deploy', 'web', -2), 'Deploy web v2.4.0: new checkout page');
    const cause = change('chg_db_deploy', 'db', -40);
    const ranked = rankChanges(withChanges([decoy, cause]));
    expect(ranked.map((suspect) => suspect.changeId)).toEqual(['chg_db_deploy', 'chg_web_deploy']);
    expect(ranked[0]).toMatchObject({ relation: 'origin', target: 'db', components: { topology: 1 } });
    expect(ranked[1]).toMatchObject({ relation: 'caller', raisesLoad: false, target: 'web' });
    expect(ranked[1]!.components.topology).toBe(0.05);
    // Alone, the decoy is too weak to name.
    expect(analyzeChanges(withChanges([decoy])).insufficientEvidence).toBe(true);
  });

  it('still allows a load-raising change on a caller, and points it at the origin it loads', () => {
    const retries = summarized(change('chg_api_retries', 'api', -6, 'config'), 'api: retry budget 10% → 50%');
    const bundle = withChanges([retries]);
    const [top] = rankChanges(bundle);
    expect(top).toMatchObject({
      relation: 'caller',
      raisesLoad: true,
      target: 'db',
      components: { topology: 0.6 },
    });
    const finding = analyzeChanges(bundle);
    expect(finding.insufficientEvidence).toBe(false);
    expect(finding.claims[0]!.text).toMatch(
      /api calls the probable origin db, and the change may raise load on it/,
    );
    expect(finding.claims[0]!.evidenceIds).toEqual([
      'chg_api_retries',
      'sig_db',
      'service:api',
      'service:db',
    ]);
    expect(validateFinding(finding, bundle)).toEqual([]);
  });

  it('recognises load-raising wording as a heuristic', () => {
    for (const summary of [
      'batch size 500 → 5000',
      'retry policy for upstream calls',
      'raise concurrency to 64',
      'shift 50% of traffic to eu-west',
      'rate limit 800/s → 5000/s',
      'request timeout 2s → 30s',
      'connection pool size 20 → 200',
      'roll out the new payments client',
      'client v2 rollout to all regions',
    ])
      expect(raisesLoad({ kind: 'config', summary }), summary).toBe(true);
    for (const summary of [
      'new serializer',
      'structured logging',
      'node pool upgrade to a new instance class',
      'HTTP client upgrade',
    ])
      expect(raisesLoad({ kind: 'deploy', summary }), summary).toBe(false);
  });

  it('counts a change on the origin up to a day old when nothing closer explains the fault', () => {
    const old = change('chg_db_old', 'db', -20 * 60);
    const decoy = change('chg_web_deploy', 'web', -2);
    const ranked = rankChanges(withChanges([old, decoy]));
    expect(ranked[0]).toMatchObject({ changeId: 'chg_db_old', oldOnOrigin: true });
    expect(ranked[0]!.components.time).toBe(ORIGIN_TIME_FLOOR);
    expect(ranked[0]!.score).toBeGreaterThanOrEqual(MIN_SUSPICION);
    const finding = analyzeChanges(withChanges([old, decoy]));
    expect(finding.claims[0]!.text).toMatch(/on the probable origin, and although old, no closer change/);
    // A closer change that explains it wins, and the old one keeps its decayed score.
    const closer = rankChanges(withChanges([old, change('chg_db_config', 'db', -30, 'config')]));
    expect(closer[0]!.changeId).toBe('chg_db_config');
    expect(closer[1]).toMatchObject({ changeId: 'chg_db_old', oldOnOrigin: false });
    expect(closer[1]!.score).toBeLessThan(MIN_SUSPICION);
    // More than a day: not counted.
    expect(analyzeChanges(withChanges([change('chg_db_older', 'db', -25 * 60)])).insufficientEvidence).toBe(
      true,
    );
  });

  it('ranks changes on the inferred origin as the origin, and its alerting callers as callers', () => {
    const services = [service('a', ['agent']), service('b', ['agent']), service('agent', [])];
    const bundle = shopBundle({
      services,
      neighbourhood: [
        { service: 'a', distance: 0, relation: 'affected' },
        { service: 'b', distance: 0, relation: 'affected' },
        { service: 'agent', distance: 1, relation: 'dependency' },
      ],
      signals: [signal('sig_a', 'a', 0, { severity: 'critical' }), signal('sig_b', 'b', 1)],
      changes: [change('chg_agent', 'agent', -15, 'config'), change('chg_a', 'a', -3)],
    });
    const ranked = rankChanges(bundle);
    expect(ranked.map((suspect) => [suspect.changeId, suspect.relation])).toEqual([
      ['chg_agent', 'origin'],
      ['chg_a', 'caller'],
    ]);
  });
});
