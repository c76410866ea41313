import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenarios } from './outage-scenarios.js';

const SCENARIO = `
id: timing
title: "timing defaults"
kind: outage
report: https://example.org/report
onset: "2024-01-01T00:00:00Z"
summary: a database fails and its caller follows
simplified: invented
services:
  - name: db
  - name: api
    dependsOn: [db]
  - name: web
    dependsOn: [api]
  - name: mobile
    dependsOn: [api]
  - name: batch
    dependsOn: [db]
changes: []
signals:
  - service: db
    alertname: DbDown
    severity: critical
    summary: db down
    startsAt: 0
  - service: api
    alertname: Api5xx
    severity: critical
    summary: api 5xx
    startsAt: 90s
    for: 5m
    delay: 2
truth:
  expectedIncidents: 1
  outages:
    - id: main
      origin: db
      culpritChange: null
`;

describe('outage scenario loader', () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'opx-scenarios-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it("gives an alert the README's defaults, for: 1m and a 30 s delay, in milliseconds like given times", () => {
    writeFileSync(path.join(directory, 'timing.yaml'), SCENARIO);
    const [scenario] = loadScenarios(directory);
    const [db, api] = scenario!.signals;
    expect(db).toMatchObject({ startsAt: 0, for: 60_000, delay: 30_000, arrives: 90_000 });
    expect(api).toMatchObject({ startsAt: 90_000, for: 300_000, delay: 2_000, arrives: 392_000 });
  });

  it('loads every shipped scenario set', () => {
    for (const set of ['outages', 'outages-heldout', 'outages-heldout-2', 'outages-heldout-3'])
      expect(loadScenarios(path.join(import.meta.dirname, '..', 'data', set)).length).toBeGreaterThan(5);
  });
});
