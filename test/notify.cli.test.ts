import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Receivers, startReceivers } from './receivers.js';
import { freshStore, REPO_ROOT } from './support.js';

const BIN = path.join(REPO_ROOT, 'bin', 'opx.js');
const HMAC = 'notify-cli-test-hmac-secret-0123456789';

describe('opx notify', () => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let receivers: Receivers;
  let file: string;
  const opx = (args: string[], extra: Record<string, string> = {}) =>
    spawnSync(process.execPath, [BIN, 'notify', ...args], {
      env: { ...process.env, ...store.env, ...extra },
      encoding: 'utf8',
    });
  /** For commands that call the receivers, which run in this process: spawnSync would block them. */
  const opxAsync = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'notify', ...args], {
        env: { ...process.env, ...store.env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
      });
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  beforeAll(async () => {
    store = await freshStore('sqlite', 'opx-notify-cli-admin-token-0123456789', 'notify-cli');
    receivers = await startReceivers({ webhookSecret: HMAC });
    file = path.join(store.dataDir, 'notifications.yaml');
    writeFileSync(
      file,
      `channels:
  - name: hook
    type: webhook
    secret: { url: "\${HOOK_URL}", hmacSecret: "${HMAC}" }
  - name: chat
    type: slack
    secret: { url: "${receivers.url}/slack/T1/B1/topsecretpart" }
routes:
  - name: payments
    match: { services: [payments-api], severities: [SEV1, SEV2] }
    channels: [hook, chat]
`,
    );
  });
  afterAll(async () => {
    await receivers.close();
    await store.cleanup();
  });

  it('imports a file by name, with secrets from the environment, and names what is missing', () => {
    const missing = opx(['import', file]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('channels[0].secret.url: the environment variable HOOK_URL is not set');
    const env = { HOOK_URL: `${receivers.url}/webhook/cli` };
    const first = opx(['import', file], env);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toBe('channel hook: created\nchannel chat: created\nroute payments: created\n');
    const again = opx(['import', file], env);
    expect(again.stdout).toBe('channel hook: updated\nchannel chat: updated\nroute payments: updated\n');
    const broken = path.join(store.dataDir, 'broken.yaml');
    writeFileSync(broken, 'routes:\n  - name: x\n    channels: []\n');
    const refused = opx(['import', broken]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('routes[0].channels');
  });

  it('lists channels without their secrets, and routes', () => {
    for (const args of [['channels'], ['--json', 'channels']]) {
      const listed = spawnSync(
        process.execPath,
        [BIN, ...(args[0] === '--json' ? ['--json', 'notify', 'channels'] : ['notify', 'channels'])],
        {
          env: { ...process.env, ...store.env },
          encoding: 'utf8',
        },
      );
      expect(listed.status, listed.stderr).toBe(0);
      expect(listed.stdout).toContain('hook');
      expect(listed.stdout).not.toContain('topsecretpart');
      expect(listed.stdout).not.toContain('/webhook/cli');
    }
    const routes = opx(['routes']);
    expect(routes.stdout).toContain('payments');
    expect(routes.stdout).toContain('hook,chat');
  });

  it('tests a route: a sample through each channel, a warning when nothing matched, exit 1 when a channel refused', async () => {
    const sent = await opxAsync(['test', 'payments']);
    expect(sent.status, sent.stderr).toBe(0);
    expect(sent.stdout).toContain('route payments: matches 0 of the last 0 incidents');
    expect(sent.stdout).toMatch(/sent hook \(200\)/);
    expect(sent.stdout).toMatch(/sent chat \(200\)/);
    expect((receivers.received.webhook.at(-1)!.body as { event: string }).event).toBe('test');
    receivers.failNext('slack', [{ status: 404, body: 'no_service' }]);
    const failed = await opxAsync(['test', 'payments']);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain('FAILED chat (404): slack answered 404 no_service');
    expect(failed.stdout).not.toContain('topsecretpart');
    expect(opx(['test', 'no-such-route']).stderr).toContain('no notification route no-such-route');
  });

  it('refuses to delete a channel a route uses; deletes the route, then the channel', () => {
    const refused = opx(['remove', 'channel', 'chat']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('channel chat is used by route payments');
    expect(opx(['remove', 'route', 'payments']).stdout).toBe('route payments deleted\n');
    expect(opx(['remove', 'channel', 'chat']).stdout).toBe('channel chat deleted\n');
    expect(opx(['remove', 'thing', 'chat']).status).not.toBe(0);
    const deliveries = opx(['deliveries']);
    expect(deliveries.status, deliveries.stderr).toBe(0);
  });
});
