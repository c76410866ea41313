import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate, type TestServer, testServer } from './support.js';

describe('the HTTP edge: secure headers, CORS off by default, per-token rate limit, slow senders', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer('sqlite', { rateLimitPerMinute: 5, requestTimeoutSeconds: 1 });
  });
  afterAll(() => server.cleanup());

  it('sends secure headers and no CORS headers, even to a browser origin', async () => {
    const response = await server.request('GET', '/healthz', {
      token: null,
      headers: { origin: 'https://evil.example' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    // One policy for the API and the web console: nothing unless named, and no inline script or style.
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toContain('unsafe-inline');
    expect(policy).not.toContain('unsafe-eval');
    expect(response.headers.get('strict-transport-security')).toBeNull(); // plain HTTP here
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('limits each token to its requests a minute with 429, Retry-After and the error format, per token', async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<TestServer['request']>> | undefined;
    for (let i = 0; i < 7; i += 1) {
      const response = await server.request('GET', '/v1/incidents', { token: server.tokens.read });
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited!.json).toEqual({
      error: {
        code: 'rate_limited',
        message: expect.stringMatching(/more than 5 requests a minute for this token/),
      },
    });
    // Another token has its own budget.
    expect((await server.request('GET', '/v1/incidents', { token: server.tokens.admin })).status).toBe(200);
  });

  it('drops a client that does not finish sending its request in time', async () => {
    const { port } = new URL(server.baseUrl);
    const closed = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        // Authenticated headers promise a body that never comes.
        socket.write(
          `POST /v1/signals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.tokens.ingest}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`,
        );
      });
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk.toString('utf8');
      });
      socket.on('close', () => resolve(answer));
    });
    expect(closed).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('failed authentication, token names and credential parsing', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer('sqlite', { authFailuresPerMinute: 5, rateLimitPerMinute: 3 });
  });
  afterAll(() => server.cleanup());

  it('answers 429 to an address past its failed authentications, whatever the credential, and counts no success', async () => {
    // Successes never count.
    for (let i = 0; i < 3; i += 1)
      expect((await server.request('GET', '/v1/incidents', { token: server.tokens.admin })).status).toBe(200);
    const statuses: number[] = [];
    for (const token of ['opx_bad_1', null, 'opx_bad_2']) {
      statuses.push((await server.request('GET', '/v1/incidents', { token })).status);
    }
    // A wrong PagerDuty routing key and a bad bearer token on ingest count the same.
    const enqueue = (routingKey: string) =>
      server.request('POST', '/v2/enqueue', {
        token: null,
        body: {
          routing_key: routingKey,
          event_action: 'trigger',
          payload: { summary: 'guess', source: 'x', severity: 'error' },
        },
      });
    statuses.push((await enqueue('not-a-routing-key')).status);
    statuses.push((await server.request('POST', '/v1/signals', { token: 'opx_bad_3', body: {} })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);

    const limited = await enqueue('another-guess');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.json.error).toMatchObject({ code: 'rate_limited' });
    expect(limited.json.error.message).toContain('too many failed authentications from this address');
    // For the rest of the minute the address is refused before its credentials are read.
    expect((await server.request('GET', '/v1/incidents', { token: server.tokens.admin })).status).toBe(429);
  });
});

describe('token names and the Authorization header', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer('sqlite');
  });
  afterAll(() => server.cleanup());

  it('refuses a second live token of one name, and takes the name again once the first is revoked', async () => {
    const first = await server.request('POST', '/v1/tokens', { body: { name: 'grafana', scopes: ['read'] } });
    expect(first.status).toBe(201);
    const again = await server.request('POST', '/v1/tokens', {
      body: { name: 'grafana', scopes: ['ingest'] },
    });
    expect(again.status).toBe(409);
    expect(again.json.error).toMatchObject({ code: 'conflict', path: 'name' });
    expect(again.json.error.message).toContain('opx tokens revoke grafana');
    expect((await server.request('DELETE', `/v1/tokens/${first.json.id}`)).status).toBe(200);
    expect(
      (await server.request('POST', '/v1/tokens', { body: { name: 'grafana', scopes: ['read'] } })).status,
    ).toBe(201);
  });

  it('reads "Bearer" followed by more than one space, and tabs, as the token', async () => {
    for (const header of [`Bearer  ${server.tokens.admin}`, `bearer\t${server.tokens.admin} `]) {
      const response = await server.request('GET', '/v1/rules', {
        token: null,
        headers: { authorization: header },
      });
      expect(response.status).toBe(200);
    }
    const missing = await server.request('GET', '/v1/rules', {
      token: null,
      headers: { authorization: 'Bearer   ' },
    });
    expect(missing.status).toBe(401);
    expect(missing.json.error.message).toContain('missing credentials');
  });
});

describe('per-token budgets', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer('sqlite', { rateLimitPerMinute: 3 });
  });
  afterAll(() => server.cleanup());

  it('gives tokens that share a name (made before names were unique) a budget each', async () => {
    const { createToken } = await import('../src/auth/tokens.js');
    const one = (await createToken(server.runtime.store, 'legacy-a', ['read'])).token;
    const other = (await createToken(server.runtime.store, 'legacy-b', ['read'])).token;
    // Give the second the first one's name, as an older release allowed.
    await server.runtime.store.db
      .updateTable('api_tokens')
      .set({ name: 'legacy-a' })
      .where('name', '=', 'legacy-b')
      .execute();
    const statuses = async (token: string) => {
      const out: number[] = [];
      for (let i = 0; i < 4; i += 1)
        out.push((await server.request('GET', '/v1/incidents', { token })).status);
      return out;
    };
    expect(await statuses(one)).toEqual([200, 200, 200, 429]);
    expect(await statuses(other)).toEqual([200, 200, 200, 429]);
  });
});

describe('CORS for configured origins only', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer('sqlite', { corsOrigins: ['https://console.example'] });
  });
  afterAll(() => server.cleanup());

  it('answers a preflight from a configured origin, and nothing to another', async () => {
    const allowed = await server.request('OPTIONS', '/v1/incidents', {
      token: null,
      headers: { origin: 'https://console.example', 'access-control-request-method': 'GET' },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://console.example');
    const other = await server.request('GET', '/v1/incidents', {
      token: server.tokens.read,
      headers: { origin: 'https://evil.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('TLS', () => {
  let dir: string;
  let server: TestServer;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'opx-tls-'));
    const tls = selfSignedCertificate(dir, 'tls', {
      subject: '/CN=localhost',
      altName: 'IP:127.0.0.1',
      key: 'ec',
    });
    server = await testServer('sqlite', {
      tlsCertFile: tls.cert,
      tlsKeyFile: tls.key,
    });
  });
  afterAll(async () => {
    await server.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with the configured certificate and sends HSTS', async () => {
    expect(server.baseUrl).toMatch(/^https:\/\//);
    const { status, headers, body } = await new Promise<{
      status: number;
      headers: Record<string, unknown>;
      body: string;
    }>((resolve, reject) => {
      const request = httpsRequest(
        `${server.baseUrl}/healthz`,
        { ca: readFileSync(path.join(dir, 'tls-cert.pem')) },
        (response) => {
          let text = '';
          response.on('data', (chunk) => {
            text += chunk;
          });
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
          );
        },
      );
      request.on('error', reject);
      request.end();
    });
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ status: 'ok' });
    expect(headers['strict-transport-security']).toMatch(/max-age=\d+/);
  });

  it('refuses a half TLS setting with the settings to fix', async () => {
    await expect(testServer('sqlite', { tlsCertFile: path.join(dir, 'tls-cert.pem') })).rejects.toThrow(
      /TLS needs both OPX_TLS_CERT_FILE and OPX_TLS_KEY_FILE/,
    );
  });
});
