import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutate } from '../bench/support/fuzz/generators.js';
import { BACKENDS, payload, REPO_ROOT, type TestServer, tableCounts, testServer } from './support.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'src', 'ingest', 'adapters', 'fixtures', name), 'utf8'));

/** Valid bodies per receiver; the properties mutate them. */
const ENDPOINTS: { route: string; valid: () => unknown }[] = [
  {
    route: '/v1/signals',
    valid: () => ({ service: 'fuzz', title: 'fuzz signal', severity: 'error', labels: { a: 'b' } }),
  },
  { route: '/v1/ingest/alertmanager', valid: () => payload('alertmanager-0.25-webhook-firing.json') },
  { route: '/api/v2/alerts', valid: () => fixture('prometheus-alerts.json') },
  {
    route: '/v1/ingest/cloudwatch',
    valid: () => payload('cloudwatch-alarm-sns-payload-multiple-metrics.json'),
  },
  { route: '/v1/ingest/eventbridge', valid: () => fixture('eventbridge-alarm-single-metric.json') },
  { route: '/v2/enqueue', valid: () => fixture('pagerduty-trigger.json') },
  { route: '/v2/change/enqueue', valid: () => fixture('pagerduty-change.json') },
  {
    route: '/v1/changes',
    valid: () => ({ kind: 'deploy', service: 'fuzz', summary: 'v1', startedAt: '2026-11-26T10:00:00Z' }),
  },
];

describe.each(BACKENDS)('receivers never answer 5xx nor write partially (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer(backend);
  });
  afterAll(async () => {
    await server.cleanup();
  });

  for (const endpoint of ENDPOINTS) {
    it(`${endpoint.route}: random and mutated bodies`, async () => {
      const body = fc.oneof(
        fc.jsonValue(),
        fc
          .tuple(
            fc.array(fc.nat(50), { minLength: 1, maxLength: 6 }),
            fc.oneof(fc.jsonValue(), fc.string({ maxLength: 2000 })),
          )
          .map(([choices, replacement]) => mutate(endpoint.valid(), choices, replacement)),
      );
      await fc.assert(
        fc.asyncProperty(body, async (candidate) => {
          const before = await tableCounts(server.runtime);
          const response = await server.request('POST', endpoint.route, {
            body: candidate,
            headers: { 'content-type': 'application/json' },
          });
          expect(response.status, response.text).toBeLessThan(500);
          if (response.status >= 400) {
            expect(response.json.error.code).toEqual(expect.any(String));
            expect(await tableCounts(server.runtime)).toEqual(before);
          }
        }),
        { numRuns: backend === 'sqlite' ? 60 : 25 },
      );
    });
  }
});
