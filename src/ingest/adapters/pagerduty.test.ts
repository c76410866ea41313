import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkAdapterResult } from './contract.js';
import { parsePagerDutyChange, parsePagerDutyEvent } from './pagerduty.js';

// biome-ignore lint/suspicious/noExplicitAny: tests edit nested fixture fields freely.
type Json = Record<string, any>;

const fixture = (file: string): Json =>
  JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8'));

const now = Date.parse('2024-05-01T12:05:00Z');
const routingKey = 'e93facc04764012d7bfb002500d5d1a6';

describe('parsePagerDutyEvent', () => {
  it('maps a trigger and never keeps the routing key', () => {
    const result = parsePagerDutyEvent(fixture('pagerduty-trigger.json'), { now });
    expect(checkAdapterResult(result)).toEqual([]);
    if (!result.ok) throw new Error(result.error.message);
    expect(result.dedupKeys).toEqual(['datapipe/mysql-disk']);
    const [signal] = result.signals;
    expect(signal).toMatchObject({
      source: 'pagerduty',
      fingerprint: 'datapipe/mysql-disk',
      status: 'firing',
      severity: 'critical',
      service: 'datapipe',
      environment: 'prod',
      title: 'Disk at 99% on prod-datapipe03.example.com',
      startsAt: Date.parse('2024-05-01T12:00:00Z'),
      labels: {
        class: 'disk',
        group: 'prod-datapipe',
        component: 'mysql',
        source: 'prod-datapipe03.example.com',
      },
      annotations: {
        'free space': '1%',
        'load avg': '0.75',
        mounts: '["/","/var/lib/mysql"]',
        service: 'datapipe',
        env: 'prod',
      },
      links: [
        { href: 'https://wiki.example.com/runbooks/disk-full', text: 'Disk full runbook' },
        { href: 'https://monitoring.example.com/graphs/disk', text: 'Disk usage graph' },
        { href: 'https://monitoring.example.com/hosts/prod-datapipe03', text: 'Example Monitoring' },
      ],
    });
    expect(signal?.acknowledged).toBeUndefined();
    expect(JSON.stringify(signal)).not.toContain(routingKey);
  });

  it('takes the service from component, group, then source', () => {
    const event = fixture('pagerduty-trigger.json');
    delete event.payload.custom_details;
    const service = () => {
      const result = parsePagerDutyEvent(event, { now });
      return result.ok ? result.signals[0]?.service : result.error.message;
    };
    expect(service()).toBe('mysql');
    delete event.payload.component;
    expect(service()).toBe('prod-datapipe');
    delete event.payload.group;
    expect(service()).toBe('prod-datapipe03.example.com');
  });

  it('generates a dedup key for a trigger without one and returns it', () => {
    const event = fixture('pagerduty-trigger.json');
    delete event.dedup_key;
    const result = parsePagerDutyEvent(event, { now });
    if (!result.ok) throw new Error(result.error.message);
    expect(result.dedupKeys[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(result.signals[0]?.fingerprint).toBe(result.dedupKeys[0]);
  });

  it('turns acknowledge and resolve without payload into updates of the existing signal', () => {
    const acknowledge = parsePagerDutyEvent(
      { routing_key: routingKey, event_action: 'acknowledge', dedup_key: 'datapipe/mysql-disk' },
      { now },
    );
    expect(checkAdapterResult(acknowledge)).toEqual([]);
    expect(acknowledge.ok && acknowledge.signals[0]).toMatchObject({
      fingerprint: 'datapipe/mysql-disk',
      status: 'firing',
      acknowledged: true,
      service: 'unknown',
      title: 'PagerDuty acknowledge datapipe/mysql-disk',
      startsAt: now,
    });
    const resolve = parsePagerDutyEvent(
      { routing_key: routingKey, event_action: 'resolve', dedup_key: 'datapipe/mysql-disk' },
      { now },
    );
    expect(checkAdapterResult(resolve)).toEqual([]);
    expect(resolve.ok && resolve.signals[0]).toMatchObject({
      status: 'resolved',
      title: 'PagerDuty resolve datapipe/mysql-disk',
      endsAt: now,
    });
    expect(resolve.ok && resolve.dedupKeys).toEqual(['datapipe/mysql-disk']);
  });

  it('uses whatever payload a resolve carries, leniently', () => {
    const event = fixture('pagerduty-trigger.json');
    event.event_action = 'resolve';
    event.payload.severity = 'SEVERE';
    const result = parsePagerDutyEvent(event, { now });
    expect(checkAdapterResult(result)).toEqual([]);
    expect(result.ok && result.signals[0]).toMatchObject({
      service: 'datapipe',
      title: event.payload.summary,
    });
  });

  it.each([
    [(event: Json) => delete event.routing_key, 'routing_key'],
    [(event: Json) => (event.routing_key = 'short'), 'routing_key'],
    [(event: Json) => (event.event_action = 'escalate'), 'event_action'],
    [(event: Json) => delete event.payload, 'payload'],
    [(event: Json) => delete event.payload.summary, 'payload.summary'],
    [(event: Json) => (event.payload.summary = 's'.repeat(1025)), 'payload.summary'],
    [(event: Json) => delete event.payload.source, 'payload.source'],
    [(event: Json) => (event.payload.severity = 'high'), 'payload.severity'],
    [(event: Json) => (event.payload.severity = 'Critical'), 'payload.severity'],
    [(event: Json) => (event.payload.timestamp = 'noon'), 'payload.timestamp'],
    [(event: Json) => (event.payload.component = 7), 'payload.component'],
    [(event: Json) => (event.dedup_key = 'k'.repeat(256)), 'dedup_key'],
    [(event: Json) => (event.links = 'https://example.com'), 'links'],
    [
      (event: Json) => {
        event.event_action = 'acknowledge';
        delete event.dedup_key;
      },
      'dedup_key',
    ],
  ])('rejects a bad event (%#) at %s', (mutate, path) => {
    const event = fixture('pagerduty-trigger.json');
    mutate(event);
    const result = parsePagerDutyEvent(event, { now });
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_request', path } });
    if (!result.ok) expect(result.error.message).not.toContain(routingKey);
  });

  it('rejects a body that is not an object', () => {
    expect(parsePagerDutyEvent([1], { now })).toMatchObject({
      ok: false,
      error: { code: 'invalid_request' },
    });
  });
});

describe('parsePagerDutyChange', () => {
  it('maps a change event', () => {
    const result = parsePagerDutyChange(fixture('pagerduty-change.json'), { now });
    expect(checkAdapterResult(result)).toEqual([]);
    if (!result.ok) throw new Error(result.error.message);
    expect(result.signals).toEqual([]);
    expect(result.changes).toEqual([
      {
        kind: 'deploy',
        service: 'checkout',
        environment: 'prod',
        versionFrom: 'v2.4.0',
        versionTo: 'v2.4.1',
        author: 'alice',
        summary: 'Deployed checkout v2.4.1: raise payment client timeout to 30s',
        startedAt: Date.parse('2024-05-01T11:45:00Z'),
        links: [{ href: 'https://ci.example.com/builds/412', text: 'Build 412' }],
        externalId: expect.stringMatching(/^pd-[0-9a-f]{32}$/),
        source: 'pagerduty',
      },
    ]);
    // The same delivery twice is recognisable as one change.
    const again = parsePagerDutyChange(fixture('pagerduty-change.json'), { now: now + 1000 });
    expect(again.ok && again.changes[0]?.externalId).toBe(result.changes[0]?.externalId);
  });

  it('reads the kind from custom_details and falls back to the source as service', () => {
    const event = fixture('pagerduty-change.json');
    event.payload.custom_details = { kind: 'feature-flag' };
    delete event.payload.timestamp;
    const result = parsePagerDutyChange(event, { now });
    expect(checkAdapterResult(result)).toEqual([]);
    expect(result.ok && result.changes[0]).toMatchObject({
      kind: 'feature_flag',
      service: 'ci-runner-7',
      environment: 'production',
      startedAt: now,
    });
    expect(result.ok && result.changes[0]?.externalId).toBeUndefined();
    event.payload.custom_details = { type: 'launch' };
    const unknownKind = parsePagerDutyChange(event, { now });
    expect(unknownKind.ok && unknownKind.changes[0]?.kind).toBe('deploy');
  });

  it.each([
    [(event: Json) => (event.routing_key = 12), 'routing_key'],
    [(event: Json) => delete event.payload, 'payload'],
    [(event: Json) => (event.payload.summary = ''), 'payload.summary'],
    [(event: Json) => (event.payload.summary = 's'.repeat(1025)), 'payload.summary'],
    [(event: Json) => (event.payload.timestamp = '2024-13-45'), 'payload.timestamp'],
    [(event: Json) => (event.payload.custom_details = 'checkout'), 'payload.custom_details'],
    [
      (event: Json) => {
        delete event.payload.source;
        delete event.payload.custom_details.service;
      },
      'payload.source',
    ],
  ])('rejects a bad change (%#) at %s', (mutate, path) => {
    const event = fixture('pagerduty-change.json');
    mutate(event);
    const result = parsePagerDutyChange(event, { now });
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_request', path } });
  });

  it('names both places a service may come from', () => {
    const event = fixture('pagerduty-change.json');
    delete event.payload.source;
    delete event.payload.custom_details.service;
    const result = parsePagerDutyChange(event, { now });
    expect(!result.ok && result.error.message).toMatch(/payload\.custom_details\.service.*payload\.source/);
  });
});
