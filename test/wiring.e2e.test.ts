import { accessSync, constants, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ManagedProcess, waitForHttp } from '../bench/support/processes.js';
import { REPO_ROOT, type TestServer, testServer } from './support.js';

const WIRING = path.join(REPO_ROOT, 'examples', 'wiring');

/** $OPX_PROMETHEUS_BIN, else `prometheus` on PATH (Debian's `prometheus` package; .ci/run installs it). */
function findPrometheus(): string | undefined {
  const candidates = [
    process.env.OPX_PROMETHEUS_BIN,
    ...(process.env.PATH ?? '').split(path.delimiter).map((directory) => path.join(directory, 'prometheus')),
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; try the next.
    }
  }
  return undefined;
}

/**
 * The example Prometheus configuration with what a user replaces: OPX's address, the token file, the
 * self-scrape address; and, so the test takes seconds, the scrape and evaluation intervals.
 */
function prometheusConfig(opx: string, tokenFile: string, self: string): string {
  const text = readFileSync(path.join(WIRING, 'prometheus.yml'), 'utf8');
  const replaced = text
    .replaceAll('opx.example.internal:8080', opx)
    .replaceAll('/etc/prometheus/opx.token', tokenFile)
    .replaceAll("'localhost:9090'", `'${self}'`)
    .replace('scrape_interval: 15s', 'scrape_interval: 1s')
    .replace('evaluation_interval: 15s', 'evaluation_interval: 1s');
  for (const original of ['opx.example.internal', '/etc/prometheus', 'localhost:9090', ': 15s'])
    expect(replaced, `the example's ${original} was not replaced`).not.toContain(original);
  return replaced;
}

describe('the Prometheus wiring example against opx serve', () => {
  const binary = findPrometheus();
  let server: TestServer;
  let directory: string;
  let prometheus: ManagedProcess | undefined;
  let prometheusUrl: string;

  beforeAll(async () => {
    if (!binary)
      throw new Error('no prometheus binary on PATH or in $OPX_PROMETHEUS_BIN: .ci/run installs it');
    server = await testServer('sqlite');
    directory = mkdtempSync(path.join(os.tmpdir(), 'opx-wiring-'));
    const tokenFile = path.join(directory, 'opx.token');
    writeFileSync(tokenFile, server.tokens.ingest, { mode: 0o600 });
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      path.join(directory, 'prometheus.yml'),
      prometheusConfig(new URL(server.baseUrl).host, tokenFile, `127.0.0.1:${port}`),
    );
    // The example's rules as shipped, and one the test adds through the same glob: Prometheus
    // scraping itself is up, so it fires at the first evaluation.
    cpSync(path.join(WIRING, 'rules'), path.join(directory, 'rules'), { recursive: true });
    writeFileSync(
      path.join(directory, 'rules', 'wiring-check.yml'),
      [
        'groups:',
        '  - name: wiring-check',
        '    rules:',
        '      - alert: WiringCheck',
        '        expr: up{job="prometheus"} == 1',
        '        labels: { severity: critical, env: wiring }',
        "        annotations: { summary: 'Prometheus reaches OPX' }",
        '',
      ].join('\n'),
    );
    prometheus = new ManagedProcess(
      'prometheus',
      binary,
      [
        `--config.file=${path.join(directory, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(directory, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--rules.alert.resend-delay=1s',
        '--log.level=warn',
      ],
      { cwd: directory },
    );
    await waitForHttp(`${prometheusUrl}/-/ready`, prometheus);
  });

  afterAll(async () => {
    try {
      await prometheus?.stop('SIGTERM', 5000);
    } finally {
      await server?.cleanup();
      if (directory) rmSync(directory, { recursive: true, force: true });
    }
  });

  it('loads the example rules and sends a firing alert to OPX, which opens an incident for its service', async () => {
    const rules = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as {
      data: { groups: { name: string; rules: { name: string; health: string }[] }[] };
    };
    const loaded = rules.data.groups.flatMap((group) => group.rules.map((rule) => [rule.name, rule.health]));
    expect(loaded.map(([name]) => name).sort()).toEqual([
      'HighErrorRate',
      'HighLatencyP99',
      'TargetDown',
      'WiringCheck',
    ]);

    let signal: Record<string, unknown> | undefined;
    const deadline = Date.now() + 30_000;
    while (!signal && Date.now() < deadline) {
      const response = await server.request('GET', '/v1/signals?service=prometheus', {
        token: server.tokens.read,
      });
      signal = (response.json.items as Record<string, unknown>[]).find(
        (item) => (item.labels as Record<string, string>).alertname === 'WiringCheck',
      );
      if (!signal) await sleep(250);
    }
    expect(signal, `no alert reached OPX; Prometheus printed:\n${prometheus?.output()}`).toBeDefined();
    expect(signal).toMatchObject({
      source: 'prometheus',
      service: 'prometheus',
      environment: 'wiring',
      severity: 'critical',
      status: 'firing',
      title: 'Prometheus reaches OPX',
    });
    const incidents = await server.request('GET', '/v1/incidents?service=prometheus', {
      token: server.tokens.read,
    });
    expect(incidents.json.items).toHaveLength(1);
    // Authenticated as the token in the file, not as anyone else.
    const audit = await server.request('GET', '/v1/audit?principal=token:test-ingest');
    expect(
      (audit.json.items as { action: string }[]).some((entry) => entry.action.includes('/api/v2/alerts')),
    ).toBe(true);
  });
});
