import { describe, expect, it } from 'vitest';
import { validateFinding } from '../evidence.js';
import { NORMAL, series, shopBundle, signal, T0 } from './fixtures.test-support.js';
import {
  ANOMALY_Z,
  analyzeSignals,
  anomalyOf,
  assessSeries,
  messagePattern,
  SATURATION_Z,
  signalEvidence,
} from './signal-intelligence.js';

describe('signal-intelligence', () => {
  it('orders services by onset and names the leader with the gap', () => {
    const bundle = shopBundle();
    const finding = analyzeSignals(bundle);
    expect(finding.data.onsets.map((onset) => onset.service)).toEqual(['db', 'api', 'web']);
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
    expect(finding.data.anomalies.map((anomaly) => anomaly.signalId)).toEqual(['sig_a', 'sig_b']);
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
    expect(finding.data.clusters.map((cluster) => [cluster.key, cluster.signalIds.length])).toEqual([
      ['api/HighErrorRate', 2],
      ['db/DiskFull', 1],
    ]);
    expect(finding.data.patterns[0]).toMatchObject({
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

describe('signal-intelligence: datapoints around the start', () => {
  it('scores the window at onset against the baseline in robust spreads', () => {
    const spike = signal('sig_s', 'api', 0, {
      metric: { name: 'latency', datapoints: series(NORMAL, [100, 101, 130, 120, 100]) },
    });
    const assessed = assessSeries(spike)!;
    expect(assessed).toMatchObject({ basis: 'baseline', value: 130, at: T0, onsetAt: T0, reference: 100 });
    expect(assessed.score).toBeGreaterThan(SATURATION_Z);
    expect(anomalyOf(spike)).toMatchObject({ basis: 'baseline', value: 130 });
    expect(signalEvidence(spike)).toMatchObject({ state: 'anomalous', strength: 1, alert: true });
  });

  it('does not count a level that was already off before the start', () => {
    const chronic = signal('sig_c', 'api', 0, {
      severity: 'info',
      metric: { name: 'latency', datapoints: series(NORMAL, [150, 151, 150, 151, 150]) },
    });
    expect(assessSeries(chronic)!.score).toBeLessThan(ANOMALY_Z);
    expect(signalEvidence(chronic)).toMatchObject({ state: 'normal', strength: 0, alert: false });
  });

  it('tells anomalous, weak, contradicted and unmeasured alerts apart', () => {
    const spread = 1.4826; // NORMAL cycles 98, 100, 102, 99, 101: median 100, MAD 1
    const at = (z: number) => 100 + z * spread;
    const evidence = (z: number, severity: 'critical' | 'info' = 'critical') =>
      signalEvidence(
        signal(`sig_${z}`, 'api', 0, {
          severity,
          metric: { name: 'latency', datapoints: series(NORMAL, [100, 100, at(z), 100, 100]) },
        }),
      ).state;
    expect(evidence(4)).toBe('anomalous');
    expect(evidence(2.5)).toBe('weak');
    expect(evidence(2.5, 'info')).toBe('normal');
    expect(evidence(0.5)).toBe('normal');
    expect(signalEvidence(signal('sig_plain', 'api', 0))).toMatchObject({ state: 'unmeasured', strength: 1 });
    expect(signalEvidence(signal('sig_obs', 'api', 0, { severity: 'info' }))).toMatchObject({
      state: 'unmeasured',
      strength: 0,
    });
  });

  it('without a baseline, measures the change from the pre-onset level in units of 10% of it', () => {
    const short = signal('sig_short', 'api', 0, {
      metric: { name: 'latency', datapoints: series([], [10, 10, 15, 12, 10]) },
    });
    expect(assessSeries(short)).toMatchObject({ basis: 'change', score: 5, reference: 10 });
  });

  describe('availability', () => {
    const availability = (id: string, baseline: number[], window: number[], name = 'availability') =>
      signal(id, 'search', 0, { metric: { name, unit: '%', datapoints: series(baseline, window) } });
    const FLAT = Array.from({ length: 40 }, () => 100);
    // Low traffic: a failed request now and then takes a five-minute point down to 85-95%.
    const NOISY = Array.from({ length: 40 }, (_, index) => [100, 100, 91, 100, 86, 100, 94, 100][index % 8]!);

    it('reads a drop against the series own level and noise: 9% is an outage where it never moves', () => {
      const still = assessSeries(availability('sig_still', FLAT, [100, 100, 91, 92, 100]))!;
      const noisy = assessSeries(availability('sig_noisy', NOISY, [100, 100, 91, 92, 100]))!;
      expect(still).toMatchObject({ basis: 'baseline', reference: 100 });
      expect(still.score).toBeGreaterThanOrEqual(ANOMALY_Z);
      expect(noisy.score).toBeLessThan(ANOMALY_Z);
    });

    it('without reference data, takes the pre-onset points as the baseline, their steps as the noise', () => {
      const steady = assessSeries(availability('sig_steady', [], [100, 100, 91, 92, 100]))!;
      expect(steady).toMatchObject({ basis: 'change', reference: 100, value: 91 });
      // A percentage's noise is at least 1% of its level: a 9-point drop scores 9.
      expect(steady.score).toBe(9);
      // Pre-onset points that already moved by 8 points make the same drop ordinary.
      expect(assessSeries(availability('sig_jumpy', [], [100, 92, 91, 92, 100]))!.score).toBeLessThan(
        ANOMALY_Z,
      );
      // Latency is not a percentage: without reference data its noise is taken as 10% of its level.
      const latency = signal('sig_latency', 'search', 0, {
        metric: { name: 'latency', datapoints: series([], [100, 100, 109, 100, 100]) },
      });
      expect(assessSeries(latency)!.score).toBe(0.9);
    });

    it('counts only drops of a success ratio: availability back up to its level is no anomaly', () => {
      expect(assessSeries(availability('sig_up', [], [71, 71, 100, 100, 100]))!.score).toBe(0);
      expect(assessSeries(availability('sig_errors', [], [1, 1, 9, 9, 1], 'error_percent'))!.score).toBe(800);
    });
  });

  it('orders onsets by when the datapoints crossed the line and abstains when none did', () => {
    const early = signal('sig_early', 'db', -5, {
      severity: 'info',
      metric: { name: 'latency', datapoints: series(NORMAL, [100, 140, 150, 100, 100]) },
    });
    const late = signal('sig_late', 'api', 0, {
      metric: { name: 'latency', datapoints: series(NORMAL, [100, 100, 150, 100, 100]) },
    });
    const quiet = signal('sig_quiet', 'web', 0, {
      severity: 'info',
      metric: { name: 'latency', datapoints: series(NORMAL, [100, 101, 100, 99, 100]) },
    });
    const bundle = shopBundle({ signals: [late, quiet, early] });
    const finding = analyzeSignals(bundle);
    expect(finding.data.onsets.map((onset) => onset.service)).toEqual(['db', 'api']);
    expect(finding.claims[0]!.text).toBe('db fired first, 5 minutes before api.');
    expect(validateFinding(finding, bundle)).toEqual([]);

    const normal = analyzeSignals(shopBundle({ signals: [quiet] }));
    expect(normal).toMatchObject({ insufficientEvidence: true, claims: [] });
  });
});
