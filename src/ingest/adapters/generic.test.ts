import { describe, expect, it } from 'vitest';
import { checkAdapterResult } from './contract.js';
import { parseGenericSignals } from './generic.js';

const now = Date.parse('2024-05-01T12:00:00Z');
const signal = {
  service: 'checkout',
  title: 'p99 latency above 2s',
  severity: 'error',
  labels: { route: '/pay' },
};

describe('parseGenericSignals', () => {
  it('accepts one signal, fills defaults and generates a stable fingerprint', () => {
    const result = parseGenericSignals(signal, { now });
    expect(checkAdapterResult(result)).toEqual([]);
    if (!result.ok) throw new Error(result.error.message);
    expect(result.signals).toEqual([
      {
        source: 'generic',
        fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
        status: 'firing',
        severity: 'error',
        service: 'checkout',
        environment: 'production',
        title: 'p99 latency above 2s',
        labels: { route: '/pay' },
        annotations: {},
        links: [],
        startsAt: now,
        raw: signal,
      },
    ]);
    const again = parseGenericSignals({ ...signal, labels: { route: '/pay' } }, { now: now + 5 });
    expect(again.ok && again.signals[0]?.fingerprint).toBe(result.signals[0]?.fingerprint);
    const otherLabels = parseGenericSignals({ ...signal, labels: { route: '/refund' } }, { now });
    expect(otherLabels.ok && otherLabels.signals[0]?.fingerprint).not.toBe(result.signals[0]?.fingerprint);
  });

  it('accepts an array and a {signals} envelope, keeping given fingerprints and times', () => {
    const given = {
      ...signal,
      fingerprint: 'fp-1',
      startsAt: '2024-05-01T11:00:00+0000',
      status: 'resolved',
    };
    for (const body of [[given, signal], { signals: [given, signal] }]) {
      const result = parseGenericSignals(body, { now });
      expect(checkAdapterResult(result)).toEqual([]);
      if (!result.ok) throw new Error(result.error.message);
      expect(result.signals).toHaveLength(2);
      expect(result.signals[0]).toMatchObject({
        fingerprint: 'fp-1',
        startsAt: Date.parse('2024-05-01T11:00:00Z'),
        status: 'resolved',
        endsAt: now,
      });
    }
  });

  it('clips long text instead of rejecting the signal', () => {
    const result = parseGenericSignals(
      {
        ...signal,
        title: 't'.repeat(501),
        description: 'd'.repeat(10_001),
        labels: { big: 'v'.repeat(5000) },
      },
      { now },
    );
    expect(checkAdapterResult(result)).toEqual([]);
    if (!result.ok) throw new Error(result.error.message);
    expect(result.signals[0]?.title).toHaveLength(500);
    expect(result.signals[0]?.description).toHaveLength(10_000);
    expect(result.signals[0]?.labels.big).toHaveLength(4096);
  });

  it.each([
    [{ ...signal, severity: 'sev9' }, 'severity'],
    [[signal, signal, signal, { ...signal, severity: 'sev9' }], '[3].severity'],
    [{ signals: [signal, signal, signal, { ...signal, severity: 'sev9' }] }, 'signals[3].severity'],
    [{ title: 'no service' }, 'service'],
    [{ ...signal, service: 7 }, 'service'],
    [{ ...signal, labels: { port: 8080 } }, 'labels.port'],
    [{ ...signal, startsAt: 'yesterday' }, 'startsAt'],
    [{ ...signal, startsAt: -1 }, 'startsAt'],
    [{ ...signal, colour: 'red' }, 'colour'],
    [{ signals: 'all of them' }, 'signals'],
    ['a string', undefined],
  ])('rejects %j at %s', (body, path) => {
    const result = parseGenericSignals(body, { now });
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    if (!result.ok) expect(result.error.path).toBe(path);
  });

  it('says what is wrong with a timestamp rather than only "invalid input"', () => {
    const result = parseGenericSignals({ ...signal, startsAt: 'yesterday' }, { now });
    expect(!result.ok && result.error.message).toContain('not an ISO-8601 timestamp');
  });

  it('refuses more than 1,000 signals', () => {
    const many = Array.from({ length: 1001 }, () => signal);
    expect(parseGenericSignals({ signals: many }, { now })).toMatchObject({
      ok: false,
      error: { code: 'invalid_request', path: 'signals' },
    });
    expect(parseGenericSignals(many, { now })).toMatchObject({
      ok: false,
      error: { code: 'invalid_request' },
    });
    expect(parseGenericSignals(many.slice(1), { now }).ok).toBe(true);
  });
});
