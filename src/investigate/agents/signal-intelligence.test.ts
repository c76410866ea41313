import { describe, expect, it } from 'vitest';
import { validateFinding } from '../evidence.js';
import { shopBundle, signal } from './fixtures.test-support.js';
import { analyzeSignals, anomalyOf, messagePattern } from './signal-intelligence.js';

describe('signal-intelligence', () => {
  it('orders services by onset and names the leader with the gap', () => {
    const bundle = shopBundle();
    const finding = analyzeSignals(bundle);
    expect((finding.data.onsets as { service: string }[]).map((onset) => onset.service)).toEqual([
      'db',
      'api',
      'web',
    ]);
    expect(finding.claims[0]).toMatchObject({
      text: 'db fired first, 1 minutes before api.',
      evidenceIds: ['sig_db', 'service:db'],
    });
    expect(validateFinding(finding, bundle)).toEqual([]);
  });

  it('ranks anomalies by how far past their threshold, or by z-score against the series', () => {
    const overThreshold = signal('sig_a', 'api', 0, {
      metric: { name: 'error_ratio', value: 0.15, threshold: 0.05 },
    });
    const slightly = signal('sig_b', 'db', 0, { metric: { name: 'latency', value: 1.1, threshold: 1 } });
    const series = signal('sig_c', 'web', 0, {
      metric: { name: 'rps', datapoints: [10, 11, 9, 10, 50].map((value, at) => ({ at, value })) },
    });
    expect(anomalyOf(overThreshold)).toMatchObject({ magnitude: 2, basis: 'threshold' });
    expect(anomalyOf(series)).toMatchObject({ basis: 'z-score', value: 50 });
    expect(anomalyOf(signal('sig_d', 'web', 0))).toBeUndefined();
    const finding = analyzeSignals(shopBundle({ signals: [slightly, overThreshold] }));
    expect((finding.data.anomalies as { signalId: string }[]).map((anomaly) => anomaly.signalId)).toEqual([
      'sig_a',
      'sig_b',
    ]);
    expect(finding.claims[1]!.text).toContain('200% past its threshold');
  });

  it('clusters repeats and groups messages that differ only in numbers and ids', () => {
    expect(
      messagePattern('timeout after 3000 ms calling 10.0.0.12:5432 req 3f2b9c1e-1111-2222-3333-444455556666'),
    ).toBe('timeout after <n> ms calling <ip> req <uuid>');
    const repeats = [
      signal('sig_1', 'api', 0, { labels: { alertname: 'HighErrorRate' }, title: 'errors 12%' }),
      signal('sig_2', 'api', 1, { labels: { alertname: 'HighErrorRate' }, title: 'errors 14%' }),
      signal('sig_3', 'db', 2, { labels: { alertname: 'DiskFull' } }),
    ];
    const finding = analyzeSignals(shopBundle({ signals: repeats }));
    expect(
      (finding.data.clusters as { key: string; signalIds: string[] }[]).map((cluster) => [
        cluster.key,
        cluster.signalIds.length,
      ]),
    ).toEqual([
      ['api/HighErrorRate', 2],
      ['db/DiskFull', 1],
    ]);
    expect((finding.data.patterns as { pattern: string; count: number }[])[0]).toMatchObject({
      pattern: 'errors <n>%',
      count: 2,
    });
    expect(finding.claims.at(-1)!.text).toBe('3 signals collapse into 2 distinct alerts.');
  });

  it('abstains with no signals', () => {
    expect(analyzeSignals(shopBundle({ signals: [] }))).toMatchObject({
      insufficientEvidence: true,
      claims: [],
    });
  });
});
