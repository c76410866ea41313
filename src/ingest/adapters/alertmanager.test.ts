import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAlertmanagerWebhook } from './alertmanager.js';
import { checkAdapterResult } from './contract.js';

const payload = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../../test/fixtures/payloads/${file}`, import.meta.url), 'utf8'));

const now = Date.parse('2026-11-26T21:47:00Z');
const startsAt = Date.parse('2026-11-26T21:46:30Z');

describe('parseAlertmanagerWebhook', () => {
  it('maps the real 0.25 firing webhook to two firing signals', () => {
    const result = parseAlertmanagerWebhook(payload('alertmanager-0.25-webhook-firing.json'), { now });
    expect(checkAdapterResult(result)).toEqual([]);
    if (!result.ok) throw new Error(result.error.message);
    expect(result.signals).toHaveLength(2);
    for (const signal of result.signals) {
      expect(signal).toMatchObject({
        source: 'alertmanager',
        status: 'firing',
        severity: 'critical',
        service: 'api-gateway',
        environment: 'prod',
        title: '5xx rate above 5% on api-gateway',
        startsAt,
      });
      // Go's zero time means "no end".
      expect(signal.endsAt).toBeUndefined();
    }
    expect(result.signals.map((signal) => signal.fingerprint)).toEqual([
      '7c60ae7089d2abc8',
      '62ac95e7d99ad5ca',
    ]);
    expect(result.signals[0]?.labels).toEqual({
      alertname: 'HighErrorRate',
      env: 'prod',
      instance: 'gw-2',
      service: 'api-gateway',
      severity: 'critical',
    });
    // The first alert has an empty generatorURL, which is not a link.
    expect(result.signals[0]?.links).toEqual([
      { href: 'http://alertmanager.example:9093', text: 'alertmanager' },
    ]);
    expect(result.signals[1]?.links).toEqual([
      { href: 'http://prometheus.example:9090/graph?g0.expr=rate', text: 'source' },
      { href: 'https://runbooks.example.com/api-gateway/high-error-rate', text: 'runbook' },
      { href: 'http://alertmanager.example:9093', text: 'alertmanager' },
    ]);
    expect(result.signals[1]?.raw).toEqual(
      (payload('alertmanager-0.25-webhook-firing.json').alerts as unknown[])[1],
    );
  });

  it('takes the status per alert from the real resolved webhook', () => {
    const result = parseAlertmanagerWebhook(payload('alertmanager-0.25-webhook-resolved.json'), { now });
    expect(checkAdapterResult(result)).toEqual([]);
    if (!result.ok) throw new Error(result.error.message);
    expect(result.signals.map((signal) => [signal.fingerprint, signal.status])).toEqual([
      ['7c60ae7089d2abc8', 'firing'],
      ['62ac95e7d99ad5ca', 'resolved'],
    ]);
    expect(result.signals[1]?.endsAt).toBe(Date.parse('2026-11-26T21:46:34Z'));
  });

  it('computes the fingerprint when a sender leaves it out', () => {
    const body = payload('alertmanager-0.25-webhook-firing.json');
    for (const alert of body.alerts as Record<string, unknown>[]) delete alert.fingerprint;
    const result = parseAlertmanagerWebhook(body, { now });
    expect(result.ok && result.signals.map((signal) => signal.fingerprint)).toEqual([
      '7c60ae7089d2abc8',
      '62ac95e7d99ad5ca',
    ]);
  });

  it('falls back to alertname for the title and the group status for the alert', () => {
    const result = parseAlertmanagerWebhook(
      { version: '4', status: 'resolved', alerts: [{ labels: { alertname: 'Quiet', app: 'billing' } }] },
      { now },
    );
    expect(result.ok && result.signals[0]).toMatchObject({
      title: 'Quiet',
      status: 'resolved',
      service: 'billing',
      severity: 'warning',
      startsAt: now,
      endsAt: now,
    });
  });

  it('clips an over-long summary instead of rejecting the alert', () => {
    const result = parseAlertmanagerWebhook(
      {
        version: '4',
        alerts: [{ status: 'firing', labels: { alertname: 'A' }, annotations: { summary: 'x'.repeat(600) } }],
      },
      { now },
    );
    expect(checkAdapterResult(result)).toEqual([]);
    expect(result.ok && result.signals[0]?.title).toHaveLength(500);
  });

  it.each([
    [{ ...payload('alertmanager-0.25-webhook-firing.json'), version: '3' }, 'unsupported_payload', 'version'],
    [{ alerts: [] }, 'unsupported_payload', 'version'],
    [[{ labels: {} }], 'unsupported_payload', undefined],
    [null, 'invalid_request', undefined],
    [{ version: '4' }, 'invalid_request', 'alerts'],
    [{ version: '4', alerts: {} }, 'invalid_request', 'alerts'],
    [{ version: '4', alerts: [{ status: 'firing' }] }, 'invalid_request', 'alerts[0].labels'],
    [
      { version: '4', alerts: [{ status: 'firing', labels: { a: ['b'] } }] },
      'invalid_request',
      'alerts[0].labels.a',
    ],
    [{ version: '4', alerts: [{ status: 'pending', labels: {} }] }, 'invalid_request', 'alerts[0].status'],
    [{ version: '4', alerts: [{ labels: {} }] }, 'invalid_request', 'alerts[0].status'],
    [
      { version: '4', alerts: [{ status: 'firing', labels: {}, startsAt: 'not a time' }] },
      'invalid_request',
      'alerts[0].startsAt',
    ],
    [
      { version: '4', alerts: [{ status: 'firing', labels: {}, fingerprint: 12 }] },
      'invalid_request',
      'alerts[0].fingerprint',
    ],
  ])('rejects %j', (body, code, path) => {
    const result = parseAlertmanagerWebhook(body, { now });
    expect(result).toMatchObject({ ok: false, error: { code } });
    if (!result.ok) expect(result.error.path).toBe(path);
  });

  it('says which version it reads', () => {
    const result = parseAlertmanagerWebhook({ version: 3, alerts: [] }, { now });
    expect(!result.ok && result.error.message).toContain('version must be "4"');
  });

  it('refuses more than 1,000 alerts', () => {
    const alerts = Array.from({ length: 1001 }, () => ({ status: 'firing', labels: { alertname: 'A' } }));
    const result = parseAlertmanagerWebhook({ version: '4', alerts }, { now });
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_request', path: 'alerts' } });
  });
});
