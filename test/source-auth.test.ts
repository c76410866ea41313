import { sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HMAC_SIGNATURE_HEADER,
  HMAC_TIMESTAMP_HEADER,
  hmacSignature,
  snsStringToSign,
} from '../src/auth/sources.js';
import {
  BACKENDS,
  payload,
  selfSignedCertificate,
  type TestServer,
  tableCounts,
  testServer,
} from './support.js';

const SECRET = 'a-long-shared-secret-for-the-signals-source';
const NEXT_SECRET = 'the-next-shared-secret-for-the-signals-source';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:opx-alarms';

function signedHeaders(body: string, options: { secret?: string; timestamp?: number } = {}) {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  return {
    'content-type': 'application/json',
    [HMAC_TIMESTAMP_HEADER]: timestamp,
    [HMAC_SIGNATURE_HEADER]: hmacSignature(options.secret ?? SECRET, timestamp, body),
  };
}

describe.each(BACKENDS)('HMAC-signed sources (%s)', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer(backend, {
      sourceAuth: { signals: { mode: 'hmac', secrets: [SECRET, NEXT_SECRET], toleranceSeconds: 300 } },
    });
  });
  afterAll(async () => {
    await server.cleanup();
  });

  const signal = (title: string) =>
    JSON.stringify({ service: 'payments', title, severity: 'error', labels: { run: title } });

  it('accepts a request signed with either configured secret, as the source principal', async () => {
    for (const secret of [SECRET, NEXT_SECRET]) {
      const body = signal(`signed with ${secret.slice(0, 8)}`);
      const response = await server.request('POST', '/v1/signals', {
        rawBody: body,
        token: null,
        headers: signedHeaders(body, { secret }),
      });
      expect(response.status, response.text).toBe(200);
      expect(response.json.accepted).toBe(1);
    }
    const stored = await server.runtime.store.db.selectFrom('signals').select(['title']).execute();
    expect(stored.map((row) => row.title).sort()).toEqual(['signed with a-long-s', 'signed with the-next']);
  });

  it('answers 401 and writes nothing for a forged, stale, replayed or token-only request', async () => {
    const before = await tableCounts(server.runtime);
    const body = signal('forged');
    const attempts: [string, Record<string, string>, string | null, string][] = [
      ['wrong secret', signedHeaders(body, { secret: 'x'.repeat(40) }), null, body],
      ['body changed after signing', signedHeaders(body), null, signal('tampered')],
      ['stale', signedHeaders(body, { timestamp: Math.floor(Date.now() / 1000) - 301 }), null, body],
      [
        'from the future',
        signedHeaders(body, { timestamp: Math.floor(Date.now() / 1000) + 400 }),
        null,
        body,
      ],
      ['no signature', { 'content-type': 'application/json' }, null, body],
      ['token instead of a signature', { 'content-type': 'application/json' }, server.tokens.ingest, body],
      [
        'admin token instead of a signature',
        { 'content-type': 'application/json' },
        server.tokens.admin,
        body,
      ],
    ];
    for (const [label, headers, token, sent] of attempts) {
      const response = await server.request('POST', '/v1/signals', { rawBody: sent, token, headers });
      expect(response.status, label).toBe(401);
      expect(response.json.error.code, label).toBe('unauthorized');
    }
    expect(await tableCounts(server.runtime)).toEqual(before);
  });

  it('refuses the same signed request a second time', async () => {
    const body = signal('once');
    const headers = signedHeaders(body);
    const first = await server.request('POST', '/v1/signals', { rawBody: body, token: null, headers });
    expect(first.status).toBe(200);
    const before = await tableCounts(server.runtime);
    const again = await server.request('POST', '/v1/signals', { rawBody: body, token: null, headers });
    expect(again.status).toBe(401);
    expect(again.json.error.message).toMatch(/replay/);
    expect(await tableCounts(server.runtime)).toEqual(before);
  });

  it('leaves sources that are not configured on bearer tokens', async () => {
    const response = await server.request('POST', '/v1/changes', {
      body: { kind: 'deploy', service: 'payments', summary: 'v2', startedAt: new Date().toISOString() },
    });
    expect(response.status).toBe(201);
  });
});

describe.each(BACKENDS)('SNS signature verification (%s)', (backend) => {
  let dir: string;
  let certServer: Server;
  let certRequests: string[];
  let certUrl: string;
  let signingKey: Buffer;
  let server: TestServer;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'opx-sns-'));
    // The HTTPS host that serves the signing certificate, trusted through caFile.
    const tls = selfSignedCertificate(dir, 'tls', {
      subject: '/CN=localhost',
      altName: 'DNS:localhost',
      key: 'ec',
    });
    // The SNS signing certificate: RSA, as Amazon's.
    const signing = selfSignedCertificate(dir, 'signing', { subject: '/CN=sns.amazonaws.com', key: 'rsa' });
    signingKey = readFileSync(signing.key);
    const signingCert = readFileSync(signing.cert);
    certRequests = [];
    certServer = createServer(
      {
        key: readFileSync(tls.key),
        cert: readFileSync(tls.cert),
      },
      (request, response) => {
        certRequests.push(request.url ?? '');
        if (request.url === '/SimpleNotificationService-test.pem') response.end(signingCert);
        else response.writeHead(404).end();
      },
    );
    await new Promise<void>((resolve) => certServer.listen(0, '127.0.0.1', resolve));
    certUrl = `https://localhost:${(certServer.address() as AddressInfo).port}/SimpleNotificationService-test.pem`;
    server = await testServer(backend, {
      sourceAuth: {
        cloudwatch: {
          mode: 'sns',
          topicArns: [TOPIC],
          toleranceSeconds: 3600,
          certHostPattern: '^localhost$',
          caFile: tls.cert,
        },
      },
    });
  });
  afterAll(async () => {
    await server.cleanup();
    await new Promise((resolve) => certServer.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  /** The real CloudWatch alarm notification, as SNS delivers it over HTTP, signed with the test key. */
  function notification(options: { version?: '1' | '2'; timestamp?: string; messageId?: string } = {}) {
    const record = (
      payload('cloudwatch-alarm-sns-payload-single-metric.json') as {
        Records: { Sns: { Message: string } }[];
      }
    ).Records[0]!.Sns;
    const message: Record<string, string> = {
      Type: 'Notification',
      MessageId: options.messageId ?? `msg-${Math.random().toString(36).slice(2)}`,
      TopicArn: TOPIC,
      Subject: 'ALARM: "EXAMPLE" in EU (Ireland)',
      Message: record.Message,
      Timestamp: options.timestamp ?? new Date().toISOString(),
      SignatureVersion: options.version ?? '1',
      SigningCertURL: certUrl,
      UnsubscribeURL: 'https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe',
    };
    return signed(message);
  }

  function signed(message: Record<string, string>): Record<string, string> {
    const algorithm = message.SignatureVersion === '2' ? 'sha256' : 'sha1';
    const signature = sign(algorithm, Buffer.from(snsStringToSign(message)), signingKey).toString('base64');
    return { ...message, Signature: signature };
  }

  const post = (body: unknown) =>
    server.request('POST', '/v1/ingest/cloudwatch', {
      rawBody: JSON.stringify(body),
      token: null,
      headers: { 'content-type': 'text/plain; charset=UTF-8' },
    });

  it('accepts SignatureVersion 1 and 2 and fetches the certificate once', async () => {
    for (const version of ['1', '2'] as const) {
      const response = await post(notification({ version }));
      expect(response.status, response.text).toBe(200);
      expect(response.json.accepted).toBe(1);
    }
    expect(certRequests).toEqual(['/SimpleNotificationService-test.pem']);
    const signals = await server.runtime.store.db.selectFrom('signals').select(['source']).execute();
    expect(signals.length).toBeGreaterThan(0);
  });

  it('verifies Lambda-style event records too', async () => {
    const message = notification();
    const { SigningCertURL, UnsubscribeURL, ...rest } = message;
    const record = { ...rest, SigningCertUrl: SigningCertURL, UnsubscribeUrl: UnsubscribeURL };
    const response = await post({ Records: [{ EventSource: 'aws:sns', Sns: record }] });
    expect(response.status, response.text).toBe(200);
  });

  it('verifies and records a subscription confirmation', async () => {
    const confirmation = signed({
      Type: 'SubscriptionConfirmation',
      MessageId: 'confirm-1',
      Token: '2336412f37',
      TopicArn: TOPIC,
      Message: `You have chosen to subscribe to the topic ${TOPIC}.`,
      SubscribeURL: `https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=2336412f37`,
      Timestamp: new Date().toISOString(),
      SignatureVersion: '2',
      SigningCertURL: certUrl,
    });
    const response = await post(confirmation);
    expect(response.status, response.text).toBe(200);
    const rows = await server.runtime.store.db.selectFrom('sns_subscriptions').selectAll().execute();
    expect(rows.map((row) => row.topic_arn)).toContain(TOPIC);
  });

  it('answers 401 and writes nothing for forged, stale, foreign or badly sourced messages', async () => {
    const before = await tableCounts(server.runtime);
    const fetchesBefore = certRequests.length;
    const good = notification();
    const otherTopic = signed({ ...notification(), TopicArn: 'arn:aws:sns:eu-west-1:999999999999:attacker' });
    const attempts: [string, unknown][] = [
      ['message changed after signing', { ...good, Message: good.Message!.replace('ALARM', 'OK') }],
      ['signature of another message', { ...notification(), Signature: good.Signature }],
      ['signed as version 1, labelled 2', { ...good, SignatureVersion: '2' }],
      ['unknown signature version', { ...good, SignatureVersion: '3' }],
      ['stale', notification({ timestamp: new Date(Date.now() - 2 * 3600_000).toISOString() })],
      ['topic not allowed', otherTopic],
      ['certificate over plain HTTP', { ...good, SigningCertURL: certUrl.replace('https:', 'http:') }],
      [
        'certificate from another host',
        { ...good, SigningCertURL: 'https://evil.example/SimpleNotificationService-x.pem' },
      ],
      [
        'look-alike host',
        { ...good, SigningCertURL: certUrl.replace('localhost', 'localhost.evil.example') },
      ],
      ['not a certificate', { ...good, SigningCertURL: certUrl.replace('test.pem', 'missing.pem') }],
      ['not SNS at all', { alarm: 'x' }],
    ];
    for (const [label, body] of attempts) {
      const response = await post(body);
      expect(response.status, `${label}: ${response.text}`).toBe(401);
    }
    // A bearer token is no way around the signature.
    const withToken = await server.request('POST', '/v1/ingest/cloudwatch', {
      body: { ...good, Message: 'x' },
    });
    expect(withToken.status).toBe(401);
    expect(await tableCounts(server.runtime)).toEqual(before);
    // Only the allow-listed host was asked for a certificate: the missing one.
    expect(certRequests.slice(fetchesBefore)).toEqual(['/SimpleNotificationService-missing.pem']);
  });
});
