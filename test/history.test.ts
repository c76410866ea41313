import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importHistory, readHistoryDirectory } from '../src/incidents/history.js';
import { verifyChain } from '../src/incidents/service.js';
import { BACKENDS, REPO_ROOT, type TestRuntime, testRuntime } from './support.js';

const EXAMPLE = path.join(REPO_ROOT, 'examples', 'history');

describe.each(BACKENDS)('history import on %s', (backend) => {
  let test: TestRuntime;
  beforeAll(async () => {
    test = await testRuntime(backend);
  });
  afterAll(async () => {
    await test.cleanup();
  });

  it('loads past incidents as resolved, hash-chained incidents with their signals and the change history, once', async () => {
    const history = readHistoryDirectory(EXAMPLE);
    const { store } = test.runtime;
    const first = await store.transaction((scope) => importHistory(scope, history, 'test'));
    expect(first.incidents.created).toBe(history.incidents.length);
    expect(first.changes.created).toBe(history.changes.length);
    const again = await store.transaction((scope) => importHistory(scope, history, 'test'));
    expect(again).toEqual({
      incidents: { created: 0, existing: history.incidents.length },
      changes: { created: 0, existing: history.changes.length },
    });

    const resolved = await store.incidents.list({ status: ['RESOLVED'], limit: 500 });
    expect(resolved).toHaveLength(history.incidents.length);
    const entry = history.incidents[0]!;
    const incident = resolved.find((item) => item.correlationKey === `history:${entry.key}`)!;
    expect(incident).toMatchObject({
      title: entry.title,
      severity: entry.severity,
      rootCause: entry.root_cause,
      resolution: entry.resolution,
      signalCount: entry.signals.length,
    });
    expect(
      (await store.signals.getMany(await store.incidents.signalIds(incident.id))).every(
        (signal) => signal.status === 'resolved',
      ),
    ).toBe(true);
    expect(await verifyChain(store, incident.id)).toMatchObject({ valid: true });
    // Imported history never holds an active correlation key, so new alerts open fresh incidents.
    expect(await store.incidents.findActive([`history:${entry.key}`])).toEqual([]);
  });

  it('names the entry and field when a file is invalid', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'opx-history-'));
    try {
      writeFileSync(
        path.join(dir, 'changes.yaml'),
        '- key: a\n  kind: teleport\n  service: x\n  summary: y\n  started_at: 2026-01-01T00:00:00Z\n',
      );
      writeFileSync(path.join(dir, 'incidents.yaml'), '[]\n');
      expect(() => readHistoryDirectory(dir)).toThrow(/changes\.yaml: \[0\]\.kind/);
      rmSync(path.join(dir, 'changes.yaml'));
      expect(() => readHistoryDirectory(dir)).toThrow(/cannot read .*changes\.yaml/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
