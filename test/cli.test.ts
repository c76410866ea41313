import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, REPO_ROOT } from './support.js';

const BIN = path.join(REPO_ROOT, 'bin', 'opx.js');

function opx(args: string[], options: { cwd?: string; input?: string; env?: Record<string, string> } = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    input: options.input,
    encoding: 'utf8',
    env: { ...process.env, OPX_ADMIN_TOKEN: '', OPX_DATABASE_URL: '', ...options.env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('opx CLI on a SQLite data dir', () => {
  let dir: string;
  let data: (...args: string[]) => string[];
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'opx-cli-'));
    data = (...args) => ['--data-dir', path.join(dir, 'data'), ...args];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('migrates, and a second migrate is a no-op', () => {
    const first = opx(data('migrate'));
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('applied migrations 0000');
    expect(first.stdout).toContain('installed 6 default rules');
    const second = opx(data('migrate'));
    expect(second.stdout).toContain('schema already current');
  });

  it('imports a runbook repo as published, names the files it cannot read, and exits 1 for them', () => {
    const kb = path.join(dir, 'runbooks');
    mkdirSync(path.join(kb, 'node'), { recursive: true });
    writeFileSync(path.join(kb, 'README.md'), '# Runbooks\nHow this repo works.');
    writeFileSync(
      path.join(kb, 'node', 'NodeClockNotSynchronising.md'),
      '---\ntitle: NodeClockNotSynchronising\nweight: 3\n---\n## Meaning\nThe clock drifts.\n',
    );
    writeFileSync(path.join(kb, 'node', 'latin1.md'), Buffer.from('# Caf\xe9\n', 'latin1'));
    const result = opx(data('kb', 'import', kb));
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('1 new, 0 updated, 0 unchanged');
    expect(result.stdout).toContain('ignored README.md');
    expect(result.stderr).toContain('skipped node/latin1.md: not UTF-8 text');
    const search = opx(data('--json', 'kb', 'search', '--alert', 'NodeClockNotSynchronising', 'clock'));
    expect(search.code).toBe(0);
    expect(JSON.parse(search.stdout)[0]).toMatchObject({
      path: 'node/NodeClockNotSynchronising.md',
      kind: 'runbook',
    });
    // Keys OPX does not read are kept with the document, not refused.
    const list = opx(data('--json', 'kb', 'list'));
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ path: 'node/NodeClockNotSynchronising.md', frontMatter: { weight: 3 } }),
    ]);
  });

  it('stops quietly when the reader of its output goes away', () => {
    // `true` exits without reading: every write after that meets a closed pipe.
    const piped = spawnSync(
      'bash',
      [
        '-c',
        `set -o pipefail; "${process.execPath}" "${BIN}" --data-dir "$1" --json kb list | true`,
        'opx',
        path.join(dir, 'data'),
      ],
      { encoding: 'utf8', env: { ...process.env, OPX_DATABASE_URL: '' } },
    );
    expect(piped.stderr).not.toContain('EPIPE');
    expect(piped.status, piped.stderr).toBe(0);
  });

  it('ingests a real Alertmanager payload from a file and from stdin, then walks the incident', () => {
    const file = path.join(FIXTURES, 'payloads', 'alertmanager-0.25-webhook-firing.json');
    const ingest = opx(data('--json', 'ingest', '--format', 'alertmanager', file));
    expect(ingest.code).toBe(0);
    const result = JSON.parse(ingest.stdout);
    expect(result.incidentsCreated).toHaveLength(1);
    const id = result.incidentsCreated[0] as string;

    const resolved = opx(data('ingest', '--format', 'alertmanager', '-'), {
      input: JSON.stringify(
        JSON.parse(
          spawnSync('cat', [path.join(FIXTURES, 'payloads', 'alertmanager-0.25-webhook-resolved.json')], {
            encoding: 'utf8',
          }).stdout,
        ),
      ),
    });
    expect(resolved.code).toBe(0);
    expect(resolved.stdout).toContain('resolved');

    const list = JSON.parse(opx(data('--json', 'incidents', 'list', '--service', 'api-gateway')).stdout);
    expect(list.map((incident: { id: string }) => incident.id)).toEqual([id]);
    expect(opx(data('incidents', 'show', id)).stdout).toContain('api-gateway');
    expect(opx(data('incidents', 'ack', id)).stdout).toContain('ACKNOWLEDGED');
    expect(opx(data('incidents', 'note', id, 'rolled', 'back', 'gateway')).code).toBe(0);
    expect(
      opx(data('incidents', 'resolve', id, '--root-cause', 'bad deploy', '--resolution', 'rollback')).stdout,
    ).toContain('RESOLVED');
    const illegal = opx(data('incidents', 'mitigate', id));
    expect(illegal.code).toBe(2);
    expect(illegal.stderr).toContain('cannot move to MITIGATED');
    const verify = opx(data('incidents', 'verify', id));
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/chain intact: \d+ events verified/);
    const events = JSON.parse(opx(data('--json', 'incidents', 'events', id)).stdout);
    expect(events.map((event: { type: string }) => event.type)).toContain('note_added');
  });

  it('explains bad input instead of failing obscurely', () => {
    const badFormat = opx(data('ingest', '--format', 'nagios', 'x.json'));
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain('use one of generic, alertmanager');
    const missing = opx(data('ingest', '--format', 'generic', path.join(dir, 'nope.json')));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
    const notJson = opx(data('ingest', '--format', 'generic', '-'), { input: '{"service":' });
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('not valid JSON');
    const badSignal = opx(data('ingest', '--format', 'generic', '-'), {
      input: JSON.stringify({ service: 'x', title: 'y', severity: 'huge' }),
    });
    expect(badSignal.code).toBe(2);
    expect(badSignal.stderr).toContain('severity');
    const badScope = opx(data('tokens', 'create', '--name', 'x', '--scope', 'root'));
    expect(badScope.code).toBe(2);
    expect(badScope.stderr).toContain('unknown scope');
    const unknownIncident = opx(data('incidents', 'show', 'inc_nope'));
    expect(unknownIncident.code).toBe(2);
    expect(unknownIncident.stderr).toContain('no incident inc_nope');
    const redrive = opx(data('jobs', 'redrive', 'job_nope'));
    expect(redrive.code).toBe(2);
    expect(redrive.stderr).toContain('no dead job job_nope');
    expect(opx(data('jobs', 'list', '--status', 'stuck')).stderr).toContain('--status must be one of');
    expect(opx(data('jobs', 'dead')).stdout).toContain('(none)');
    const badEnv = opx(data('incidents', 'list'), { env: { OPX_PORT: 'eighty' } });
    expect(badEnv.code).toBe(1);
    expect(badEnv.stderr).toContain('OPX_PORT');
  });

  it('imports a Backstage catalog, manages rules from YAML files, tokens and changes', () => {
    const imported = opx(
      data('services', 'import', path.join(REPO_ROOT, 'examples', 'topology', 'catalog-info.yaml')),
    );
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/imported \d+ services/);
    const services = JSON.parse(opx(data('--json', 'services', 'list')).stdout);
    expect(services.length).toBeGreaterThanOrEqual(12);

    const ruleFile = path.join(dir, 'rule.yaml');
    writeFileSync(
      ruleFile,
      'name: db-latency\nmatchers:\n  - { field: alertname, op: "=~", value: "Db.*" }\ngroupBy: [service]\nwindowSeconds: 300\nthreshold: { kind: count, value: 2 }\nseverity: SEV3\ntitleTemplate: "{{service}} database latency"\n',
    );
    expect(opx(data('rules', 'create', '--file', ruleFile)).stdout).toContain('created rule db-latency');
    expect(opx(data('rules', 'disable', 'db-latency')).stdout).toContain('version 2');
    const rules = JSON.parse(opx(data('--json', 'rules', 'list')).stdout);
    expect(rules.find((rule: { name: string }) => rule.name === 'db-latency')).toMatchObject({
      enabled: false,
      version: 2,
    });
    const table = opx(data('rules', 'list')).stdout;
    expect(table).toContain('1 signals, firing 300s');
    expect(table).toContain('joins; opens on 2 services');
    writeFileSync(ruleFile, 'name: broken\nwindowSeconds: -5\n');
    const invalidRule = opx(data('rules', 'create', '--file', ruleFile));
    expect(invalidRule.code).toBe(2);
    expect(invalidRule.stderr).toContain('windowSeconds');

    const token = opx(data('tokens', 'create', '--name', 'prom', '--scope', 'ingest'));
    expect(token.stdout).toMatch(/opx_[A-Za-z0-9_-]{28}/);
    expect(
      opx(data('changes', 'add', '--kind', 'deploy', '--service', 'cart-service', '--summary', 'v9')).stdout,
    ).toContain('recorded chg_');
    expect(
      opx(data('changes', 'add', '--kind', 'yolo', '--service', 'cart-service', '--summary', 'v9')).code,
    ).toBe(2);
  });
});

describe('opx serve', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'opx-serve-'));
  });
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function start(): Promise<{ url: string; output: string; process: ChildProcess }> {
    const server = spawn(process.execPath, [BIN, '--data-dir', dir, 'serve', '--port', '0'], {
      env: { ...process.env, OPX_ADMIN_TOKEN: '', OPX_DATABASE_URL: '', OPX_LOG_LEVEL: 'warn' },
    });
    child = server;
    let output = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${output}`)), 20_000);
      server.stdout.on('data', (chunk) => {
        output += String(chunk);
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve({ url: match[1]!, output, process: server });
        }
      });
      server.on('exit', (code) => reject(new Error(`serve exited ${code}: ${output}`)));
    });
  }

  it('prints a generated admin token on first start only, serves health, and drains on SIGTERM', async () => {
    const first = await start();
    const token = /\n\s+(opx_\S+)\n/.exec(first.output)?.[1];
    expect(token).toBeDefined();
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    const unauthorized = await fetch(`${first.url}/v1/incidents`);
    expect(unauthorized.status).toBe(401);
    const authorized = await fetch(`${first.url}/v1/incidents`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(authorized.status).toBe(200);
    const exited = new Promise<number | null>((resolve) => first.process.on('exit', resolve));
    first.process.kill('SIGTERM');
    expect(await exited).toBe(0);

    const second = await start();
    expect(second.output).not.toContain('Generated an admin token');
    const again = await fetch(`${second.url}/v1/incidents`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(again.status).toBe(200);
    second.process.kill('SIGTERM');
  });
});

describe('opx demo', () => {
  it('runs end to end offline and prints the incident as JSON; --clean removes its data', () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'opx-demo-'));
    try {
      const run = opx(['--json', 'demo', '--service', 'checkout-service', '--severity', 'SEV1'], { cwd });
      expect(run.code, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout);
      expect(result.incidentId).toMatch(/^inc_/);
      expect(result.incident).toMatchObject({ severity: 'SEV1', services: ['checkout-service'] });
      expect(result.signals).toHaveLength(3);
      expect(result.chain.valid).toBe(true);
      expect(result.evidence.changes.length).toBeGreaterThan(0);
      expect(result.evidence.pastIncidents).toBeGreaterThan(0);
      expect(result.evidence.knowledgeSections).toBeGreaterThan(0);
      expect(result.findings.map((finding: { agent: string }) => finding.agent)).toHaveLength(6);
      expect(result.recommendations.length).toBeGreaterThan(0);
      expect(result.probableRootCause).toMatchObject({ service: 'checkout-service' });
      // Trust and grounding travel with the investigation and every recommendation.
      expect(result.trust).toMatchObject({ abstain: false, components: { grounding: 1 } });
      expect(result.trust.score).toBeGreaterThan(0.5);
      for (const recommendation of result.recommendations) expect(recommendation.trust).toBeGreaterThan(0);
      for (const finding of result.findings) expect(finding.grounding).toMatchObject({ unsupported: [] });
      expect(result.checkpoints).toBeGreaterThan(0);
      expect(result.replay).toMatchObject({ identical: true });
      expect(run.stderr).toContain('[10/10]');
      expect(result.knowledge.length).toBeGreaterThan(0);
      expect(result.knowledge[0].path).toMatch(/checkout/);
      const demoData = ['--data-dir', path.join(cwd, '.opx', 'demo')];
      const shown = opx([...demoData, '--json', 'investigate', 'show', result.incidentId, '--checkpoints'], {
        cwd,
      });
      expect(shown.code, shown.stderr).toBe(0);
      const checkpoints = JSON.parse(shown.stdout).checkpoints as { investigationId: string }[];
      expect(checkpoints).toHaveLength(result.checkpoints);
      expect(new Set(checkpoints.map((item) => item.investigationId))).toEqual(
        new Set([result.investigationId]),
      );
      const replay = opx([...demoData, 'replay', result.incidentId], { cwd });
      expect(replay.code, replay.stderr).toBe(0);
      expect(replay.stdout).toContain('IDENTICAL');
      const shownText = opx([...demoData, 'investigate', 'show', result.incidentId], { cwd });
      expect(shownText.stdout).toMatch(/^trust 0\.\d\d: grounding 1\.00, agreement/m);
      expect(shownText.stdout).toContain('grounded 1.00');
      const clean = opx(['demo', '--clean'], { cwd });
      expect(clean.stdout).toContain('removed demo data');
      expect(opx(['demo', '--service', 'no-such-service'], { cwd }).stderr).toContain(
        'not in the demo topology',
      );
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('opx demo in LLM mode against opx fake-llm', () => {
  let fake: ChildProcess;
  let url: string;
  beforeAll(async () => {
    fake = spawn(process.execPath, [BIN, 'fake-llm', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      fake.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        const found = /listening on (http:\/\/\S+\/v1)/.exec(out);
        if (found) resolve(found[1]!);
      });
      fake.once('exit', (code) => reject(new Error(`opx fake-llm exited with ${code}: ${out}`)));
    });
  });
  afterAll(() => {
    fake.kill('SIGTERM');
  });

  it("shows each agent's model, tokens and cost, in JSON and in the terminal", () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'opx-demo-llm-'));
    const env = {
      OPX_LLM_PROVIDER: 'openai-compatible',
      OPX_LLM_BASE_URL: url,
      OPX_LLM_MODEL: 'gpt-4.1-mini',
    };
    try {
      const run = opx(['--json', 'demo', '--service', 'checkout-service', '--severity', 'SEV1'], {
        cwd,
        env,
      });
      expect(run.code, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout);
      for (const finding of result.findings)
        expect(finding).toMatchObject({
          engine: { provider: 'openai-compatible', model: 'gpt-4.1-mini' },
          degraded: false,
        });
      expect(result.llm.calls).toBe(6);
      expect(result.llm.agents).toHaveLength(6);
      for (const agent of result.llm.agents) {
        expect(agent).toMatchObject({ model: 'openai-compatible/gpt-4.1-mini', calls: 1, outcome: 'ok' });
        expect(agent.inputTokens).toBeGreaterThan(100);
        expect(agent.outputTokens).toBeGreaterThan(10);
        // gpt-4.1-mini list price: $0.40 per million input tokens, $1.60 output.
        expect(agent.costUsd).toBeCloseTo((agent.inputTokens * 0.4 + agent.outputTokens * 1.6) / 1e6, 8);
      }
      expect(result.llm.inputTokens).toBe(
        result.llm.agents.reduce((sum: number, agent: { inputTokens: number }) => sum + agent.inputTokens, 0),
      );
      expect(result.replay).toMatchObject({ identical: true });

      // opx costs on the demo's store shows the same tokens and cost.
      const demoData = ['--data-dir', path.join(cwd, '.opx', 'demo')];
      const costs = opx([...demoData, '--json', 'costs'], { cwd, env });
      expect(costs.code, costs.stderr).toBe(0);
      const report = JSON.parse(costs.stdout);
      expect(report.total).toMatchObject({
        calls: 6,
        inputTokens: result.llm.inputTokens,
        outputTokens: result.llm.outputTokens,
      });
      expect(report.total.costUsd).toBeCloseTo(result.llm.costUsd, 8);
      expect(report.byModel).toEqual([expect.objectContaining({ model: 'gpt-4.1-mini', calls: 6 })]);
      expect(report.investigations).toMatchObject({ count: 1 });
      expect(report.byIncident).toEqual([
        expect.objectContaining({ incidentId: result.incidentId, calls: 6 }),
      ]);
      const table = opx([...demoData, 'costs'], { cwd, env });
      expect(table.stdout).toContain('== By agent ==');
      expect(table.stdout).toMatch(/change-intelligence .*█/);
      expect(table.stdout).toContain('== Budget (this month, UTC) ==');
      const backwards = opx(
        [...demoData, 'costs', '--since', '2026-03-02T00:00:00Z', '--until', '2026-03-01T00:00:00Z'],
        { cwd, env },
      );
      expect(backwards.code).toBe(2);
      expect(backwards.stderr).toContain('--until must be after --since');

      const text = opx(['demo', '--service', 'checkout-service', '--severity', 'SEV1'], { cwd, env });
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain('== Investigation (language model openai-compatible/gpt-4.1-mini');
      expect(text.stdout).toContain('[change-intelligence · gpt-4.1-mini]');
      expect(text.stdout).toContain('== Language model calls');
      expect(text.stdout).toMatch(/│ total\s+│\s+│ 6\s+│ [\d,]+\s+│ 0\s+│ [\d,]+\s+│ \$0\.\d{6}/);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
