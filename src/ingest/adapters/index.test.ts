import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkAdapterResult } from './contract.js';
import { ADAPTERS, INGEST_FORMATS, type IngestFormat, isIngestFormat } from './index.js';

const payload = (file: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../test/fixtures/payloads/${file}`, import.meta.url), 'utf8'));
const fixture = (file: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8'));

const now = Date.parse('2024-05-01T12:00:00Z');
const routingKey = 'e93facc04764012d7bfb002500d5d1a6';
const genericSignal = {
  service: 'checkout',
  title: 'p99 above 2s',
  labels: { route: '/pay' },
  startsAt: now,
};

/** Valid bodies per format: the starting points for mutation. */
const VALID: Record<IngestFormat, unknown[]> = {
  generic: [
    genericSignal,
    [genericSignal, { ...genericSignal, status: 'resolved' }],
    { signals: [genericSignal] },
  ],
  alertmanager: [
    payload('alertmanager-0.25-webhook-firing.json'),
    payload('alertmanager-0.25-webhook-resolved.json'),
  ],
  prometheus: [fixture('prometheus-alerts.json')],
  cloudwatch: [
    payload('cloudwatch-alarm-sns-payload-single-metric.json'),
    payload('cloudwatch-alarm-sns-payload-multiple-metrics.json'),
    payload('sns-event.json'),
    fixture('sns-https-alarm-notification.json'),
    fixture('sns-subscription-confirmation.json'),
  ],
  eventbridge: [
    fixture('eventbridge-alarm-single-metric.json'),
    fixture('eventbridge-alarm-metric-math.json'),
  ],
  pagerduty: [
    fixture('pagerduty-trigger.json'),
    { routing_key: routingKey, event_action: 'acknowledge', dedup_key: 'k-1' },
    { routing_key: routingKey, event_action: 'resolve', dedup_key: 'k-1', payload: { summary: 'done' } },
  ],
  'pagerduty-change': [fixture('pagerduty-change.json')],
};

// ---------------------------------------------------------------------------------------------------
// Mutations. JSON carried inside strings (an SNS Message, EventBridge reasonData) is expanded first so
// mutations reach into it too, then encoded again.

type Key = string | number;
const ENCODED = '\u0000encoded-json';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function expand(value: unknown): unknown {
  if (typeof value === 'string' && /^\s*[[{]/.test(value)) {
    try {
      return { [ENCODED]: expand(JSON.parse(value)) };
    } catch {
      return value;
    }
  }
  if (Array.isArray(value)) return value.map(expand);
  if (isObject(value))
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, expand(entry)]));
  return value;
}

function collapse(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(collapse);
  if (isObject(value)) {
    if (Object.hasOwn(value, ENCODED) && Object.keys(value).length === 1) {
      return JSON.stringify(collapse(value[ENCODED]) ?? null);
    }
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, collapse(entry)]));
  }
  return value;
}

function paths(value: unknown, prefix: Key[] = []): Key[][] {
  const children: [Key, unknown][] = Array.isArray(value)
    ? value.map((entry, index) => [index, entry])
    : isObject(value)
      ? Object.entries(value)
      : [];
  return children.flatMap(([key, child]) => [[...prefix, key], ...paths(child, [...prefix, key])]);
}

function retype(value: unknown): unknown {
  if (typeof value === 'string') return Number.isNaN(Number(value)) ? value.length : Number(value);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 0;
  if (Array.isArray(value)) return Object.fromEntries(value.map((entry, index) => [String(index), entry]));
  if (isObject(value)) return Object.values(value);
  return {};
}

interface Mutation {
  operation: 'delete' | 'replace' | 'retype' | 'lengthen' | 'flood';
  at: number;
  replacement: unknown;
}

const mutationArbitrary: fc.Arbitrary<Mutation> = fc.record({
  operation: fc.constantFrom('delete', 'replace', 'retype', 'lengthen', 'flood'),
  at: fc.nat(),
  replacement: fc.oneof(fc.jsonValue(), fc.anything()),
});

function mutate(base: unknown, mutations: readonly Mutation[]): unknown {
  const root = { value: expand(structuredClone(base)) };
  // Flooding last keeps a flooded list at 1,001 items (rejected cheaply) instead of trimming it back
  // to an accepted 1,000 that costs the run a second.
  const ordered = [...mutations].sort(
    (left, right) => Number(left.operation === 'flood') - Number(right.operation === 'flood'),
  );
  for (const mutation of ordered) {
    const candidates = paths(root);
    const path = candidates[mutation.at % candidates.length];
    if (path === undefined) continue;
    const key = path.at(-1)!;
    let parent: unknown = root;
    for (const step of path.slice(0, -1)) parent = (parent as Record<Key, unknown>)[step];
    const container = parent as Record<Key, unknown>;
    const current = container[key];
    switch (mutation.operation) {
      case 'delete':
        if (Array.isArray(container) && typeof key === 'number') container.splice(key, 1);
        else delete container[key];
        break;
      case 'replace':
        container[key] = mutation.replacement;
        break;
      case 'retype':
        container[key] = retype(current);
        break;
      case 'lengthen':
        {
          const seed = typeof current === 'string' && current !== '' ? current : 'x';
          container[key] = seed.repeat(Math.ceil(12_000 / seed.length)).slice(0, 12_000);
        }
        break;
      case 'flood':
        // Pushes a list past the batch limit to exercise the 1,000-item guard.
        if (Array.isArray(current) && current.length > 0) {
          container[key] = Array.from({ length: 1001 }, () => structuredClone(current[0]));
        }
        break;
    }
  }
  return collapse(root.value);
}

function expectContract(format: IngestFormat, body: unknown): void {
  const result = ADAPTERS[format](body, { now });
  expect(checkAdapterResult(result)).toEqual([]);
  if (format === 'pagerduty' && result.ok) {
    expect(JSON.stringify(result.signals)).not.toContain(routingKey);
  }
}

describe('ADAPTERS', () => {
  it('has one adapter per ingest format', () => {
    expect(Object.keys(ADAPTERS).sort()).toEqual([...INGEST_FORMATS].sort());
    expect(isIngestFormat('cloudwatch')).toBe(true);
    expect(isIngestFormat('datadog')).toBe(false);
  });

  it.each(INGEST_FORMATS)('%s accepts its valid examples', (format) => {
    for (const body of VALID[format]) {
      const result = ADAPTERS[format](body, { now });
      expect(checkAdapterResult(result)).toEqual([]);
      expect(result.ok).toBe(true);
    }
  });
});

describe('times past what a Date holds', () => {
  it('are refused by name in a sender payload, never passed on as a draft out of range', () => {
    for (const startsAt of [8_640_000_000_000_001, Number.MAX_SAFE_INTEGER]) {
      const body = structuredClone(VALID.alertmanager[0]) as { alerts: { startsAt: unknown }[] };
      body.alerts[0]!.startsAt = startsAt;
      expectContract('alertmanager', body);
      const result = ADAPTERS.alertmanager(body, { now });
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).toContain('startsAt');
    }
  });
});

describe.each(INGEST_FORMATS)('%s adapter properties', (format) => {
  it('never throws on random JSON and keeps the result contract', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (body) => expectContract(format, body)),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary JavaScript values', () => {
    fc.assert(
      fc.property(fc.anything(), (body) => expectContract(format, body)),
      { numRuns: 300 },
    );
  });

  it('never throws on mutations of valid payloads and keeps the result contract', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VALID[format]),
        fc.array(mutationArbitrary, { minLength: 1, maxLength: 4 }),
        (base, mutations) => expectContract(format, mutate(base, mutations)),
      ),
      { numRuns: 300 },
    );
  });
});

describe('checkAdapterResult', () => {
  it('reports drafts that are not in normalized form', () => {
    const problems = checkAdapterResult({
      ok: true,
      signals: [
        {
          source: 'generic',
          fingerprint: '',
          status: 'firing',
          severity: 'warning',
          service: 'x',
          environment: 'production',
          title: 't'.repeat(501),
          labels: {},
          annotations: {},
          links: [],
          startsAt: 1.5,
        },
      ],
      changes: [],
      confirmations: [],
      dedupKeys: [''],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'signals[0].fingerprint is empty',
        'signals[0].startsAt is not epoch milliseconds',
        'dedupKeys[0] is empty',
      ]),
    );
    expect(problems.some((problem) => problem.startsWith('signals[0].title'))).toBe(true);
  });
});
