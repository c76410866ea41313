import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../src/auth/tokens.js';
import { parseBackstageCatalog } from '../src/catalog/backstage.js';
import { importHistory, readHistoryDirectory } from '../src/incidents/history.js';
import { importKnowledge, readKnowledgeDirectory } from '../src/knowledge/import.js';
import { type StandInModel, startStandInModel } from '../src/llm/stand-in.js';
import { runNotificationWorker } from '../src/notify/worker.js';
import { axeViolations, signIn } from './browser.js';
import { type Receivers, startReceivers } from './receivers.js';
import {
  BACKENDS,
  insertAuthServiceDeploy,
  type OpxProcess,
  REPO_ROOT,
  spawnOpx,
  type TestServer,
  testServer,
} from './support.js';

const CHROMIUM = '/usr/bin/chromium';
const IN_CI = !['', '0', 'false'].includes((process.env.CI ?? '').toLowerCase());
// CI must run this suite (.ci/run installs Chromium); elsewhere a missing browser skips it, loudly.
const NO_BROWSER = !existsSync(CHROMIUM) && !IN_CI;
if (NO_BROWSER) console.warn(`skipping the console tests: ${CHROMIUM} is missing (apt-get install chromium)`);
const EXAMPLES = path.join(REPO_ROOT, 'examples');
const ARTIFACTS = path.join(REPO_ROOT, 'test', 'artifacts');
const DOCS_IMAGES = path.join(REPO_ROOT, 'docs', 'images');
const CONSOLE_INDEX = path.join(REPO_ROOT, 'web', 'dist', 'index.html');
const HOOK_SECRET = 'console-test-hmac-secret-0123456789';

/** The incident's status badge in the "What is broken" answer at the top of its page. */
const headerStatus = (page: Page) => page.locator('#answer-broken .badge').nth(1);

/** Opens a folded section of the incident page by its heading (a click on the <summary>). */
async function unfold(page: Page, heading: string): Promise<void> {
  const fold = page.locator('details.fold', {
    has: page.getByRole('heading', { name: heading, exact: true }),
  });
  if ((await fold.getAttribute('open')) === null) await fold.locator('summary').click();
  await expect.poll(() => fold.getAttribute('open')).not.toBeNull();
}

/**
 * The store `npm run demo` builds, made through the same functions and routes: the example topology,
 * runbooks and history, a recent deploy, three alerts in three formats over HTTP, and an
 * investigation. The model is the stand-in (`opx fake-llm`), so the cost pages have real calls to show.
 */
async function prepareLikeTheDemo(server: TestServer): Promise<string> {
  const { runtime } = server;
  const catalog = parseBackstageCatalog(
    readFileSync(path.join(EXAMPLES, 'topology', 'catalog-info.yaml'), 'utf8'),
  );
  if (!catalog.ok) throw new Error(catalog.error.message);
  await runtime.store.services.upsertMany(catalog.services);
  const knowledge = readKnowledgeDirectory(path.join(EXAMPLES, 'kb'));
  await runtime.writes.run((scope) => importKnowledge(scope, knowledge.prepared));
  const history = readHistoryDirectory(path.join(EXAMPLES, 'history'));
  await runtime.writes.run((scope) => importHistory(scope, history, 'demo'));
  const now = Date.now();
  await insertAuthServiceDeploy(
    runtime.store,
    'Deploy auth-service v2.15.0: connection pool settings reworked',
    'demo',
  );

  const ingest = { token: server.tokens.ingest };
  const sent = [
    await server.request('POST', '/v1/ingest/alertmanager', {
      ...ingest,
      body: {
        version: '4',
        status: 'firing',
        receiver: 'opx',
        groupKey: '{}:{service="api-gateway"}',
        truncatedAlerts: 0,
        groupLabels: { alertname: 'HighErrorRate' },
        commonLabels: {
          alertname: 'HighErrorRate',
          service: 'api-gateway',
          env: 'prod',
          severity: 'critical',
        },
        commonAnnotations: {},
        externalURL: 'http://alertmanager.demo:9093',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'HighErrorRate', service: 'api-gateway', env: 'prod', severity: 'critical' },
            annotations: {
              summary: '5xx ratio above 5% on api-gateway',
              description: 'error ratio 0.083 over the last 5m (threshold 0.05)',
            },
            startsAt: new Date(now - 9 * 60_000).toISOString(),
            endsAt: '0001-01-01T00:00:00Z',
            generatorURL: 'http://prometheus.demo:9090/graph',
            fingerprint: '',
          },
        ],
      },
    }),
    await server.request('POST', '/api/v2/alerts', {
      ...ingest,
      body: [
        {
          labels: { alertname: 'HighLatencyP99', service: 'api-gateway', env: 'prod', severity: 'warning' },
          annotations: { summary: 'p99 latency 2.4s on api-gateway (SLO 800ms)' },
          startsAt: new Date(now - 8 * 60_000).toISOString(),
          generatorURL: 'http://prometheus.demo:9090/graph',
        },
      ],
    }),
    // The reporter's address is personal data: the guardrails redact it before it is stored, and
    // the console's guardrail page counts that.
    await server.request('POST', '/v1/signals', {
      ...ingest,
      body: {
        source: 'generic',
        service: 'api-gateway',
        environment: 'prod',
        severity: 'error',
        title: 'Upstream timeouts from api-gateway to auth-service',
        description: 'connection pool exhausted calling auth-service; reported by jane.doe@example.com',
        labels: { detector: 'log-patterns' },
        startsAt: new Date(now - 7 * 60_000).toISOString(),
      },
    }),
  ];
  for (const response of sent) expect(response.status, response.text).toBeLessThan(300);

  const listed = await server.request('GET', '/v1/incidents?status=OPEN&service=api-gateway');
  const incidentId = listed.json.items[0]?.id as string;
  expect(incidentId).toMatch(/^inc_/);
  const investigated = await server.request('POST', `/v1/incidents/${incidentId}/investigations`, {
    token: server.tokens.respond,
    body: {},
  });
  expect(investigated.status, investigated.text).toBe(201);
  // The scheduled alarms run in `opx serve`; here they are evaluated once so the page has states.
  expect((await server.request('POST', '/v1/alarms/evaluate')).status).toBe(200);
  return incidentId;
}

async function screenshot(page: Page, name: string, options: { docs: boolean }): Promise<void> {
  const file = path.join(ARTIFACTS, `console-${name}.png`);
  await page.screenshot({ path: file });
  if (options.docs) copyFileSync(file, path.join(DOCS_IMAGES, `console-${name}.png`));
}

describe.skipIf(NO_BROWSER).each(BACKENDS)('the web console in Chromium on %s', (backend) => {
  let server: TestServer;
  let model: StandInModel;
  let receivers: Receivers;
  let browser: Browser;
  let page: Page;
  let incidentId: string;
  let consoleToken: string;
  const browserErrors: string[] = [];
  // The docs' pictures are refreshed only on request (their ids and times change every run, so a
  // plain test run must not dirty committed files), and from one backend.
  const docs = backend === 'sqlite' && process.env.OPX_UPDATE_DOCS_IMAGES === '1';
  const shot = (name: string) => screenshot(page, docs ? name : `${name}-${backend}`, { docs });
  /** A second console open on the incident: it changes only through the live stream, never a reload. */
  const secondConsole = async () => {
    const other = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    other.on('pageerror', (error) => browserErrors.push(`second page: ${error.message}`));
    await signIn(other, server.baseUrl, consoleToken);
    await other.goto(`${server.baseUrl}/incidents/${incidentId}`);
    await other.getByText('Live: changes appear').waitFor();
    return other;
  };
  /** Waits for a sentence on a console's timeline; another console's may take the stream's second. */
  const onTimeline = (on: Page, sentence: string) =>
    on
      .getByRole('region', { name: 'Timeline' })
      .getByText(sentence, { exact: true })
      .waitFor({ timeout: 10_000 });

  beforeAll(async () => {
    // CI's `npm ci` builds the console (prepare); a checkout that skipped it is built here.
    if (!existsSync(CONSOLE_INDEX))
      execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', 'web'], {
        cwd: REPO_ROOT,
        stdio: 'inherit',
      });
    mkdirSync(ARTIFACTS, { recursive: true });
    mkdirSync(DOCS_IMAGES, { recursive: true });
    model = await startStandInModel({ port: 0 });
    receivers = await startReceivers({ webhookSecret: HOOK_SECRET });
    server = await testServer(backend, {
      llmProvider: 'openai-compatible',
      llmBaseUrl: model.url,
      llmModel: 'gpt-4.1-mini',
      // An incident's first message goes at once, and one failed attempt dead-letters a delivery.
      notifyFirstWaitSeconds: 0,
      notifyMaxAttempts: 1,
    });
    incidentId = await prepareLikeTheDemo(server);
    consoleToken = (await createToken(server.runtime.store, 'on-call-console', ['read', 'respond'])).token;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // A CSP refusal or a script error shows up here: the console must run under the server's policy.
    page.on('console', (message) => {
      // The refused token's 401 is logged by the browser on purpose; anything else is a fault.
      if (message.type() === 'error' && !message.text().includes('status of 401'))
        browserErrors.push(message.text());
    });
    page.on('pageerror', (error) => browserErrors.push(error.message));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.cleanup();
    await model?.close();
    await receivers?.close();
  });

  it('serves the console at / under a strict policy, and API misses stay JSON', async () => {
    const index = await server.request('GET', '/', { token: null });
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    const policy = index.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).not.toContain('unsafe-inline');
    const deepLink = await server.request('GET', `/incidents/${incidentId}`, { token: null });
    expect(deepLink.status).toBe(200);
    expect(deepLink.text).toBe(index.text);
    const miss = await server.request('GET', '/v1/no-such-route', { token: null });
    expect(miss.status).toBe(404);
    expect(miss.json.error.code).toBe('not_found');
    const missingAsset = await server.request('GET', '/assets/no-such-file.js', { token: null });
    expect(missingAsset.status).toBe(404);
    const stream = await server.request('GET', '/v1/stream/incidents', { token: null });
    expect(stream.status).toBe(401);
  });

  it('refuses an unknown token in words, then opens with a pasted token', async () => {
    await page.goto(server.baseUrl);
    await page.getByLabel('API token').fill('opx_not_a_real_token');
    await page.getByRole('button', { name: 'Open the console' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('the token is unknown or revoked');
    await page.getByLabel('API token').fill(consoleToken);
    await page.getByRole('button', { name: 'Open the console' }).click();
    await page.getByRole('heading', { name: 'Incidents' }).waitFor();
    expect(await page.evaluate('sessionStorage.getItem("opx.token")')).toBe(consoleToken);
  });

  it('lists incidents, filters them, and shows a new one as it opens (server-sent events)', async () => {
    const title = '5xx ratio above 5% on api-gateway';
    await page.getByRole('link', { name: title }).waitFor();
    await page.getByText('Live: changes appear').waitFor();
    await shot('incidents');

    await page.getByLabel('Search').fill('no-such-thing');
    await page.waitForURL(/\?q=no-such-thing$/);
    await page.getByText('No incident matches these filters').waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForURL((url) => url.search === '');
    await page.getByRole('link', { name: title }).waitFor();
    expect(await page.getByLabel('Search').inputValue()).toBe('');
  });

  it('searches and filters by the address: text, status and severity chips, service, and the back button', async () => {
    const title = '5xx ratio above 5% on api-gateway';
    const rows = () => page.locator('table.incidents tbody tr').count();
    const all = await rows();
    const detail = await server.request('GET', `/v1/incidents/${incidentId}`, { token: server.tokens.read });
    const severity = detail.json.incident.severity as string;
    const other = severity === 'SEV4' ? 'SEV3' : 'SEV4';

    // Free text over titles and services, case-insensitive: the service name finds it.
    await page.getByLabel('Search').fill('API-GATEWAY');
    await page.waitForURL(/\?q=API-GATEWAY$/);
    await page.getByRole('link', { name: title }).waitFor();
    // Enter ends a search: the next one is a new entry in the history.
    await page.getByLabel('Search').press('Enter');
    await page.getByLabel('Search').fill('ratio above 5%');
    await page.waitForURL(/\?q=ratio%20above%205%25$/);
    await expect.poll(rows).toBe(1);

    // A chip narrows the rows and goes into the address; the back button undoes it.
    await page.getByRole('button', { name: other, exact: true }).click();
    await page.waitForURL(new RegExp(`\\?q=ratio%20above%205%25&severity=${other}$`));
    expect(await page.getByRole('button', { name: other, exact: true }).getAttribute('aria-pressed')).toBe(
      'true',
    );
    await page.getByText('No incident matches these filters').waitFor();
    await page.goBack();
    await page.waitForURL(/\?q=ratio%20above%205%25$/);
    await page.getByRole('link', { name: title }).waitFor();
    expect(await page.getByRole('button', { name: other, exact: true }).getAttribute('aria-pressed')).toBe(
      'false',
    );
    await page.goBack();
    await page.waitForURL(/\?q=API-GATEWAY$/);
    expect(await page.getByLabel('Search').inputValue()).toBe('API-GATEWAY');

    // A shared link opens with its filters applied: status chip, severity chip, service picker.
    await page.goto(`${server.baseUrl}/?status=OPEN,ADVISORY_READY,INVESTIGATING&severity=${severity}`);
    await page.getByRole('link', { name: title }).waitFor();
    expect(await page.getByRole('button', { name: severity, exact: true }).getAttribute('aria-pressed')).toBe(
      'true',
    );
    await page.getByRole('button', { name: 'RESOLVED', exact: true }).click();
    await page.waitForURL(/status=OPEN,INVESTIGATING,ADVISORY_READY,RESOLVED&severity=/);
    await page.getByLabel('Service').selectOption('api-gateway');
    await page.waitForURL(/&service=api-gateway$/);
    await page.getByRole('link', { name: title }).waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForURL((url) => url.search === '');
    await expect.poll(rows).toBe(all);
  });

  it('shows a new incident as it opens (server-sent events)', async () => {
    // In staging: in prod, checkout-service (which api-gateway calls) would join the open incident.
    const sent = await server.request('POST', '/v1/signals', {
      token: server.tokens.ingest,
      body: {
        service: 'checkout-service',
        title: 'Payment authorisations failing',
        severity: 'critical',
        environment: 'staging',
      },
    });
    expect(sent.status).toBe(200);
    // No reload: the row arrives through the stream.
    await page.getByRole('link', { name: /Payment authorisations failing/ }).waitFor();
  });

  it('opens the incident: five answers at the top, then findings with citations, trust, the evidence graph and the timeline', async () => {
    await page.getByRole('link', { name: '5xx ratio above 5% on api-gateway' }).click();
    await page.locator('#answer-broken').waitFor();
    const read = (route: string) => server.request('GET', route, { token: server.tokens.read });
    const { incident } = (await read(`/v1/incidents/${incidentId}`)).json;
    const investigation = (await read(`/v1/incidents/${incidentId}/investigations`)).json.items.find(
      (item: { status: string }) => item.status === 'completed',
    );
    const data = (agent: string) =>
      investigation.findings.find((finding: { agent: string }) => finding.agent === agent).data;

    // What is broken: the origin, the services, severity, status and since when.
    const broken = page.locator('#answer-broken');
    await broken
      .getByText(`Origin ${incident.rootService}; affected: ${incident.services.join(', ')}`)
      .waitFor();
    expect(await broken.locator('.badge').allTextContents()).toEqual([
      incident.severity,
      incident.status.replace('_', ' '),
    ]);
    await broken.getByText(/since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \((\d+ min|just now)/).waitFor();
    // What caused it: the probable origin, the top suspect change with its score, and the trust.
    const cause = page.locator('#answer-cause');
    const origin = data('response-strategy').probableRootCause;
    const culprit = data('change-intelligence').ranked[0];
    expect(culprit.summary).toContain('auth-service v2.15.0');
    await cause
      .getByText(`Probable origin ${origin.service} (confidence ${origin.confidence.toFixed(2)})`)
      .waitFor();
    await cause.getByText(`“${culprit.summary}”`).waitFor();
    await cause.getByText(culprit.changeId, { exact: true }).waitFor();
    await cause.getByText(`score ${culprit.score.toFixed(2)}`).waitFor();
    await cause
      .getByText(`Investigation trust ${data('response-strategy').trust.score.toFixed(2)}`, { exact: true })
      .waitFor();
    // What else is at risk: the callers that do not alert yet.
    const radius = data('risk-blast-radius');
    const quiet = (radius.impacted as string[]).filter((name) => !incident.services.includes(name));
    expect(quiet.length).toBeGreaterThan(0);
    for (const name of quiet) await page.locator('#answer-risk').getByText(name, { exact: true }).waitFor();
    // Has it happened before: the closest past incident from the imported history, linked.
    const closest = data('historical-pattern').similar[0];
    expect((await read(`/v1/incidents/${closest.incidentId}`)).json.incident.status).toBe('RESOLVED');
    expect(
      await page.locator('#answer-before').getByRole('link', { name: closest.title }).getAttribute('href'),
    ).toBe(`/incidents/${closest.incidentId}`);
    // What to do now: the first recommendation, with its decision.
    const first = (await read(`/v1/incidents/${incidentId}/recommendations`)).json.items[0];
    const now = page.locator('#answer-now');
    expect(await now.locator('.recommendation-title').textContent()).toBe(`#${first.rank} ${first.title}`);
    await now.getByRole('button', { name: 'Approve' }).waitFor();
    await now.getByRole('button', { name: 'Reject' }).waitFor();
    // All of it above the fold of a 1400×900 window.
    await page.evaluate('window.scrollTo(0, 0)');
    const box = await page.getByRole('region', { name: 'The incident in five answers' }).boundingBox();
    expect(box).not.toBeNull();
    expect(box!.y + box!.height).toBeLessThanOrEqual(900);

    // The details are folded below; each opens by its heading.
    await unfold(page, 'Trust');
    await page.getByText('overall trust').waitFor();
    await unfold(page, 'Findings');
    for (const agent of ['signal-intelligence', 'change-intelligence', 'response-strategy'])
      await page.getByRole('heading', { name: agent, exact: true }).waitFor();
    await unfold(page, 'Evidence');
    // Cytoscape draws into canvases inside the graph container.
    await page.locator('.graph canvas').first().waitFor();
    // A cited runbook section renders as Markdown and links to its whole document at that section.
    const section = page
      .locator('.evidence-item', { has: page.locator('a[href^="/kb/documents/"]') })
      .first();
    await section.waitFor();
    expect(await section.locator('.excerpt-markdown').textContent()).not.toContain('```');
    expect(await section.locator('a[href^="/kb/documents/"]').getAttribute('href')).toMatch(
      /^\/kb\/documents\/[^?]+\?chunk=/,
    );
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    // Each signal says why it is on the incident.
    await page.getByRole('columnheader', { name: 'Joined by' }).waitFor();
    await page.getByRole('cell', { name: 'rule critical-signal', exact: true }).first().waitFor();
    // The reporter's address in the third alert was redacted at ingest, on this incident.
    await page
      .getByText(/anonymize EMAIL in ingest/)
      .first()
      .waitFor();
    await page.evaluate('window.scrollTo(0, 0)');
    await shot('incident');

    // A citation jumps to its evidence and moves the focus there.
    const citation = page.locator('.finding .citation').first();
    const cited = await citation.textContent();
    await citation.click();
    const target = page.locator(`[id="ev-${cited}"]`);
    await expect.poll(() => target.getAttribute('class')).toContain('selected');
    expect(await page.evaluate('document.activeElement?.id')).toBe(`ev-${cited}`);
    await page
      .locator('.evidence')
      .screenshot({ path: path.join(ARTIFACTS, `console-evidence-${backend}.png`) });
    if (docs)
      copyFileSync(
        path.join(ARTIFACTS, `console-evidence-${backend}.png`),
        path.join(DOCS_IMAGES, 'console-evidence.png'),
      );
  });

  it('approves the first recommendation from the top of the page, only with a reason, and the approval is on the incident through the API', async () => {
    const other = await secondConsole();
    await page.evaluate('window.scrollTo(0, 0)');
    const card = page.locator('#answer-now');
    const title = (await card.locator('.recommendation-title').textContent()) ?? '';
    await card.getByRole('button', { name: 'Approve' }).click();
    await card.getByText('write a reason before you approve').waitFor();

    const reason = 'matches the auth-service deploy; rolling back';
    // Keyboard only: the reason box, then Tab to the Approve button and Enter.
    await card.getByLabel(/Reason/).fill(reason);
    await card.getByLabel(/Reason/).press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Approve');
    await page.keyboard.press('Enter');
    // The answer moves on to the next recommendation and says what was decided; the full list shows it.
    await card.getByText(/Last decision: #1 approved by token:on-call-console/).waitFor();
    expect(await card.locator('.recommendation-title').textContent()).not.toBe(title);
    await unfold(page, 'Recommendations');
    await page
      .locator('.recommendation')
      .first()
      .getByText(/Approved by token:on-call-console/)
      .waitFor();
    const approved = `token:on-call-console approved “${title.replace(/^#\d+ /, '')}”: “${reason}”`;
    await onTimeline(page, approved);
    await shot('approved');
    // The second console shows the decision without a reload.
    await onTimeline(other, approved);
    await other
      .locator('#answer-now')
      .getByText(/Last decision: #1 approved by token:on-call-console/)
      .waitFor();
    await other.close();

    const events = await server.request('GET', `/v1/incidents/${incidentId}/events`, {
      token: server.tokens.read,
    });
    const approval = (
      events.json.items as { type: string; principal: string; data: Record<string, unknown> }[]
    ).find((event) => event.type === 'recommendation_approved');
    expect(approval).toMatchObject({ principal: 'token:on-call-console', data: { reason } });
    expect(title).toContain(approval?.data.title as string);
    const chain = await server.request('GET', `/v1/incidents/${incidentId}/verify`, {
      token: server.tokens.read,
    });
    expect(chain.json.valid).toBe(true);
  });

  it('runs the incident: acknowledge, then resolve with its root cause, seen live by a second console', async () => {
    const title = '5xx ratio above 5% on api-gateway';
    const other = await secondConsole();
    await other.getByRole('heading', { name: title }).waitFor();

    const panel = page.getByRole('region', { name: 'Run the incident' });
    await panel.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => headerStatus(page).textContent()).toBe('ACKNOWLEDGED');
    await expect.poll(() => headerStatus(other).textContent(), { timeout: 10_000 }).toBe('ACKNOWLEDGED');
    // The lifecycle allows no second acknowledgement: the button says why it is off.
    const acknowledge = panel.getByRole('button', { name: 'Acknowledge' });
    expect(await acknowledge.isDisabled()).toBe(true);
    expect(await acknowledge.getAttribute('title')).toContain('ACKNOWLEDGED already');

    const rootCause = 'auth-service v2.15.0 shrank its connection pool';
    const resolution = 'rolled auth-service back to v2.14.0';
    await panel.getByLabel('Root cause').fill(rootCause);
    await panel.getByLabel('Resolution').fill(resolution);
    await panel.getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(() => headerStatus(page).textContent()).toBe('RESOLVED');
    await page.getByText(`Root cause: ${rootCause}`, { exact: true }).waitFor();
    expect(await panel.getByRole('button', { name: 'Mitigate' }).getAttribute('title')).toContain(
      'RESOLVED → MITIGATED',
    );
    expect(await panel.getByRole('button', { name: 'Reopen' }).isDisabled()).toBe(false);
    await expect.poll(() => headerStatus(other).textContent(), { timeout: 10_000 }).toBe('RESOLVED');
    await other.getByText(`Resolution: ${resolution}`, { exact: true }).waitFor();

    // Both moves are sentences on the timeline, with who made them.
    const timeline = page.getByRole('region', { name: 'Timeline' });
    await timeline.getByText('token:on-call-console acknowledged', { exact: true }).waitFor();
    await timeline
      .getByText(`token:on-call-console resolved it; root cause: ${rootCause}; resolution: ${resolution}`, {
        exact: true,
      })
      .waitFor();

    const detail = await server.request('GET', `/v1/incidents/${incidentId}`, { token: server.tokens.read });
    expect(detail.json.incident).toMatchObject({ status: 'RESOLVED', rootCause, resolution });
    expect(detail.json.incident.acknowledgedAt).not.toBeNull();
    const events = await server.request('GET', `/v1/incidents/${incidentId}/events`, {
      token: server.tokens.read,
    });
    const moves = (events.json.items as { type: string; principal: string; data: { to?: string } }[])
      .filter((event) => event.type === 'status_changed' && event.principal === 'token:on-call-console')
      .map((event) => event.data.to);
    expect(moves).toEqual(['ACKNOWLEDGED', 'RESOLVED']);
    await other.close();
  });

  it('changes the severity with a reason and adds a note, both on the timeline; API errors show in words', async () => {
    const other = await secondConsole();
    const panel = page.getByRole('region', { name: 'Run the incident' });
    const detail = await server.request('GET', `/v1/incidents/${incidentId}`, { token: server.tokens.read });
    const next = detail.json.incident.severity === 'SEV1' ? 'SEV2' : 'SEV1';
    await panel.getByLabel('New severity').selectOption(next);
    await panel.getByRole('button', { name: 'Change severity' }).click();
    await panel.getByText('write a reason').waitFor();
    const reason = 'checkout errors reach customers';
    await panel.getByLabel('Reason (required)').fill(reason);
    await panel.getByRole('button', { name: 'Change severity' }).click();
    const timeline = page.getByRole('region', { name: 'Timeline' });
    const direction = next === 'SEV1' ? 'raised' : 'lowered';
    const changed = `token:on-call-console ${direction} the severity ${detail.json.incident.severity} → ${next}: “${reason}”`;
    await onTimeline(page, changed);
    await expect.poll(() => page.locator('#answer-broken .badge').first().textContent()).toBe(next);
    await onTimeline(other, changed);
    await expect
      .poll(() => other.locator('#answer-broken .badge').first().textContent(), { timeout: 10_000 })
      .toBe(next);

    await panel.getByLabel('Note for the timeline').fill('paged the auth-service owner');
    await panel.getByRole('button', { name: 'Add note' }).click();
    await onTimeline(page, 'token:on-call-console noted: “paged the auth-service owner”');
    expect(await panel.getByLabel('Note for the timeline').inputValue()).toBe('');
    await onTimeline(other, 'token:on-call-console noted: “paged the auth-service owner”');
    await other.close();

    // The signals' joins read as sentences, and the chain's verification is a badge with its length.
    for (const signal of detail.json.signals as {
      title: string;
      service: string;
      joinedBy: { kind: string; rule: string };
    }[]) {
      const sentence = `Alert '${signal.title}' on ${signal.service} joined: `;
      const reason = signal.joinedBy.kind === 'rule' ? `rule ${signal.joinedBy.rule}` : '';
      await timeline.getByText(reason ? sentence + reason : sentence, { exact: Boolean(reason) }).waitFor();
    }
    const verified = async () =>
      (await server.request('GET', `/v1/incidents/${incidentId}/verify`, { token: server.tokens.read })).json;
    expect((await verified()).valid).toBe(true);
    await expect
      .poll(async () => timeline.locator('.badge-chain-verified').textContent())
      .toBe(`chain verified, ${(await verified()).events} events`);
    await page.getByRole('heading', { name: 'Findings' }).waitFor();
    await shot('respond');

    // The API refuses (here: a stand-in answer) and the words appear beside the control, not a blank page.
    await page.route('**/v1/incidents/*/notes', (route) =>
      route.fulfill({
        status: 409,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'conflict', message: 'the store refused this note' } }),
      }),
    );
    await panel.getByLabel('Note for the timeline').fill('one more');
    await panel.getByRole('button', { name: 'Add note' }).click();
    await panel.getByRole('alert').getByText('the store refused this note (conflict)').waitFor();
    await page.unroute('**/v1/incidents/*/notes');
    // The browser logs the refused request; that one is on purpose.
    const logged = () => browserErrors.findIndex((text) => text.includes('status of 409'));
    await expect.poll(logged).toBeGreaterThanOrEqual(0);
    browserErrors.splice(logged(), 1);

    const events = await server.request('GET', `/v1/incidents/${incidentId}/events`, {
      token: server.tokens.read,
    });
    const items = events.json.items as { type: string; data: Record<string, unknown> }[];
    expect(
      items.find((event) => event.type === 'severity_changed' && event.data.reason === reason),
    ).toBeTruthy();
    expect(items.filter((event) => event.type === 'note_added')).toHaveLength(1);
  });

  it('disables every control for a read token, saying why', async () => {
    const reader = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    reader.on('pageerror', (error) => browserErrors.push(`read page: ${error.message}`));
    await signIn(reader, server.baseUrl, server.tokens.read);
    await reader.goto(`${server.baseUrl}/incidents/${incidentId}`);
    const panel = reader.getByRole('region', { name: 'Run the incident' });
    await panel.getByText('Read only: needs a token with the respond scope').waitFor();
    for (const name of [
      'Acknowledge',
      'Mitigate',
      'Close',
      'Reopen',
      'Resolve',
      'Change severity',
      'Add note',
    ]) {
      const button = panel.getByRole('button', { name, exact: true });
      await expect
        .poll(() => button.getAttribute('title'), { message: name })
        .toBe('needs a token with the respond scope; token:test-read has read');
      expect(await button.isDisabled(), name).toBe(true);
    }

    // An investigation completed here; had it proposed nothing, the page says so, not "wait for one".
    await reader.route(`**/v1/incidents/${incidentId}/recommendations`, (route) =>
      route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ items: [] }) }),
    );
    await reader.reload();
    const investigation = (
      await server.request('GET', `/v1/incidents/${incidentId}/investigations`, { token: server.tokens.read })
    ).json.items.find((item: { status: string }) => item.status === 'completed');
    await reader
      .locator('#answer-now')
      .getByText(`No recommendations: investigation ${investigation.id} completed and proposed none.`)
      .waitFor();
    // The incident from staging was never investigated: the answers say that, not "wait for one".
    await reader.goto(server.baseUrl);
    await reader.getByRole('link', { name: /Payment authorisations failing/ }).click();
    await reader
      .locator('#answer-now')
      .getByText('No recommendations: no investigation has run on this incident yet.')
      .waitFor();
    await reader
      .locator('#answer-cause')
      .getByText('No completed investigation yet: none has started.')
      .waitFor();
    await reader.locator('#answer-before').getByText('No completed investigation yet').waitFor();
    await reader.close();
  });

  it('fits a phone: cards instead of the table at 390 px, and no page scrolls sideways', async () => {
    const phone = await browser.newPage({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    phone.on('pageerror', (error) => browserErrors.push(`phone: ${error.message}`));
    await signIn(phone, server.baseUrl, consoleToken);
    const card = phone.locator('.incident-cards li').first();
    await card.waitFor();
    expect(await phone.locator('table.incidents').isVisible()).toBe(false);
    expect(await phone.locator('.incident-cards li').count()).toBeGreaterThan(1);
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await screenshot(phone, docs ? 'phone-incidents' : `phone-incidents-${backend}`, { docs });

    await phone.getByRole('link', { name: '5xx ratio above 5% on api-gateway' }).click();
    await phone.getByRole('heading', { name: 'Run the incident' }).waitFor();
    // The five answers stack in one column inside the screen's width.
    await phone.locator('#answer-now .recommendation-title').waitFor();
    for (const answer of ['broken', 'cause', 'risk', 'before', 'now']) {
      const box = await phone.locator(`#answer-${answer}`).boundingBox();
      expect(box, answer).not.toBeNull();
      expect(box!.x, answer).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width, answer).toBeLessThanOrEqual(390);
    }
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await screenshot(phone, docs ? 'phone-incident-top' : `phone-incident-top-${backend}`, { docs });
    await unfold(phone, 'Findings');
    await unfold(phone, 'Evidence');
    await phone.locator('.graph canvas').first().waitFor();
    await phone.getByRole('heading', { name: 'Timeline' }).waitFor();
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await screenshot(phone, `phone-incident-${backend}`, { docs: false });
    // Every other page too: none scrolls sideways at 390 px (a wide table scrolls inside its own box).
    for (const [route, heading] of [
      ['/costs', 'Model cost'],
      ['/notifications', 'Notifications'],
      ['/alarms', 'Alarms'],
      ['/safety', 'Guardrails and validation'],
      ['/kb', 'Knowledge base'],
    ] as const) {
      await phone.goto(`${server.baseUrl}${route}`);
      await phone.getByRole('heading', { name: heading, level: 1 }).waitFor();
      await phone.waitForLoadState('networkidle');
      expect(await phone.evaluate('document.documentElement.scrollWidth'), route).toBeLessThanOrEqual(390);
    }
    await phone.close();
  });

  it('shows notification deliveries: dead letters with their errors, redriven only with an admin token', async () => {
    // Three channels at local receivers that each fail their next request, and a route to them.
    const channels = [
      {
        name: 'oncall-hook',
        type: 'webhook',
        secret: { url: `${receivers.url}/webhook/opx`, hmacSecret: HOOK_SECRET },
      },
      { name: 'oncall-chat', type: 'slack', secret: { url: `${receivers.url}/slack/T000/B000/secretpart` } },
      { name: 'oncall-cards', type: 'teams', secret: { url: `${receivers.url}/teams/workflow/secretpart` } },
    ];
    for (const body of channels) {
      const created = await server.request('POST', '/v1/notifications/channels', { body });
      expect(created.status, created.text).toBe(201);
    }
    const route = await server.request('POST', '/v1/notifications/routes', {
      body: {
        name: 'payments-qa',
        match: { environments: ['qa'] },
        channels: channels.map((item) => item.name),
      },
    });
    expect(route.status, route.text).toBe(201);
    receivers.failNext('webhook', [{ status: 500, body: 'receiver down for maintenance' }]);
    receivers.failNext('slack', [{ status: 500 }]);
    receivers.failNext('teams', [{ status: 500 }]);
    const title = 'Card payments declined in qa';
    const sent = await server.request('POST', '/v1/signals', {
      token: server.tokens.ingest,
      body: { service: 'payments-api', title, severity: 'critical', environment: 'qa' },
    });
    expect(sent.status, sent.text).toBe(200);
    const notifiedId = sent.json.signals[0].incidentIds[0] as string;

    type Listed = { id: string; channelName: string; status: string; lastError: string | null };
    const listed = async () =>
      (
        await server.request('GET', `/v1/notifications/deliveries?incidentId=${notifiedId}`, {
          token: server.tokens.read,
        })
      ).json.items as Listed[];
    const state = async (id: string) =>
      (await server.request('GET', `/v1/notifications/deliveries/${id}`, { token: server.tokens.read })).json
        .status as string;
    // The notification worker of `opx serve`, here in the test's process.
    const stop = new AbortController();
    const worker = runNotificationWorker(server.runtime, { signal: stop.signal, log: () => undefined });
    try {
      await expect
        .poll(async () => (await listed()).map((item) => `${item.channelName} ${item.status}`).sort(), {
          timeout: 30_000,
        })
        .toEqual(['oncall-cards dead', 'oncall-chat dead', 'oncall-hook dead']);
      const deliveries = await listed();
      const of = (name: string) => deliveries.find((item) => item.channelName === name)!;
      const [hook, chat, cards] = [of('oncall-hook'), of('oncall-chat'), of('oncall-cards')];
      expect(hook.lastError).toBe('webhook answered 500 receiver down for maintenance');
      const row = (on: Page, id: string) => on.locator(`tr[data-delivery="${id}"]`);

      // The on-call console's token reads and responds but does not administer: redrive is off, saying why.
      await page.getByRole('link', { name: 'Notifications', exact: true }).click();
      await page.getByRole('heading', { name: 'Notifications', exact: true }).waitFor();
      const dead = row(page, hook.id);
      await dead.getByText('webhook answered 500 receiver down for maintenance').waitFor();
      expect(await dead.locator('.badge').textContent()).toBe('dead');
      expect(await dead.getAttribute('class')).toContain('delivery-dead');
      expect(await dead.getByRole('link', { name: title }).getAttribute('href')).toBe(
        `/incidents/${notifiedId}`,
      );
      await dead.getByText('oncall-hook', { exact: true }).waitFor();
      await dead.getByText('webhook', { exact: true }).waitFor();
      const redrive = dead.getByRole('button', { name: 'Redrive' });
      // Disabled while the console asks what the token may do, then for the reason it gives.
      await expect
        .poll(() => redrive.getAttribute('title'))
        .toBe('needs a token with the admin scope; token:on-call-console has read, respond');
      expect(await redrive.isDisabled()).toBe(true);

      // The status filter is in the address, and the back button undoes it.
      await page.getByRole('button', { name: 'dead (failed)' }).click();
      await page.waitForURL(/\/notifications\?status=dead$/);
      await row(page, cards.id).waitFor();
      await page.getByRole('button', { name: 'sent', exact: true }).click();
      await page.waitForURL(/\/notifications\?status=sent$/);
      await page.getByText('No sent deliveries').waitFor();
      await page.goBack();
      await page.waitForURL(/\/notifications\?status=dead$/);
      await row(page, hook.id).waitFor();
      expect(await page.getByRole('button', { name: 'dead (failed)' }).getAttribute('aria-pressed')).toBe(
        'true',
      );

      // Where messages go: channels without their secrets, and the route with its matchers and channels.
      const channelList = page.getByRole('region', { name: 'Channels', exact: true });
      await channelList.getByRole('rowheader', { name: 'oncall-hook' }).waitFor();
      for (const name of ['oncall-chat', 'oncall-cards'])
        await channelList.getByRole('rowheader', { name }).waitFor();
      const shown = (await page.locator('main').textContent()) ?? '';
      for (const secret of [HOOK_SECRET, 'secretpart', receivers.url]) expect(shown).not.toContain(secret);
      const routeRow = page
        .getByRole('region', { name: 'Routes', exact: true })
        .getByRole('row', { name: /payments-qa/ });
      await routeRow.getByRole('cell', { name: 'environments qa' }).waitFor();
      await routeRow.getByRole('cell', { name: 'oncall-hook, oncall-chat, oncall-cards' }).waitFor();
      await shot('notifications');

      // An admin redrives the dead webhook delivery; the receiver answers 200 now, and it ends sent.
      const admin = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      admin.on('pageerror', (error) => browserErrors.push(`admin page: ${error.message}`));
      await signIn(admin, server.baseUrl, server.tokens.admin);
      await admin.getByRole('link', { name: 'Notifications', exact: true }).click();
      const adminRow = row(admin, hook.id);
      // The console asks what the token may do before it enables the button and says what it does.
      await expect
        .poll(() => adminRow.getByRole('button', { name: 'Redrive' }).getAttribute('title'))
        .toBe('Send this delivery again with a fresh set of attempts');
      await adminRow.getByRole('button', { name: 'Redrive' }).click();
      // The row is read again at once: no longer dead, so no redrive.
      await expect.poll(() => adminRow.getAttribute('class')).not.toContain('delivery-dead');
      expect(await adminRow.getByRole('button', { name: 'Redrive' }).count()).toBe(0);
      await expect.poll(() => state(hook.id), { timeout: 30_000 }).toBe('sent');
      await admin.getByRole('button', { name: 'Refresh' }).click();
      await expect.poll(() => adminRow.locator('.badge').textContent()).toBe('sent');
      expect(
        receivers.received.webhook.filter(
          (request) => request.headers['x-opx-delivery'] === hook.id && request.answered === 200,
        ),
      ).toHaveLength(1);

      // Someone else redrove the Slack delivery meanwhile: this page still offers it, and the API's
      // refusal appears in words beside the button, the row read again.
      expect((await server.request('POST', `/v1/notifications/deliveries/${chat.id}/redrive`)).status).toBe(
        200,
      );
      const stale = row(admin, chat.id);
      await stale.getByRole('button', { name: 'Redrive' }).click();
      await stale
        .getByRole('alert')
        .getByText(
          new RegExp(
            `delivery ${chat.id} is (pending|sent); only a dead delivery is redriven \\(conflict\\)`,
          ),
        )
        .waitFor();
      await expect.poll(() => stale.locator('.badge').textContent()).not.toBe('dead');

      // The incident's own page lists its deliveries, the dead one with its error. (This page, not the
      // main one: an incident never investigated answers 404 for its evidence, which the browser logs.)
      await admin.goto(`${server.baseUrl}/incidents/${notifiedId}`);
      const section = admin.getByRole('region', { name: 'Notifications', exact: true });
      await section.locator(`tr[data-delivery="${hook.id}"]`).getByText('sent', { exact: true }).waitFor();
      await section.locator(`tr[data-delivery="${cards.id}"]`).getByText('teams answered 500').waitFor();
      expect(await section.locator('tr.delivery').count()).toBe(3);
      await admin.close();
    } finally {
      stop.abort();
      await worker;
    }
  });

  it('has no serious or critical axe-core violations on the incidents list, the incident page and the notifications page', async () => {
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1400, height: 900 } });
    const checked = await context.newPage();
    try {
      await signIn(checked, server.baseUrl, consoleToken);
      await checked.getByRole('link', { name: '5xx ratio above 5% on api-gateway' }).waitFor();
      await checked.getByText('Live: changes appear').waitFor();
      expect(await axeViolations(checked)).toEqual([]);
      // With filters on, the chips pressed.
      await checked.getByRole('button', { name: 'RESOLVED', exact: true }).click();
      await checked.waitForURL(/status=RESOLVED/);
      await checked.getByRole('link', { name: '5xx ratio above 5% on api-gateway' }).waitFor();
      expect(await axeViolations(checked)).toEqual([]);

      await checked.getByRole('link', { name: '5xx ratio above 5% on api-gateway' }).click();
      await checked.locator('#answer-now').waitFor();
      await checked.getByRole('heading', { name: 'Timeline' }).waitFor();
      expect(await axeViolations(checked)).toEqual([]);
      // And with every fold open.
      for (const heading of ['Trust', 'Recommendations', 'Findings', 'Evidence'])
        await unfold(checked, heading);
      await checked.getByText('Event ids and hashes', { exact: true }).click();
      await checked.locator('.graph canvas').first().waitFor();
      expect(await axeViolations(checked)).toEqual([]);
      // And on a phone.
      await checked.setViewportSize({ width: 390, height: 844 });
      expect(await axeViolations(checked)).toEqual([]);
      await checked.setViewportSize({ width: 1400, height: 900 });

      // The notifications page, a dead letter on it.
      await checked.getByRole('link', { name: 'Notifications', exact: true }).click();
      await checked.locator('tr.delivery-dead').first().waitFor();
      await checked.getByRole('heading', { name: 'Routes' }).waitFor();
      expect(await axeViolations(checked)).toEqual([]);

      // Focus rings outline the focused control only: <main>, which takes the focus on every page
      // change, once drew the amber ring around the whole page (a line under the header).
      // Runs in the page: the test's own types know no DOM.
      const ring = (selector: string) =>
        checked.evaluate(
          `(() => { const style = getComputedStyle(document.querySelector(${JSON.stringify(selector)})); return style.outlineStyle + ' ' + style.boxShadow; })()`,
        );
      await checked.getByRole('link', { name: 'Incidents', exact: true }).focus();
      await checked.keyboard.press('Enter');
      await checked.getByRole('heading', { name: 'Incidents' }).waitFor();
      expect(await checked.evaluate('document.activeElement?.id')).toBe('main');
      expect(await ring('#main')).toBe('none none');
      await checked.keyboard.press('Tab');
      const focused = (await checked.evaluate('document.activeElement?.tagName')) as string;
      expect(['A', 'BUTTON', 'INPUT', 'SELECT']).toContain(focused);
      expect(await ring(':focus')).toMatch(/^solid rgb\(255, 176, 0\) 0px 0px 0px 5px$/);
    } finally {
      await context.close();
    }
  });

  it('shows cost per day, agent and model with the budget gauge', async () => {
    await page.getByRole('link', { name: 'Costs' }).click();
    await page.getByRole('heading', { name: 'Monthly budget' }).waitFor();
    await page.getByRole('heading', { name: 'Per agent' }).waitFor();
    await page.getByRole('rowheader', { name: 'gpt-4.1-mini' }).waitFor();
    const report = await server.request('GET', '/v1/analytics/tokens', { token: server.tokens.read });
    expect(report.json.total.calls).toBeGreaterThan(0);
    await page.getByText(`${report.json.total.calls}`, { exact: true }).first().waitFor();
    await shot('costs');
  });

  it('shows the alarms, the guardrail violations and the knowledge-base search', async () => {
    await page.getByRole('link', { name: 'Alarms' }).click();
    await page.getByRole('rowheader', { name: 'TokenAnalytics-BudgetWarning-80pct' }).waitFor();
    await shot('alarms');

    await page.getByRole('link', { name: 'Guardrails & validation' }).click();
    await page.getByRole('heading', { name: 'Guardrail violations (all time)' }).waitFor();
    await page.getByRole('cell', { name: 'incoming signal or change' }).first().waitFor();
    await shot('guardrails');

    await page.getByRole('link', { name: 'Knowledge base' }).click();
    await page.getByLabel('Symptoms').fill('5xx error rate after a deploy');
    await page.getByLabel('Service').fill('api-gateway');
    await page.getByRole('button', { name: 'Search' }).click();
    await page
      .getByRole('list', { name: 'Search results' })
      .getByText('api-gateway high 5xx error rate')
      .first()
      .waitFor();
    await shot('kb');
    expect(browserErrors).toEqual([]);
  });
});

describe.skipIf(NO_BROWSER)('`npm run demo`, then `opx serve`, in Chromium', () => {
  let dir: string;
  let serve: OpxProcess | undefined;
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
    serve?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the demo incident with the token and address the demo prints, live in a second console and on the chain', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'opx-console-demo-'));
    const dataDir = path.join(dir, 'demo');
    const demo = spawnSync(
      process.execPath,
      [
        path.join(REPO_ROOT, 'bin', 'opx.js'),
        '--data-dir',
        dataDir,
        '--json',
        'demo',
        '--service',
        'api-gateway',
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, OPX_ADMIN_TOKEN: '', OPX_DATABASE_URL: '', OPX_LOG_LEVEL: 'silent' },
      },
    );
    expect(demo.status, demo.stderr).toBe(0);
    const printed = JSON.parse(demo.stdout) as {
      incidentId: string;
      incident: { title: string; severity: string };
      console: { command: string; url: string; token: string };
    };
    expect(printed.console.command).toContain('serve');
    // The command the demo printed, run from where the demo ran, on a free port instead of 8080.
    const [npx, opx, ...args] = printed.console.command.split(' ');
    expect([npx, opx]).toEqual(['npx', 'opx']);
    serve = spawnOpx([...args, '--port', '0'], { OPX_ADMIN_TOKEN: '', OPX_DATABASE_URL: '' });
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`opx serve did not start: ${serve!.output()}`)),
        30_000,
      );
      serve!.stdout.on('data', () => {
        const match = /opx listening on (http:\/\/\S+)/.exec(serve!.output());
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const { token } = printed.console;
    const api = async (route: string) => {
      const response = await fetch(`${address}${route}`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status, route).toBe(200);
      return (await response.json()) as Record<string, unknown>;
    };
    // The timeline names who acted: the token, by its principal name.
    const principal = ((await api('/v1/whoami')) as { name: string }).name;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    // The main console runs with the page's policy bypassed only so that axe-core can be injected.
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const incidentUrl = printed.console.url.replace('http://127.0.0.1:8080', address);
    await page.goto(incidentUrl);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Open the console' }).click();
    await page.getByRole('heading', { name: printed.incident.title }).waitFor();
    await page
      .locator('#answer-cause')
      .getByText(/^Investigation trust \d\.\d\d$/)
      .waitFor();
    await page.locator('#answer-now .recommendation-title').waitFor();
    await page.getByText('Live: changes appear').waitFor();
    expect(await axeViolations(page)).toEqual([]);

    const other = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await signIn(other, address, token);
    await other.goto(incidentUrl);
    await other.getByText('Live: changes appear').waitFor();
    const onBoth = async (sentence: string) => {
      for (const on of [page, other])
        await on
          .getByRole('region', { name: 'Timeline' })
          .getByText(sentence, { exact: true })
          .waitFor({ timeout: 10_000 });
    };
    const status = (on: Page) => on.locator('#answer-broken .badge').nth(1).textContent();
    const panel = page.getByRole('region', { name: 'Run the incident' });

    await panel.getByRole('button', { name: 'Acknowledge' }).click();
    await onBoth(`${principal} acknowledged`);
    await expect.poll(() => status(other), { timeout: 10_000 }).toBe('ACKNOWLEDGED');

    const next = printed.incident.severity === 'SEV1' ? 'SEV2' : 'SEV1';
    const severityReason = 'the evidence says customers see it';
    await panel.getByLabel('New severity').selectOption(next);
    await panel.getByLabel('Reason (required)').fill(severityReason);
    await panel.getByRole('button', { name: 'Change severity' }).click();
    const direction = next === 'SEV1' ? 'raised' : 'lowered';
    await onBoth(
      `${principal} ${direction} the severity ${printed.incident.severity} → ${next}: “${severityReason}”`,
    );

    await panel.getByLabel('Note for the timeline').fill('paged the auth-service owner');
    await panel.getByRole('button', { name: 'Add note' }).click();
    await onBoth(`${principal} noted: “paged the auth-service owner”`);

    const card = page.locator('#answer-now');
    const title = ((await card.locator('.recommendation-title').textContent()) ?? '').replace(/^#\d+ /, '');
    const approveReason = 'the runbook step fits';
    await card.getByLabel(/Reason/).fill(approveReason);
    await card.getByRole('button', { name: 'Approve' }).click();
    await onBoth(`${principal} approved “${title}”: “${approveReason}”`);

    const rootCause = 'auth-service v2.15.0 shrank its connection pool';
    const resolution = 'rolled auth-service back';
    await panel.getByLabel('Root cause').fill(rootCause);
    await panel.getByLabel('Resolution').fill(resolution);
    await panel.getByRole('button', { name: 'Resolve' }).click();
    await onBoth(`${principal} resolved it; root cause: ${rootCause}; resolution: ${resolution}`);
    await expect.poll(() => status(other), { timeout: 10_000 }).toBe('RESOLVED');

    // Every move is on the hash chain, which still verifies.
    const { items } = (await api(`/v1/incidents/${printed.incidentId}/events`)) as {
      items: { type: string; principal: string }[];
    };
    // (The demo token also sent the demo's alerts: the incident's opening events are its too.)
    const moves = ['status_changed', 'severity_changed', 'note_added', 'recommendation_approved'];
    expect(
      items
        .filter((event) => event.principal === principal && moves.includes(event.type))
        .map((event) => event.type),
    ).toEqual([
      'status_changed',
      'severity_changed',
      'note_added',
      'recommendation_approved',
      'status_changed',
    ]);
    expect(await api(`/v1/incidents/${printed.incidentId}/verify`)).toMatchObject({ valid: true });

    // The note's words find the incident from the list's search box (notes are encrypted at rest).
    await other.goto(address);
    await other.getByLabel('Search').fill('the AUTH-SERVICE owner');
    await other.waitForURL(/\?q=the%20AUTH-SERVICE%20owner$/);
    await other.getByRole('link', { name: printed.incident.title }).first().waitFor();
    await other.getByLabel('Search').fill('nobody wrote this');
    await other.getByText('No incident matches these filters').waitFor();

    // The same page on a phone: nothing scrolls sideways, and axe-core finds nothing serious there either.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('heading', { name: 'Run the incident' }).waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(await axeViolations(page)).toEqual([]);
  });
});
