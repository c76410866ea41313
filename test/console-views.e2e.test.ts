import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../src/auth/tokens.js';
import { importKnowledge, readKnowledgeDirectory } from '../src/knowledge/import.js';
import { axeViolations, signIn } from './browser.js';
import { BACKENDS, insertAuthServiceDeploy, REPO_ROOT, type TestServer, testServer } from './support.js';

// The knowledge document view and the evidence graph's layout, in Chromium against a real server.
const CHROMIUM = '/usr/bin/chromium';
const IN_CI = !['', '0', 'false'].includes((process.env.CI ?? '').toLowerCase());
const NO_BROWSER = !existsSync(CHROMIUM) && !IN_CI;
if (NO_BROWSER)
  console.warn(`skipping the console view tests: ${CHROMIUM} is missing (apt-get install chromium)`);
const ARTIFACTS = path.join(REPO_ROOT, 'test', 'artifacts');
const CONSOLE_INDEX = path.join(REPO_ROOT, 'web', 'dist', 'index.html');

const filler = (topic: string) =>
  Array.from(
    { length: 6 },
    (_, index) =>
      `Step ${index + 1} of checking ${topic}: read the dashboard panel, compare it with the last good hour, and write down what differs before changing anything.`,
  ).join('\n\n');

/** A long runbook: the cited section is its last, far below the first screen. */
const RUNBOOK = `---
title: Auth service token failures
kind: runbook
services: [auth-service]
alerts: [TokenFailures]
---
# Auth service token failures

## Symptoms

${filler('the symptoms')}

## Diagnosis

${filler('the diagnosis')}

\`\`\`promql
sum(rate(auth_token_errors_total[5m])) by (reason)
\`\`\`

## Escalation

${filler('the escalation')}

## Mitigation

Quarantine the poisoned token cache, then roll the deploy back:

\`\`\`sh
kubectl -n auth rollout undo deploy/auth-service --to-revision=41
\`\`\`
`;

/** Markdown that tries to run script, in three ways; none may run. */
const HOSTILE = `---
title: Hostile runbook
kind: runbook
services: [api-gateway]
---
# Hostile runbook

## Payload

<script>window.__opxHacked = 'script'</script>

<img src="x" onerror="window.__opxHacked = 'img'">

A [link](javascript:window.__opxHacked='link') and inline <img src=y onerror="window.__opxHacked='inline'"> html.
`;

/** A picture of the page as it is, for a person to look at (test/artifacts is not committed). */
async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `console-views-${name}.png`) });
}

/**
 * A topology wider than the outage: web-frontend → api-gateway → auth-service → auth-db, with
 * catalog, search and orders beside them. api-gateway and web-frontend alert, so api-gateway is the
 * origin (the deepest alerting service); auth-service, which it calls, was deployed just before: the
 * culprit change, below the origin.
 */
async function prepare(server: TestServer, kbRoot: string): Promise<string> {
  const services = await server.request('POST', '/v1/services', {
    body: [
      { name: 'web-frontend', tier: 1, customerFacing: true, dependsOn: ['api-gateway', 'search-service'] },
      { name: 'api-gateway', tier: 1, dependsOn: ['auth-service', 'catalog-service', 'order-service'] },
      { name: 'auth-service', tier: 1, dependsOn: ['auth-db'] },
      { name: 'auth-db', kind: 'resource', tier: 1 },
      { name: 'catalog-service', tier: 2, dependsOn: ['catalog-db'] },
      { name: 'catalog-db', kind: 'resource', tier: 2 },
      { name: 'order-service', tier: 1, dependsOn: ['orders-db'] },
      { name: 'orders-db', kind: 'resource', tier: 1 },
      { name: 'search-service', tier: 2 },
    ],
  });
  expect(services.status, services.text).toBeLessThan(300);
  mkdirSync(path.join(kbRoot, 'runbooks'), { recursive: true });
  writeFileSync(path.join(kbRoot, 'runbooks', 'auth-service-token-failures.md'), RUNBOOK);
  writeFileSync(path.join(kbRoot, 'runbooks', 'hostile.md'), HOSTILE);
  const knowledge = readKnowledgeDirectory(kbRoot);
  await server.runtime.writes.run((scope) => importKnowledge(scope, knowledge.prepared));

  const now = Date.now();
  await insertAuthServiceDeploy(server.runtime.store, 'Deploy auth-service v2.15.0', 'test');
  for (const [service, title] of [
    ['api-gateway', '5xx ratio above 5% on api-gateway'],
    ['web-frontend', 'Checkout page errors on web-frontend'],
  ] as const) {
    const sent = await server.request('POST', '/v1/signals', {
      token: server.tokens.ingest,
      body: {
        source: 'generic',
        service,
        environment: 'prod',
        severity: 'critical',
        title,
        startsAt: new Date(now - 8 * 60_000).toISOString(),
      },
    });
    expect(sent.status, sent.text).toBe(200);
  }
  const listed = await server.request('GET', '/v1/incidents?service=api-gateway');
  const incidentId = listed.json.items[0]?.id as string;
  const investigated = await server.request('POST', `/v1/incidents/${incidentId}/investigations`, {
    token: server.tokens.respond,
    body: {},
  });
  expect(investigated.status, investigated.text).toBe(201);

  return incidentId;
}

describe.skipIf(NO_BROWSER).each(BACKENDS)('console views in Chromium on %s', (backend) => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let token: string;
  let incidentId: string;
  let kbRoot: string;
  const browserErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CONSOLE_INDEX))
      execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', 'web'], {
        cwd: REPO_ROOT,
        stdio: 'inherit',
      });
    server = await testServer(backend);
    kbRoot = mkdtempSync(path.join(os.tmpdir(), 'opx-views-kb-'));
    incidentId = await prepare(server, kbRoot);
    token = (await createToken(server.runtime.store, 'views-console', ['read'])).token;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    // The page's policy refuses inline scripts; axe-core is injected as one, so this context bypasses
    // it. The hostile document is opened under the policy too, below.
    context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('pageerror', (error) => browserErrors.push(error.message));
    await signIn(page, server.baseUrl, token);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.cleanup();
    if (kbRoot) rmSync(kbRoot, { recursive: true, force: true });
  });

  it('opens a knowledge hit as its whole document, Markdown rendered, the cited section in view and marked', async () => {
    await page.getByRole('link', { name: 'Knowledge base' }).click();
    await page.getByLabel('Symptoms').fill('poisoned token cache');
    await page.getByRole('button', { name: 'Search' }).click();
    const results = page.getByRole('list', { name: 'Search results' });
    await results.waitFor();
    // The excerpt is Markdown too: its code is a block, no fence shows.
    const first = results.locator('li').first();
    await first.locator('pre > code').waitFor();
    expect(await first.textContent()).not.toContain('```');
    await results.getByRole('link', { name: 'Auth service token failures' }).first().click();
    await page.waitForURL(/\/kb\/documents\/[^/?]+\?chunk=/);
    await page.getByRole('heading', { level: 1, name: 'Auth service token failures' }).waitFor();

    const article = page.locator('.markdown');
    await article.locator('pre > code').first().waitFor();
    expect(await article.locator('pre > code').count()).toBe(2);
    expect(await article.textContent()).not.toContain('```');
    expect(await article.locator('pre > code.language-sh').textContent()).toContain(
      'kubectl -n auth rollout undo deploy/auth-service --to-revision=41',
    );
    // Highlighted: the option is a token of its own.
    expect(await article.locator('pre > code.language-sh .tok-option').first().textContent()).toBe('-n');
    expect(await page.getByRole('heading', { level: 2, name: 'Diagnosis' }).count()).toBe(1);

    const cited = page.locator('[data-cited="true"]');
    expect(await cited.count()).toBe(1);
    expect(await cited.getAttribute('class')).toContain('cited');
    expect(await cited.textContent()).toContain('Quarantine the poisoned token cache');
    expect(await cited.getByRole('heading', { name: 'Mitigation' }).count()).toBe(1);
    const viewport = page.viewportSize()!;
    await expect
      .poll(async () => {
        const box = await cited.boundingBox();
        return box !== null && box.y >= 0 && box.y + box.height <= viewport.height;
      })
      .toBe(true);
    // The first section is far above: the page was scrolled to the cited one.
    expect(await page.evaluate('window.scrollY')).toBeGreaterThan(0);
    await shot(page, `document-${backend}`);
    expect(browserErrors).toEqual([]);
  });

  it('has no serious or critical axe-core violations on the document view', async () => {
    expect(await axeViolations(page)).toEqual([]);
  });

  it('never runs script a document carries: raw HTML shows as text, a javascript: link is no link', async () => {
    const documents = await server.request('GET', '/v1/kb/documents', { token });
    const hostile = documents.json.items.find(
      (item: { path: string }) => item.path === 'runbooks/hostile.md',
    );
    // Without the policy (this context) the renderer alone must refuse; with it, both do.
    const strict = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      await signIn(strict, server.baseUrl, token);
      for (const tab of [page, strict]) {
        await tab.goto(`${server.baseUrl}/kb/documents/${hostile.id}`);
        await tab.getByRole('heading', { level: 1, name: 'Hostile runbook' }).waitFor();
        const article = tab.locator('.markdown');
        await article.getByText("window.__opxHacked = 'script'").waitFor();
        await tab.waitForTimeout(300);
        expect(await tab.evaluate('window.__opxHacked')).toBeUndefined();
        expect(await article.locator('script, img, [onerror]').count()).toBe(0);
        expect(await article.locator('a[href^="javascript"]').count()).toBe(0);
        expect(await article.textContent()).toContain('<img src="x" onerror=');
      }
    } finally {
      await strict.close();
    }
  });

  it('draws the outage: only what matters by default, everything on "Show all", the origin below its callers', async () => {
    await page.goto(`${server.baseUrl}/incidents/${incidentId}`);
    // The evidence is folded; the graph is drawn when its fold opens.
    const fold = page.locator('details.fold', {
      has: page.getByRole('heading', { name: 'Evidence', exact: true }),
    });
    await fold.locator('summary').click();
    const graph = page.locator('.graph[data-drawn]');
    await graph.waitFor();
    type Drawn = { id: string; x: number; y: number; classes: string[] }[];
    const drawn = () =>
      graph.evaluate((element) => {
        const cy = (element as unknown as { _cyreg: { cy: import('cytoscape').Core } })._cyreg.cy;
        return cy.nodes().map((node) => ({
          id: node.id(),
          x: node.position('x'),
          y: node.position('y'),
          classes: node.classes(),
        }));
      }) as Promise<Drawn>;

    await expect.poll(async () => (await drawn()).length).toBeGreaterThan(0);
    const shown = await drawn();
    const ids = shown.map((node) => node.id);
    const changeId = (await server.request('GET', `/v1/incidents/${incidentId}/evidence`)).json.bundle
      .changes[0].id as string;
    expect(ids.sort()).toEqual(
      ['service:api-gateway', 'service:auth-service', 'service:web-frontend', changeId].sort(),
    );
    expect(Number(await graph.getAttribute('data-drawn'))).toBe(4);
    expect(await page.locator('.graph-summary').getAttribute('data-origin')).toBe('api-gateway');
    const at = (nodes: Drawn, id: string) => nodes.find((node) => node.id === id)!;
    expect(at(shown, 'service:api-gateway').classes).toEqual(
      expect.arrayContaining(['origin', 'alerting', 'path']),
    );
    expect(at(shown, 'service:web-frontend').classes).toEqual(expect.arrayContaining(['alerting', 'path']));
    expect(at(shown, 'service:auth-service').classes).toContain('suspect');
    expect(at(shown, changeId).classes).toContain('culprit');
    // Layers: the origin below its callers (larger y), and what it calls below it.
    expect(at(shown, 'service:web-frontend').y).toBeLessThan(at(shown, 'service:api-gateway').y);
    expect(at(shown, 'service:api-gateway').y).toBeLessThan(at(shown, 'service:auth-service').y);

    await graph.scrollIntoViewIfNeeded();
    await shot(page, `graph-${backend}`);
    const total = Number(await graph.getAttribute('data-total'));
    expect(total).toBeGreaterThan(4);
    await page.getByRole('button', { name: `Show all (${total})` }).click();
    await expect.poll(async () => (await drawn()).length).toBe(total);
    const all = await drawn();
    for (const service of ['catalog-service', 'order-service', 'search-service', 'auth-db'])
      expect(all.map((node) => node.id)).toContain(`service:${service}`);
    expect(at(all, 'service:web-frontend').y).toBeLessThan(at(all, 'service:api-gateway').y);
    expect(at(all, 'service:api-gateway').y).toBeLessThan(at(all, 'service:auth-service').y);
    expect(at(all, 'service:auth-service').y).toBeLessThan(at(all, 'service:auth-db').y);
    await shot(page, `graph-all-${backend}`);
    await page.getByRole('button', { name: /^Show what matters/ }).click();
    await expect.poll(async () => (await drawn()).length).toBe(4);
    // The list beside the graph still lists every signal.
    expect(await page.locator('.evidence-list').textContent()).toContain(
      'Checkout page errors on web-frontend',
    );
    expect(browserErrors).toEqual([]);
  });

  it('splits a signal off into a new incident and merges it back, each on both timelines with its reason', async () => {
    const fold = (on: Page) =>
      on.locator('details.fold', { has: on.getByRole('heading', { name: 'Merge or split', exact: true }) });
    // A read-only token sees the controls off, and why.
    await page.goto(`${server.baseUrl}/incidents/${incidentId}`);
    await fold(page).locator('summary').click();
    expect(await page.getByRole('button', { name: 'Merge', exact: true }).getAttribute('title')).toContain(
      'needs a token with the respond scope',
    );
    expect(await page.getByRole('button', { name: 'Merge', exact: true }).isDisabled()).toBe(true);

    const respondToken = (await createToken(server.runtime.store, 'views-responder', ['respond', 'read']))
      .token;
    const responder = await context.newPage();
    await signIn(responder, server.baseUrl, respondToken);
    await responder.goto(`${server.baseUrl}/incidents/${incidentId}`);
    const panel = fold(responder);
    await panel.locator('summary').click();
    const splitButton = panel.getByRole('button', { name: 'Split', exact: true });
    expect(await splitButton.isDisabled()).toBe(true);
    await panel.getByRole('checkbox', { name: /web-frontend: Checkout page errors/ }).check();
    await panel.getByLabel('Title of the new incident (optional)').fill('web-frontend checkout, on its own');
    await splitButton.click();
    await panel.getByText("say why: the reason goes on both incidents' timelines").waitFor();
    await panel.locator('#split-reason').fill('the checkout errors are a separate payments problem');
    await splitButton.click();
    const made = panel.getByRole('status').getByRole('link', { name: 'web-frontend checkout, on its own' });
    await made.waitFor();
    const newId = decodeURIComponent((await made.getAttribute('href'))!.split('/').pop()!);

    const services = async (id: string) =>
      ((await server.request('GET', `/v1/incidents/${id}`)).json.signals as { service: string }[])
        .map((signal) => signal.service)
        .sort();
    expect(await services(incidentId)).toEqual(['api-gateway']);
    expect(await services(newId)).toEqual(['web-frontend']);

    // Back again: the new incident merges into the first, with a reason.
    await responder.goto(`${server.baseUrl}/incidents/${newId}`);
    await fold(responder).locator('summary').click();
    await responder.getByLabel('Incident id').fill(incidentId);
    await responder.locator('#merge-reason').fill('same release after all');
    await responder.getByRole('button', { name: 'Merge', exact: true }).click();
    await responder.getByRole('note').getByText('Merged into').waitFor();
    expect(await services(incidentId)).toEqual(['api-gateway', 'web-frontend']);
    const merged = (await server.request('GET', `/v1/incidents/${newId}`)).json.incident;
    expect(merged).toMatchObject({ status: 'CLOSED', mergedInto: incidentId });

    // Both timelines say who did it and why, and both chains still verify.
    for (const [id, reasons] of [
      [incidentId, ['the checkout errors are a separate payments problem', 'same release after all']],
      [newId, ['the checkout errors are a separate payments problem', 'same release after all']],
    ] as const) {
      const events = JSON.stringify((await server.request('GET', `/v1/incidents/${id}/events`)).json);
      for (const reason of reasons) expect(events, id).toContain(reason);
      expect(events, id).toContain('token:views-responder');
      expect((await server.request('GET', `/v1/incidents/${id}/verify`)).json.valid, id).toBe(true);
    }
    await responder.close();
  });
});
