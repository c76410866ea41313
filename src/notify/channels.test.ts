import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Receivers, type SmtpReceiver, startReceivers, startSmtp } from '../../test/receivers.js';
import { HMAC_SIGNATURE_HEADER, HMAC_TIMESTAMP_HEADER, hmacSignature } from '../auth/sources.js';
import type { IncidentSeverity } from '../domain/common.js';
import { JobAttemptError } from '../domain/jobs.js';
import { type Channel, incidentDedupKey, type Notice } from '../domain/notification.js';
import {
  DeliveryError,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  type SendReceipt,
  sendNotice,
} from './channels.js';

// biome-ignore lint/suspicious/noExplicitAny: received bodies are read field by field in assertions.
type Json = Record<string, any>;

const WEBHOOK_SECRET = 'whsec-3f1c9a7be2d84c55a0e6';
const OPSGENIE_KEY = 'eb243592-faa2-4ba2-a551q-1afdf565c889';
const ROUTING_KEY = 'R0UT1NGK3Y0123456789abcdefABCDEF';
const SLACK_PATH = '/slack/T0001AAAA/B0002BBBB/xoxSecretHookToken1234';
const TEAMS_PATH =
  '/teams/workflows/12ab34cd/triggers/manual/paths/invoke?api-version=1&sig=TeamsSignatureSecret987';
const SMTP_PASSWORD = 'smtp-password-5ecret';

const STARTED = Date.parse('2026-03-02T09:58:00Z');
const INCIDENT_ID = 'inc_01jnq8y4w2r5m7c9d1e3f5g7h9';

function notice(overrides: Partial<Notice> = {}, incident: Partial<Notice['incident']> = {}): Notice {
  return {
    deliveryId: 'dlv_01jnq8z0a1b2c3d4e5f6g7h8j9',
    event: 'opened',
    at: Date.parse('2026-03-02T10:04:12Z'),
    incident: {
      id: INCIDENT_ID,
      title: 'Checkout p99 latency above 2 s, payment authorisations timing out',
      severity: 'SEV1',
      status: 'INVESTIGATING',
      environment: 'production',
      services: ['checkout-api', 'payments-db', 'edge-gateway'],
      rootService: 'payments-db',
      startedAt: STARTED,
      resolvedAt: null,
      mergedInto: null,
      ...incident,
    },
    cause: {
      summary:
        'Connection pool exhaustion on payments-db after checkout-api 2026.03.02-1 raised its pool size',
      confidence: 0.82,
    },
    recommendation: { id: 'rec_01jnq90000000000000000000', title: 'Roll back checkout-api to 2026.03.01-3' },
    url: `https://opx.example.com/incidents/${INCIDENT_ID}`,
    ...overrides,
  };
}

const stamps = { createdAt: STARTED, updatedAt: STARTED };

let receivers: Receivers;
let smtp: SmtpReceiver;

function slackChannel(): Channel {
  return {
    id: 'nch_slack',
    name: 'ops-slack',
    type: 'slack',
    settings: {},
    secret: { url: `${receivers.url}${SLACK_PATH}` },
    ...stamps,
  };
}
function teamsChannel(): Channel {
  return {
    id: 'nch_teams',
    name: 'ops-teams',
    type: 'teams',
    settings: {},
    secret: { url: `${receivers.url}${TEAMS_PATH}` },
    ...stamps,
  };
}
function pagerDutyChannel(): Channel {
  return {
    id: 'nch_pd',
    name: 'pagerduty',
    type: 'pagerduty',
    settings: { url: `${receivers.url}/pagerduty/v2/enqueue` },
    secret: { routingKey: ROUTING_KEY },
    ...stamps,
  };
}
function opsgenieChannel(apiKey = OPSGENIE_KEY): Channel {
  return {
    id: 'nch_og',
    name: 'opsgenie',
    type: 'opsgenie',
    settings: { url: `${receivers.url}/opsgenie/`, responders: [{ type: 'team', name: 'payments' }] },
    secret: { apiKey },
    ...stamps,
  };
}
function webhookChannel(hmacSecret = WEBHOOK_SECRET): Channel {
  return {
    id: 'nch_wh',
    name: 'hook',
    type: 'webhook',
    settings: {},
    secret: { url: `${receivers.url}/webhook/opx-incidents?token=hookQueryToken42`, hmacSecret },
    ...stamps,
  };
}
function emailChannel(port = smtp.port): Channel {
  return {
    id: 'nch_mail',
    name: 'mail',
    type: 'email',
    settings: {
      host: '127.0.0.1',
      port,
      secure: false,
      from: 'opx@example.com',
      to: ['oncall@example.com', 'sre-leads@example.com'],
      username: 'opx',
    },
    secret: { password: SMTP_PASSWORD },
    ...stamps,
  };
}

/** Every secret of every channel above, and the parts of secret URLs that identify them. */
const SECRETS = [
  'xoxSecretHookToken1234',
  'TeamsSignatureSecret987',
  'hookQueryToken42',
  WEBHOOK_SECRET,
  OPSGENIE_KEY,
  ROUTING_KEY,
  SMTP_PASSWORD,
];

async function failure(promise: Promise<SendReceipt>): Promise<DeliveryError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  expect(error).toBeInstanceOf(JobAttemptError);
  const delivery = error as DeliveryError;
  for (const secret of SECRETS) {
    expect(delivery.message).not.toContain(secret);
    expect(String(delivery.stack)).not.toContain(secret);
  }
  return delivery;
}

function lastBody(kind: keyof Receivers['received']): Json {
  const requests = receivers.received[kind];
  expect(requests.length).toBeGreaterThan(0);
  return requests.at(-1)!.body as Json;
}

beforeAll(async () => {
  receivers = await startReceivers({ webhookSecret: WEBHOOK_SECRET, opsgenieKey: OPSGENIE_KEY });
  smtp = await startSmtp({ users: { opx: SMTP_PASSWORD } });
});

afterAll(async () => {
  await receivers.close();
  await smtp.close();
});

beforeEach(() => {
  receivers.reset();
  smtp.messages.length = 0;
});

describe('slack', () => {
  it('posts Block Kit with a header, facts, the probable cause and a button to the incident', async () => {
    const receipt = await sendNotice(slackChannel(), notice());
    expect(receipt).toEqual({ status: 200, detail: 'ok' });
    const [request] = receivers.received.slack;
    expect(request!.path).toBe(SLACK_PATH);
    expect(request!.headers['content-type']).toBe('application/json');
    const body = request!.body as { text: string; blocks: Json[] };
    expect(body.text).toContain('SEV1 opened: Checkout p99 latency');
    const [header, summary, facts, advice, actions] = body.blocks;
    expect(header).toMatchObject({ type: 'header', text: { type: 'plain_text' } });
    expect(header!.text.text).toBe(
      '🔴 SEV1 opened: Checkout p99 latency above 2 s, payment authorisations timing out',
    );
    expect(summary!.text.text).toBe('New SEV1 incident in production, probable origin payments-db.');
    const fields = (facts!.fields as { type: string; text: string }[]).map((field) => field.text);
    expect(fields).toEqual([
      '*Severity*\nSEV1',
      '*Status*\nINVESTIGATING',
      '*Origin*\npayments-db',
      '*Services*\ncheckout-api, payments-db, edge-gateway',
      '*Environment*\nproduction',
      '*Since*\n2026-03-02 09:58 UTC',
    ]);
    expect(advice!.text.text).toContain('Probable cause (82% confidence): Connection pool exhaustion');
    expect(advice!.text.text).toContain('First recommendation: Roll back checkout-api to 2026.03.01-3');
    expect(actions).toMatchObject({
      type: 'actions',
      elements: [{ type: 'button', url: `https://opx.example.com/incidents/${INCIDENT_ID}` }],
    });
  });

  it('says what the origin and severity were before, and leaves out the button without a console URL', async () => {
    await sendNotice(
      slackChannel(),
      notice({ event: 'origin_moved', previous: { rootService: 'checkout-api' }, url: null }),
    );
    let body = lastBody('slack');
    expect(body.blocks[1].text.text).toBe('Probable origin moved from checkout-api to payments-db.');
    expect(body.blocks[2].fields[2].text).toBe('*Origin*\npayments-db (was checkout-api)');
    expect(body.blocks.some((block: { type: string }) => block.type === 'actions')).toBe(false);

    await sendNotice(slackChannel(), notice({ event: 'severity_raised', previous: { severity: 'SEV3' } }));
    body = lastBody('slack');
    expect(body.blocks[0].text.text).toMatch(/^🔴 SEV1 severity raised: /);
    expect(body.blocks[1].text.text).toBe('Severity raised from SEV3 to SEV1.');
  });

  it('keeps a long title within the header limit and escapes mrkdwn control characters', async () => {
    await sendNotice(
      slackChannel(),
      notice({}, { title: `<script> & ${'very long title '.repeat(20)}`, services: ['a<b>'] }),
    );
    const body = lastBody('slack');
    expect(receivers.received.slack[0]!.answered).toBe(200);
    expect((body.blocks[0].text.text as string).length).toBeLessThanOrEqual(150);
    expect(body.text).toContain('&lt;script&gt; &amp;');
    expect(body.blocks[2].fields[3].text).toBe('*Services*\na&lt;b&gt;');
  });

  it('retries a 429 after its Retry-After, and gives up on no_service', async () => {
    receivers.failNext('slack', [{ status: 429, retryAfter: 2 }, { status: 404 }]);
    const limited = await failure(sendNotice(slackChannel(), notice()));
    expect(limited).toMatchObject({ status: 429, final: false, retryAfterMs: 2000 });
    expect(limited.message).toBe('slack answered 429 rate_limited');
    const gone = await failure(sendNotice(slackChannel(), notice()));
    expect(gone).toMatchObject({ status: 404, final: true });
    expect(gone.message).toBe('slack answered 404 no_service');
  });
});

describe('teams', () => {
  it('posts an Adaptive Card message with the facts and an Open action', async () => {
    const receipt = await sendNotice(teamsChannel(), notice());
    expect(receipt.status).toBe(202);
    const body = lastBody('teams');
    expect(body.type).toBe('message');
    expect(body.attachments).toHaveLength(1);
    const attachment = body.attachments[0];
    expect(attachment.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(attachment.contentUrl).toBeNull();
    const card = attachment.content;
    expect(card).toMatchObject({
      $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
      type: 'AdaptiveCard',
      version: '1.4',
    });
    expect(card.body[0]).toMatchObject({ type: 'TextBlock', weight: 'Bolder', color: 'Attention' });
    expect(card.body[0].text).toContain('SEV1 opened: Checkout p99 latency');
    const factSet = card.body.find((item: { type: string }) => item.type === 'FactSet');
    expect(factSet.facts).toContainEqual({ title: 'Origin', value: 'payments-db' });
    expect(card.actions).toEqual([
      {
        type: 'Action.OpenUrl',
        title: 'Open in OPX',
        url: `https://opx.example.com/incidents/${INCIDENT_ID}`,
      },
    ]);
  });

  it('treats a 200 whose body names an upstream 429 (legacy connectors) as that 429', async () => {
    receivers.failNext('teams', [
      {
        status: 200,
        body: 'Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId abc',
      },
    ]);
    const error = await failure(sendNotice(teamsChannel(), notice()));
    expect(error).toMatchObject({ status: 429, final: false });
  });
});

describe('pagerduty', () => {
  it('triggers and then resolves with the same dedup key', async () => {
    const receipt = await sendNotice(pagerDutyChannel(), notice());
    expect(receipt).toEqual({ status: 202, detail: 'Event processed' });
    await sendNotice(
      pagerDutyChannel(),
      notice({ event: 'resolved' }, { status: 'RESOLVED', resolvedAt: Date.parse('2026-03-02T10:40:00Z') }),
    );
    const [trigger, resolve] = receivers.received.pagerduty.map((request) => request.body as Json);
    expect(receivers.received.pagerduty.map((request) => request.answered)).toEqual([202, 202]);
    expect(trigger).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: incidentDedupKey(INCIDENT_ID),
      client: 'OPX',
      client_url: `https://opx.example.com/incidents/${INCIDENT_ID}`,
      links: [{ href: `https://opx.example.com/incidents/${INCIDENT_ID}`, text: 'Open in OPX' }],
      payload: {
        source: 'opx',
        severity: 'critical',
        timestamp: '2026-03-02T10:04:12.000Z',
        component: 'payments-db',
        group: 'production',
        class: 'opened',
      },
    });
    expect(trigger!.payload.summary).toMatch(/^SEV1 opened: Checkout p99 latency/);
    expect(trigger!.payload.custom_details).toMatchObject({
      incident_id: INCIDENT_ID,
      probable_cause: expect.stringContaining('Connection pool exhaustion'),
      cause_confidence: '82%',
      first_recommendation: 'Roll back checkout-api to 2026.03.01-3',
    });
    expect(resolve).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'resolve',
      dedup_key: incidentDedupKey(INCIDENT_ID),
    });
  });

  it('maps SEV1-4 to critical, error, warning, info and keeps the summary within 1024 characters', async () => {
    const mapping: [IncidentSeverity, string][] = [
      ['SEV1', 'critical'],
      ['SEV2', 'error'],
      ['SEV3', 'warning'],
      ['SEV4', 'info'],
    ];
    for (const [severity] of mapping)
      await sendNotice(pagerDutyChannel(), notice({}, { severity, title: 'x'.repeat(2000) }));
    const sent = receivers.received.pagerduty.map((request) => request.body as Json);
    expect(sent.map((body) => body.payload.severity)).toEqual(mapping.map(([, level]) => level));
    for (const body of sent) expect(body.payload.summary.length).toBeLessThanOrEqual(1024);
    expect(receivers.received.pagerduty.every((request) => request.answered === 202)).toBe(true);
  });

  it('gives up on an invalid event, waits 30 s after a 429 without Retry-After, retries a 500', async () => {
    receivers.failNext('pagerduty', [
      {
        status: 400,
        body: {
          status: 'invalid event',
          message: 'Event object is invalid',
          errors: ["'payload.summary' is missing."],
        },
      },
      { status: 429 },
      { status: 500 },
    ]);
    const invalid = await failure(sendNotice(pagerDutyChannel(), notice()));
    expect(invalid).toMatchObject({ status: 400, final: true });
    expect(invalid.message).toBe(
      "pagerduty answered 400 Event object is invalid: 'payload.summary' is missing.",
    );
    const limited = await failure(sendNotice(pagerDutyChannel(), notice()));
    expect(limited).toMatchObject({ status: 429, final: false, retryAfterMs: 30_000 });
    const broken = await failure(sendNotice(pagerDutyChannel(), notice()));
    expect(broken).toMatchObject({ status: 500, final: false, retryAfterMs: undefined });
  });
});

describe('opsgenie', () => {
  it('creates an alert by alias, adds notes for moves and raises, and closes it on resolve', async () => {
    const created = await sendNotice(opsgenieChannel(), notice());
    expect(created.status).toBe(202);
    expect(created.detail).toMatch(/^Request will be processed \(request [0-9a-f-]{36}\)$/);
    await sendNotice(
      opsgenieChannel(),
      notice({ event: 'origin_moved', previous: { rootService: 'checkout-api' } }),
    );
    await sendNotice(opsgenieChannel(), notice({ event: 'severity_raised', previous: { severity: 'SEV2' } }));
    await sendNotice(
      opsgenieChannel(),
      notice({ event: 'resolved' }, { resolvedAt: Date.parse('2026-03-02T11:00:00Z') }),
    );

    const requests = receivers.received.opsgenie;
    const alias = incidentDedupKey(INCIDENT_ID);
    expect(requests.map((request) => request.path)).toEqual([
      '/opsgenie/v2/alerts',
      `/opsgenie/v2/alerts/${alias}/notes?identifierType=alias`,
      `/opsgenie/v2/alerts/${alias}/notes?identifierType=alias`,
      `/opsgenie/v2/alerts/${alias}/close?identifierType=alias`,
    ]);
    expect(requests.map((request) => request.answered)).toEqual([202, 202, 202, 202]);
    for (const request of requests) expect(request.headers.authorization).toBe(`GenieKey ${OPSGENIE_KEY}`);

    const create = requests[0]!.body as Json;
    expect(create).toMatchObject({
      alias,
      source: 'OPX',
      priority: 'P1',
      entity: 'payments-db',
      responders: [{ type: 'team', name: 'payments' }],
    });
    expect(create.message.length).toBeLessThanOrEqual(130);
    expect(create.message).toMatch(/^SEV1 opened: Checkout p99/);
    expect(create.tags).toEqual([
      'opx',
      'SEV1',
      'env:production',
      'checkout-api',
      'payments-db',
      'edge-gateway',
    ]);
    expect(Object.values(create.details).every((value) => typeof value === 'string')).toBe(true);
    expect(create.description).toContain('Probable cause (82% confidence)');
    expect(requests[1]!.body).toMatchObject({ source: 'OPX' });
    expect((requests[1]!.body as { note: string }).note).toContain(
      'Probable origin moved from checkout-api to payments-db.',
    );
    expect((requests[2]!.body as { note: string }).note).toContain('Severity raised from SEV2 to SEV1.');
    expect((requests[3]!.body as { note: string }).note).toContain('Resolved after 1 h 2 min.');
  });

  it('sends a test as its own alert and maps the priorities', async () => {
    await sendNotice(opsgenieChannel(), notice({ event: 'test' }, { severity: 'SEV3' }));
    const body = lastBody('opsgenie');
    expect(body.alias).toBe('opx-test-dlv_01jnq8z0a1b2c3d4e5f6g7h8j9');
    expect(body.priority).toBe('P3');
  });

  it('gives up when the key is refused', async () => {
    const error = await failure(sendNotice(opsgenieChannel('0b0b0b0b-wrong-key-0b0b0b0b0b0b'), notice()));
    expect(error).toMatchObject({ status: 401, final: true });
    expect(error.message).toMatch(/^opsgenie answered 401 Could not authenticate \(request /);
    expect(error.message).not.toContain('0b0b0b0b-wrong-key');
  });
});

describe('webhook', () => {
  it('signs the body the way OPX ingest checks it and names the delivery', async () => {
    const before = Math.floor(Date.now() / 1000);
    const receipt = await sendNotice(webhookChannel(), notice());
    expect(receipt).toEqual({ status: 200, detail: '{"received":true}' });
    const [request] = receivers.received.webhook;
    const headers = request!.headers;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['user-agent']).toBe('opx-notify');
    expect(headers['x-opx-delivery']).toBe('dlv_01jnq8z0a1b2c3d4e5f6g7h8j9');
    expect(headers['x-opx-event']).toBe('opened');
    const timestamp = headers[HMAC_TIMESTAMP_HEADER] as string;
    expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
    expect(headers[HMAC_SIGNATURE_HEADER]).toBe(hmacSignature(WEBHOOK_SECRET, timestamp, request!.raw));
    expect(request!.body).toEqual({
      version: 1,
      deliveryId: 'dlv_01jnq8z0a1b2c3d4e5f6g7h8j9',
      event: 'opened',
      at: '2026-03-02T10:04:12.000Z',
      incident: {
        id: INCIDENT_ID,
        title: 'Checkout p99 latency above 2 s, payment authorisations timing out',
        severity: 'SEV1',
        status: 'INVESTIGATING',
        environment: 'production',
        services: ['checkout-api', 'payments-db', 'edge-gateway'],
        rootService: 'payments-db',
        startedAt: '2026-03-02T09:58:00.000Z',
        resolvedAt: null,
        mergedInto: null,
      },
      previous: null,
      cause: notice().cause,
      recommendation: notice().recommendation,
      url: `https://opx.example.com/incidents/${INCIDENT_ID}`,
    });
  });

  it('gives up when the receiver refuses the signature', async () => {
    const error = await failure(sendNotice(webhookChannel('an-entirely-different-secret'), notice()));
    expect(error).toMatchObject({ status: 401, final: true });
    expect(error.message).toBe('webhook answered 401 bad signature');
  });
});

describe('email', () => {
  it('sends a text and HTML message with the subject, recipients and a Message-ID of the delivery', async () => {
    const receipt = await sendNotice(emailChannel(), notice());
    expect(receipt.status).toBe(250);
    expect(receipt.detail).toMatch(/^250 .*Queued as/);
    expect(smtp.messages).toHaveLength(1);
    const [message] = smtp.messages;
    expect(message!.from).toBe('opx@example.com');
    expect(message!.to).toEqual(['oncall@example.com', 'sre-leads@example.com']);
    expect(message!.user).toBe('opx');
    const raw = message!.raw;
    const unfolded = raw.replace(/\r\n[ \t]+/g, ' ');
    expect(unfolded).toMatch(
      /^Subject: \[OPX SEV1\] opened: Checkout p99 latency above 2 s, payment authorisations timing out$/m,
    );
    expect(raw).toMatch(/^Message-ID: <dlv_01jnq8z0a1b2c3d4e5f6g7h8j9@opx>$/im);
    expect(raw).toMatch(/^From: opx@example\.com$/m);
    expect(raw).toMatch(/^To: oncall@example\.com, sre-leads@example\.com$/m);
    expect(raw).toMatch(/^X-OPX-Delivery: dlv_01jnq8z0a1b2c3d4e5f6g7h8j9$/im);
    expect(raw).toContain('Content-Type: text/plain');
    expect(raw).toContain('Content-Type: text/html');
    expect(raw).toContain('First recommendation: Roll back checkout-api to 2026.03.01-3');
  });

  it('retries a 4xx reply, gives up on a 5xx, and retries a refused connection', async () => {
    smtp.rejectNext([
      { code: 451, message: 'Local error, try again later' },
      { code: 550, message: 'Mailbox unavailable' },
    ]);
    const later = await failure(sendNotice(emailChannel(), notice()));
    expect(later).toMatchObject({ status: 451, final: false });
    expect(later.message).toContain('451');
    const refused = await failure(sendNotice(emailChannel(), notice()));
    expect(refused).toMatchObject({ status: 550, final: true });
    expect(smtp.messages).toHaveLength(0);

    const closed = await failure(sendNotice(emailChannel(await closedPort()), notice(), { timeoutMs: 2000 }));
    expect(closed.final).toBe(false);
  });

  it('gives up when the login is refused, without naming the password', async () => {
    const channel = emailChannel();
    if (channel.type !== 'email') throw new Error('unreachable');
    const wrong: Channel = { ...channel, secret: { password: 'not-the-smtp-password' } };
    const error = await failure(sendNotice(wrong, notice()));
    expect(error).toMatchObject({ status: 535, final: true });
    expect(error.message).not.toContain('not-the-smtp-password');
  });
});

/** A port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('failures over HTTP', () => {
  it('retries 408, 425, 429, 5xx; honours Retry-After on 429 and 503; gives up on other 4xx and redirects', async () => {
    const date = new Date(Date.now() + 120_000).toUTCString();
    receivers.failNext('slack', [
      { status: 408 },
      { status: 425 },
      { status: 429, retryAfter: 7 },
      { status: 503, retryAfter: date },
      { status: 502 },
      { status: 429, retryAfter: 86_400 },
      { status: 400, body: 'invalid_blocks' },
      { status: 403 },
      { status: 302, headers: { location: 'https://elsewhere.example/secret-target' } },
    ]);
    const results: DeliveryError[] = [];
    for (let index = 0; index < 9; index += 1)
      results.push(await failure(sendNotice(slackChannel(), notice())));
    expect(results.map((error) => [error.status, error.final])).toEqual([
      [408, false],
      [425, false],
      [429, false],
      [503, false],
      [502, false],
      [429, false],
      [400, true],
      [403, true],
      [302, true],
    ]);
    expect(results[0]!.retryAfterMs).toBeUndefined();
    expect(results[2]!.retryAfterMs).toBe(7000);
    expect(results[3]!.retryAfterMs).toBeGreaterThan(100_000);
    expect(results[3]!.retryAfterMs).toBeLessThanOrEqual(120_000);
    expect(results[5]!.retryAfterMs).toBe(MAX_RETRY_AFTER_MS);
    expect(results[6]!.message).toBe('slack answered 400 invalid_blocks');
    expect(results[8]!.message).not.toContain('secret-target');
  });

  it('retries when the receiver cannot be reached, never naming the URL', async () => {
    const port = await closedPort();
    const channel: Channel = {
      ...slackChannel(),
      secret: { url: `http://127.0.0.1:${port}${SLACK_PATH}` },
    } as Channel;
    const error = await failure(sendNotice(channel, notice()));
    expect(error.final).toBe(false);
    expect(error.status).toBeUndefined();
    expect(error.message).toBe('slack: could not reach the receiver (ECONNREFUSED)');
  });

  it('retries when the receiver does not answer in time, or the caller gives up', async () => {
    receivers.failNext('webhook', [{ status: 200, delayMs: 1500 }]);
    const started = Date.now();
    const timedOut = await failure(sendNotice(webhookChannel(), notice(), { timeoutMs: 200 }));
    expect(Date.now() - started).toBeLessThan(1400);
    expect(timedOut).toMatchObject({ final: false, message: 'webhook: no answer within 200 ms' });

    receivers.failNext('teams', [{ status: 200, delayMs: 1500 }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const cancelled = await failure(sendNotice(teamsChannel(), notice(), { signal: controller.signal }));
    expect(cancelled).toMatchObject({ final: false, message: 'teams: the send was cancelled' });
  });

  it('keeps secrets out of receipts even when a receiver echoes them', async () => {
    receivers.failNext('teams', [{ status: 200, body: `accepted ${receivers.url}${TEAMS_PATH}` }]);
    const receipt = await sendNotice(teamsChannel(), notice());
    expect(receipt.detail).toContain('[redacted]');
    for (const secret of SECRETS) expect(receipt.detail).not.toContain(secret);
    receivers.failNext('pagerduty', [{ status: 400, body: { message: `bad routing key ${ROUTING_KEY}` } }]);
    const error = await failure(sendNotice(pagerDutyChannel(), notice()));
    expect(error.message).toBe('pagerduty answered 400 bad routing key [redacted]');
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, caps at an hour, and ignores nonsense', () => {
    const now = Date.parse('2026-03-02T10:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter('Mon, 02 Mar 2026 10:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Mon, 02 Mar 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('999999', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('-3', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
