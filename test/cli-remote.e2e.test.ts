import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, REPO_ROOT, type TestServer, testServer } from './support.js';

const BIN = path.join(REPO_ROOT, 'bin', 'opx.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in a child process (asynchronously: the server it talks to lives in this one). */
function opx(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          OPX_ADMIN_TOKEN: '',
          OPX_DATABASE_URL: '',
          OPX_SERVER: '',
          OPX_TOKEN: '',
          ...env,
        },
        encoding: 'utf8',
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** One line, no stack: what a wrong URL or token must give. */
function oneLine(run: Run): string {
  const lines = run.stderr.trim().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

describe.each(BACKENDS)('the CLI as a client of a running OPX (%s)', (backend) => {
  let server: TestServer;
  let scratch: string;
  let incidentId: string;
  /** The CLI against the server with a token; the data dir it would use locally does not exist. */
  const remote = (token: string, ...args: string[]) =>
    opx(['--server', server.baseUrl, '--token', token, ...args], {
      OPX_DATA_DIR: path.join(scratch, 'no-such-store'),
    });

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'opx-cli-remote-'));
    server = await testServer(backend);
    const response = await server.request('POST', '/v1/signals', {
      token: server.tokens.ingest,
      body: {
        source: 'generic',
        service: 'checkout-api',
        environment: `remote-cli-${backend}`,
        severity: 'critical',
        title: 'checkout 5xx above 20%',
        labels: { alertname: 'HighErrorRate' },
      },
    });
    expect(response.status, response.text).toBe(200);
    incidentId = response.json.signals[0].incidentIds[0];
  });
  afterAll(async () => {
    await server.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('reads incidents with a read token, and cannot change them with it', async () => {
    const list = await remote(server.tokens.read, 'incidents', 'list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(incidentId);
    const shown = await remote(server.tokens.read, '--json', 'incidents', 'show', incidentId);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      incident: { id: incidentId },
      signals: [{ service: 'checkout-api' }],
    });
    const events = await remote(server.tokens.read, 'incidents', 'events', incidentId);
    expect(events.stdout).toContain('created');
    const verified = await remote(server.tokens.read, 'incidents', 'verify', incidentId);
    expect(verified.stdout).toMatch(/chain intact: \d+ events verified/);

    const resolve = await remote(server.tokens.read, 'incidents', 'resolve', incidentId, '--root-cause', 'x');
    expect(resolve.code).toBe(2);
    expect(oneLine(resolve)).toMatch(
      /^error: POST \/v1\/incidents\/.+\/resolve: the token may not do this: .+\[forbidden\]$/,
    );
    const { incident } = (await server.request('GET', `/v1/incidents/${incidentId}`)).json;
    expect(incident.status).not.toBe('RESOLVED');
  });

  it('an ingest token cannot read', async () => {
    const list = await remote(server.tokens.ingest, 'incidents', 'list');
    expect(list.code).toBe(2);
    expect(oneLine(list)).toContain('the token may not do this');
  });

  it('responds with a respond token, recorded under that token, not the local user', async () => {
    const ack = await remote(server.tokens.respond, 'incidents', 'ack', incidentId, '--reason', 'on it');
    expect(ack.code, ack.stderr).toBe(0);
    expect(ack.stdout).toBe(`${incidentId} is now ACKNOWLEDGED\n`);
    const severity = await remote(
      server.tokens.respond,
      'incidents',
      'severity',
      incidentId,
      'sev1',
      '--reason',
      'all checkouts',
    );
    expect(severity.stdout).toBe(`${incidentId} is now SEV1\n`);
    const note = await remote(
      server.tokens.respond,
      'incidents',
      'note',
      incidentId,
      'rolled',
      'back',
      '4.2.0',
    );
    expect(note.stdout).toMatch(new RegExp(`^note #\\d+ added to ${incidentId}\\n$`));

    const events = (await server.request('GET', `/v1/incidents/${incidentId}/events`)).json.items as {
      type: string;
      principal: string;
      data: Record<string, unknown>;
    }[];
    const byType = (type: string) => events.filter((event) => event.type === type).at(-1)!;
    expect(byType('status_changed')).toMatchObject({
      principal: 'token:test-respond',
      data: { to: 'ACKNOWLEDGED' },
    });
    expect(byType('severity_changed')).toMatchObject({
      principal: 'token:test-respond',
      data: { to: 'SEV1' },
    });
    expect(byType('note_added')).toMatchObject({
      principal: 'token:test-respond',
      data: { text: 'rolled back 4.2.0' },
    });

    const audit = await remote(server.tokens.admin, '--json', 'audit', '--principal', 'token:test-respond');
    expect(audit.code, audit.stderr).toBe(0);
    const actions = (JSON.parse(audit.stdout) as { action: string }[]).map((entry) => entry.action);
    expect(actions.some((action) => action.endsWith('/acknowledge'))).toBe(true);
    const forbidden = await remote(server.tokens.read, 'audit');
    expect(forbidden.code).toBe(2);
  });

  it('investigates, shows, replays and decides remotely', async () => {
    const run = await remote(server.tokens.respond, 'investigate', incidentId);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^investigation inv_/);
    const shown = await remote(server.tokens.read, '--json', 'investigate', 'show', incidentId);
    const { investigation, recommendations } = JSON.parse(shown.stdout);
    expect(investigation.status).toBe('completed');
    expect(recommendations.length).toBeGreaterThan(0);
    const checkpoints = await remote(server.tokens.read, 'investigate', 'show', incidentId, '--checkpoints');
    expect(checkpoints.code).toBe(2);
    expect(oneLine(checkpoints)).toContain('run it without --server');

    const replay = await remote(server.tokens.respond, 'replay', incidentId);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain('IDENTICAL');

    const first = recommendations[0].id as string;
    const refused = await remote(server.tokens.read, 'approve', first, '--reason', 'looks right');
    expect(refused.code).toBe(2);
    const approved = await remote(server.tokens.respond, 'approve', first, '--reason', 'looks right');
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain(`${first} approved`);
    const decided = (
      await server.request('GET', `/v1/incidents/${incidentId}/recommendations`)
    ).json.items.find((item: { id: string }) => item.id === first);
    expect(decided).toMatchObject({ status: 'approved', decidedBy: 'token:test-respond' });
  });

  it('searches the knowledge base and reads costs and alarms with a read token', async () => {
    for (const args of [['kb', 'search', '--alert', 'HighErrorRate'], ['costs'], ['alarms']]) {
      const result = await remote(server.tokens.read, ...args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
  });

  it('gives one clear line for a wrong URL, a wrong token or a missing token, and refuses local-only commands', async () => {
    // A port nothing listens on: taken from the OS, then let go.
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const down = await opx(['--server', `http://127.0.0.1:${closed}`, '--token', 'x', 'incidents', 'list']);
    expect(down.code).toBe(1);
    expect(oneLine(down)).toBe(
      'error: cannot reach the server: connection refused (is opx serve running there?)',
    );
    const badToken = await remote('opx_not-a-real-token', 'incidents', 'list');
    expect(badToken.code).toBe(2);
    expect(oneLine(badToken)).toContain('the token was not accepted');
    const noToken = await opx(['--server', server.baseUrl, 'incidents', 'list']);
    expect(oneLine(noToken)).toContain('--server needs a token');
    const noScheme = await opx(['--server', 'localhost:8080', '--token', 'x', 'incidents', 'list']);
    expect(oneLine(noScheme)).toContain('must be an http:// or https:// URL');
    const fromEnv = await opx(['incidents', 'list'], {
      OPX_SERVER: server.baseUrl,
      OPX_TOKEN: server.tokens.read,
    });
    expect(fromEnv.stdout).toContain(incidentId);
    const local = await remote(server.tokens.admin, 'kb', 'import', scratch);
    expect(local.code).toBe(2);
    expect(oneLine(local)).toContain('`opx kb import` works on the store directly and has no remote form');
  });

  it('locally, refuses a data directory that does not exist instead of creating an empty store', async () => {
    const missing = path.join(scratch, 'typo');
    const result = await opx(['--data-dir', missing, 'incidents', 'list']);
    expect(result.code).toBe(2);
    expect(oneLine(result)).toContain(`no OPX store at ${missing}`);
  });
});
