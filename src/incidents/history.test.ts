import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store/store.js';
import { importHistory, readHistoryDirectory } from './history.js';
import { verifyChain } from './service.js';

let directory: string;
let store: Store;

const CHANGES = `- key: deploy-1
  kind: deploy
  service: checkout
  environment: prod
  version_to: "4.2.0"
  summary: checkout 4.2.0
  started_at: 2026-03-01T10:00:00Z
`;
const INCIDENTS = `- key: 2026-03-01-checkout
  title: "checkout: 5xx after 4.2.0"
  severity: SEV2
  services: [checkout, web]
  environment: prod
  started_at: 2026-03-01T10:05:00Z
  detected_at: 2026-03-01T10:06:00Z
  resolved_at: 2026-03-01T10:40:00Z
  root_cause: a connection pool too small for 4.2.0's fan-out
  resolution: rolled back to 4.1.9
  signals:
    - { alertname: HighErrorRate, service: checkout, severity: critical, offset_seconds: 0 }
    - { alertname: HighErrorRate, service: web, severity: error, offset_seconds: 60 }
`;

beforeEach(async () => {
  directory = mkdtempSync(path.join(os.tmpdir(), 'opx-history-'));
  store = await openStore(':memory:');
  await store.migrate();
});
afterEach(async () => {
  await store.close();
  rmSync(directory, { recursive: true, force: true });
});

function write(changes: string, incidents: string) {
  writeFileSync(path.join(directory, 'changes.yaml'), changes);
  writeFileSync(path.join(directory, 'incidents.yaml'), incidents);
}

describe('history import', () => {
  it('loads a past incident as RESOLVED, with its signals, root cause and a chain that verifies; twice is once', async () => {
    write(CHANGES, INCIDENTS);
    const history = readHistoryDirectory(directory);
    const first = await store.transaction((scope) => importHistory(scope, history, 'test'));
    expect(first).toEqual({ incidents: { created: 1, existing: 0 }, changes: { created: 1, existing: 0 } });
    const [incident] = await store.incidents.list({ limit: 10, status: ['RESOLVED'] });
    expect(incident).toMatchObject({
      status: 'RESOLVED',
      severity: 'SEV2',
      services: ['checkout', 'web'],
      signalCount: 2,
      rootCause: "a connection pool too small for 4.2.0's fan-out",
      resolution: 'rolled back to 4.1.9',
    });
    expect((await store.transaction((scope) => verifyChain(scope, incident!.id))).valid).toBe(true);
    const again = await store.transaction((scope) => importHistory(scope, history, 'test'));
    expect(again).toEqual({ incidents: { created: 0, existing: 1 }, changes: { created: 0, existing: 1 } });
  });

  it('refuses a file with a bad entry before anything is written, naming the file and the field', () => {
    write(CHANGES, INCIDENTS.replace('severity: SEV2', 'severity: SEV9'));
    let thrown: unknown;
    try {
      readHistoryDirectory(directory);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'invalid_request', path: '[0].severity' });
    expect((thrown as Error).message).toContain('incidents.yaml');
  });
});
