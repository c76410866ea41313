import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkAdapterResult } from './contract.js';
import { alertFingerprint, parsePrometheusAlerts } from './prometheus.js';

const fixture = (file: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8'));

/** The textbook 64-bit FNV-1a in BigInt, to check the two-halves implementation against. */
function referenceFingerprint(labels: Record<string, string>): string {
  const encoder = new TextEncoder();
  const names = Object.keys(labels).sort((left, right) =>
    Buffer.compare(Buffer.from(encoder.encode(left)), Buffer.from(encoder.encode(right))),
  );
  let hash = 0xcbf29ce484222325n;
  const add = (bytes: Iterable<number>) => {
    for (const byte of bytes) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n);
  };
  for (const name of names) {
    add(encoder.encode(name));
    add([0xff]);
    add(encoder.encode(labels[name]));
    add([0xff]);
  }
  return hash.toString(16).padStart(16, '0');
}

const now = Date.parse('2026-11-26T21:48:00Z');

describe('alertFingerprint', () => {
  it('matches the fingerprints Alertmanager 0.25 computed for the real payload', () => {
    expect(
      alertFingerprint({
        alertname: 'HighErrorRate',
        env: 'prod',
        instance: 'gw-2',
        service: 'api-gateway',
        severity: 'critical',
      }),
    ).toBe('7c60ae7089d2abc8');
    expect(
      alertFingerprint({
        alertname: 'HighErrorRate',
        env: 'prod',
        service: 'api-gateway',
        severity: 'critical',
      }),
    ).toBe('62ac95e7d99ad5ca');
  });

  it('does not depend on key order and gives the FNV offset basis for no labels', () => {
    expect(alertFingerprint({ b: '2', a: '1' })).toBe(alertFingerprint({ a: '1', b: '2' }));
    expect(alertFingerprint({})).toBe('cbf29ce484222325');
  });

  it('sorts names by UTF-8 bytes as Go does, not by UTF-16 units', () => {
    // U+1F600 sorts first by UTF-16 units (surrogate 0xD83D < 0xFF5E) but last by UTF-8 bytes (0xF0 > 0xEF).
    const labels = { '\u{ff5e}': 'x', '\u{1f600}': 'y' };
    expect(alertFingerprint(labels)).toBe(referenceFingerprint(labels));
  });

  it('agrees with a BigInt FNV-1a reference on arbitrary label sets', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' })), (labels) => {
        expect(alertFingerprint(labels)).toBe(referenceFingerprint(labels));
      }),
      { numRuns: 300 },
    );
  });
});

describe('parsePrometheusAlerts', () => {
  it('maps the alerts Prometheus posts, deciding status from endsAt', () => {
    const result = parsePrometheusAlerts(fixture('prometheus-alerts.json'), { now });
    expect(checkAdapterResult(result)).toEqual([]);
    if (!result.ok) throw new Error(result.error.message);
    const [firing, resolved] = result.signals;
    expect(firing).toMatchObject({
      source: 'prometheus',
      fingerprint: '7c60ae7089d2abc8',
      status: 'firing',
      severity: 'critical',
      service: 'api-gateway',
      environment: 'prod',
      title: '5xx rate above 5% on api-gateway',
      startsAt: Date.parse('2026-11-26T21:46:30Z'),
      links: [{ href: 'http://prometheus.example:9090/graph?g0.expr=rate', text: 'source' }],
    });
    // A firing alert's endsAt is only Prometheus's resend deadline.
    expect(firing?.endsAt).toBeUndefined();
    expect(resolved).toMatchObject({
      status: 'resolved',
      severity: 'warning',
      service: 'node',
      environment: 'production',
      region: 'eu-west-1',
      description: 'Predicted to be full at the current write rate.',
      endsAt: Date.parse('2026-11-26T21:40:00Z'),
    });
    expect(resolved?.links).toContainEqual({
      href: 'https://runbooks.example.com/disk-filling',
      text: 'runbook',
    });
    expect(result.dedupKeys).toEqual([]);
  });

  it('defaults startsAt to now and treats a future endsAt as firing', () => {
    const result = parsePrometheusAlerts(
      [{ labels: { alertname: 'Up' }, endsAt: new Date(now + 1).toISOString() }],
      {
        now,
      },
    );
    expect(result.ok && result.signals[0]).toMatchObject({ status: 'firing', startsAt: now, title: 'Up' });
  });

  it.each([
    [{ alerts: [] }, 'unsupported_payload', undefined],
    ['text', 'invalid_request', undefined],
    [[{ annotations: {} }], 'invalid_request', '[0].labels'],
    [[{ labels: { severity: 'critical' } }], 'invalid_request', '[0].labels.alertname'],
    [[{ labels: { alertname: 'A', port: 8080 } }], 'invalid_request', '[0].labels.port'],
    [[{ labels: { alertname: 'A' }, startsAt: 'yesterday' }], 'invalid_request', '[0].startsAt'],
    [[{ labels: { alertname: 'A' } }, 7], 'invalid_request', '[1]'],
  ])('rejects %j', (body, code, path) => {
    const result = parsePrometheusAlerts(body, { now });
    expect(result).toMatchObject({ ok: false, error: { code } });
    if (!result.ok) expect(result.error.path).toBe(path);
  });

  it('refuses more than 1,000 alerts in one request', () => {
    const body = Array.from({ length: 1001 }, (_, index) => ({ labels: { alertname: `A${index}` } }));
    const result = parsePrometheusAlerts(body, { now });
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    if (!result.ok) expect(result.error.message).toContain('at most 1000');
    expect(parsePrometheusAlerts(body.slice(0, 1000), { now }).ok).toBe(true);
  });
});
