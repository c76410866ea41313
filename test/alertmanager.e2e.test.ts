import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  findAlertmanager,
  type RunningAlertmanager,
  startAlertmanager,
} from '../bench/support/alertmanager.js';
import { alertFingerprint } from '../src/ingest/adapters/prometheus.js';
import { REPO_ROOT, type TestServer, testServer } from './support.js';

const BINARY = findAlertmanager();
const MISSING =
  'no Alertmanager binary (looked at $OPX_ALERTMANAGER_BIN, /usr/bin/prometheus-alertmanager and PATH)';

/** CI=false or CI=0 is how some setups say "not CI"; any other value means CI. */
const IN_CI = !['', '0', 'false'].includes((process.env.CI ?? '').toLowerCase());

const POLL_EVERY_MS = 200;
const POLL_TIMEOUT_MS = 20_000;

const LABELS = {
  alertname: 'CheckoutErrorRate',
  service: 'checkout-service',
  severity: 'critical',
  env: 'production',
  instance: 'checkout-7f9c4:8080',
};

describe('a real Alertmanager on the wiring example delivering to OPX through its webhook', () => {
  let server: TestServer | undefined;
  let alertmanager: RunningAlertmanager | undefined;
  let tokenDirectory: string | undefined;

  beforeAll(async () => {
    if (!BINARY) return;
    server = await testServer('sqlite');
    // The wiring example as shipped, with what a user replaces (OPX's address, the token file) and,
    // so a notification and the resolve after it arrive within the test, one-second grouping.
    tokenDirectory = mkdtempSync(path.join(os.tmpdir(), 'opx-am-token-'));
    const tokenFile = path.join(tokenDirectory, 'opx.token');
    writeFileSync(tokenFile, server.tokens.ingest, { mode: 0o600 });
    const config = parseYaml(
      readFileSync(path.join(REPO_ROOT, 'examples', 'wiring', 'alertmanager.yml'), 'utf8')
        .replaceAll('http://opx.example.internal:8080', server.baseUrl)
        .replaceAll('/etc/alertmanager/opx.token', tokenFile),
    ) as { route: Record<string, unknown> };
    Object.assign(config.route, { group_wait: '1s', group_interval: '1s' });
    alertmanager = await startAlertmanager({ binary: BINARY, config });
  });

  afterAll(async () => {
    try {
      await alertmanager?.stop();
    } finally {
      await server?.cleanup();
      if (tokenDirectory) rmSync(tokenDirectory, { recursive: true, force: true });
    }
  });

  /** Polls until `probe` returns a value; on timeout the error carries Alertmanager's log. */
  async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + POLL_TIMEOUT_MS;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() >= deadline) {
        throw new Error(
          `no ${what} after ${POLL_TIMEOUT_MS} ms; Alertmanager printed:\n${alertmanager?.process.output() || '(nothing)'}`,
        );
      }
      await sleep(POLL_EVERY_MS);
    }
  }

  async function postToAlertmanager(alerts: unknown[]): Promise<void> {
    const response = await fetch(`${alertmanager!.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
    });
    expect(response.status, await response.text()).toBe(200);
  }

  it('opens an incident for a critical alert, keeps its fingerprint, and resolves the signal', async (context) => {
    if (!BINARY) {
      // CI must run this test, so a missing binary there is a broken setup, not a reason to skip.
      if (IN_CI) {
        throw new Error(`${MISSING}: .ci/run should install it (apt-get install -y prometheus-alertmanager)`);
      }
      const reason = `${MISSING}; install prometheus-alertmanager to run this test`;
      // The default reporter does not print skip notes.
      console.warn(`skipping: ${reason}`);
      context.skip(reason);
    }
    const api = server!;
    // Started a minute ago, so the resolve below can end after the start, as Alertmanager requires.
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const alert = {
      labels: LABELS,
      annotations: { summary: 'checkout-service answers 7% of requests with 5xx' },
      startsAt,
      generatorURL: 'http://prometheus.test:9090/graph?g0.expr=checkout_errors',
    };
    await postToAlertmanager([alert]);

    const filter = new URLSearchParams({ filter: `service="${LABELS.service}"` });
    const listed = await fetch(`${alertmanager!.url}/api/v2/alerts?${filter}`);
    const alertmanagerAlerts = (await listed.json()) as { fingerprint: string }[];
    expect(alertmanagerAlerts).toHaveLength(1);
    const fingerprint = alertmanagerAlerts[0]!.fingerprint;
    // OPX computes the same value for alerts Prometheus posts directly, so both paths dedup together.
    expect(alertFingerprint(LABELS)).toBe(fingerprint);

    const incidents = await eventually('incident for checkout-service', async () => {
      const response = await api.request('GET', `/v1/incidents?service=${LABELS.service}`);
      expect(response.status, response.text).toBe(200);
      return response.json.items.length > 0
        ? (response.json.items as { id: string; services: string[] }[])
        : undefined;
    });
    expect(incidents).toHaveLength(1);
    expect(incidents[0]!.services).toEqual([LABELS.service]);

    const detail = await api.request('GET', `/v1/incidents/${incidents[0]!.id}`);
    expect(detail.status, detail.text).toBe(200);
    expect(detail.json.signals).toHaveLength(1);
    expect(detail.json.signals[0]).toMatchObject({
      source: 'alertmanager',
      fingerprint,
      status: 'firing',
      service: LABELS.service,
      severity: 'critical',
    });

    await postToAlertmanager([{ ...alert, endsAt: new Date(Date.now() - 1000).toISOString() }]);
    const resolved = await eventually('resolved signal', async () => {
      const response = await api.request('GET', `/v1/incidents/${incidents[0]!.id}`);
      const signals = response.json.signals as { status: string }[];
      return signals.every((signal) => signal.status === 'resolved') ? signals : undefined;
    });
    // The resolve closed the signal it fired as; it did not add a second one.
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ fingerprint, status: 'resolved' });
  });
});
