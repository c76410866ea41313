import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpxClient } from '../src/client/index.js';
import { importKnowledge, readKnowledgeDirectory } from '../src/knowledge/import.js';
import { KnowledgeIndex } from '../src/knowledge/search.js';
import { BACKENDS, REPO_ROOT, type TestServer, testServer } from './support.js';

function writeDoc(root: string, relative: string, front: Record<string, unknown>, body: string): void {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  const yaml = Object.entries(front)
    .map(([key, value]) => `${key}: ${Array.isArray(value) ? `[${value.join(', ')}]` : value}`)
    .join('\n');
  writeFileSync(file, `---\n${yaml}\n---\n${body}`);
}

function seed(root: string): void {
  writeDoc(
    root,
    'runbooks/api-gateway-high-error-rate.md',
    {
      title: 'API gateway high error rate',
      kind: 'runbook',
      services: ['api-gateway'],
      alerts: ['HighErrorRate'],
    },
    '# API gateway high error rate\n## Symptoms\n5xx responses above 5% at the edge.\n## Mitigation\nRoll back the last gateway deploy; shed load with the rate limiter.',
  );
  writeDoc(
    root,
    'runbooks/orders-db-connections.md',
    {
      title: 'Orders DB connection exhaustion',
      kind: 'runbook',
      services: ['orders-db', 'order-service'],
      alerts: ['DBConnectionsExhausted'],
    },
    '# Orders DB connection exhaustion\n## Symptoms\nConnection pool exhausted; requests time out waiting for a connection.\n## Mitigation\nKill idle transactions, then lower the pool size of the noisiest client.',
  );
  writeDoc(
    root,
    'runbooks/payment-latency.md',
    { title: 'Payment latency', kind: 'runbook', services: ['payment-service'], alerts: ['HighLatencyP99'] },
    '# Payment latency\n## Symptoms\np99 latency above the SLO; the provider answers slowly and errors trickle in.\n## Mitigation\nFail over to the secondary provider.',
  );
  writeDoc(
    root,
    'postmortems/2026-03-14-gateway-bad-deploy.md',
    {
      title: 'Gateway 5xx after v2.3 deploy',
      kind: 'postmortem',
      services: ['api-gateway'],
      alerts: ['HighErrorRate'],
    },
    '# Gateway 5xx after v2.3 deploy\n## Summary\nA gateway deploy broke header parsing and 12% of requests failed with 5xx.\n## Resolution\nRolled back to v2.2.',
  );
  writeFileSync(path.join(root, 'README.md'), '# Knowledge base\nNo front matter here.');
}

describe.each(BACKENDS)('knowledge base on %s', (backend) => {
  let server: TestServer;
  let root: string;
  beforeAll(async () => {
    server = await testServer(backend);
    root = mkdtempSync(path.join(os.tmpdir(), 'opx-kb-'));
    seed(root);
  });
  afterAll(async () => {
    rmSync(root, { recursive: true, force: true });
    await server.cleanup();
  });

  const importAll = async () => {
    const { prepared, skipped, ignored } = readKnowledgeDirectory(root);
    const report = await server.runtime.writes.run((scope) => importKnowledge(scope, prepared));
    return { ...report, skipped, ignored };
  };

  it('imports documents as heading-aware chunks, ignoring the README', async () => {
    const report = await importAll();
    expect(report.created).toHaveLength(4);
    expect(report.skipped).toEqual([]);
    expect(report.ignored).toEqual([{ path: 'README.md', reason: expect.stringContaining('not a runbook') }]);
    expect(report.chunks).toBe(8);
    const documents = await server.request('GET', '/v1/kb/documents', { token: server.tokens.read });
    expect(documents.json.items.map((document: { path: string }) => document.path)).toContain(
      'runbooks/api-gateway-high-error-rate.md',
    );
  });

  it('re-import is idempotent, and a changed file replaces its old version', async () => {
    const again = await importAll();
    expect(again).toMatchObject({ created: [], updated: [], chunks: 0 });
    expect(again.unchanged).toHaveLength(4);
    writeDoc(
      root,
      'runbooks/payment-latency.md',
      {
        title: 'Payment latency',
        kind: 'runbook',
        services: ['payment-service'],
        alerts: ['HighLatencyP99'],
      },
      '# Payment latency\n## Symptoms\nSlow provider.\n## Mitigation\nFail over.\n## Escalation\nPage the payments on-call.',
    );
    const changed = await importAll();
    expect(changed.updated).toEqual(['runbooks/payment-latency.md']);
    expect(
      (await server.runtime.store.knowledge.list()).filter(
        (document) => document.path === 'runbooks/payment-latency.md',
      ),
    ).toHaveLength(1);
    const hits = await server.request('GET', '/v1/kb/search?q=payments+on-call', {
      token: server.tokens.read,
    });
    expect(hits.json.items[0]).toMatchObject({
      path: 'runbooks/payment-latency.md',
      heading: 'Payment latency > Escalation',
    });
  });

  it('ranks by BM25 with the alert and service boosted', async () => {
    const byAlert = await server.request(
      'GET',
      '/v1/kb/search?alert=HighErrorRate&service=api-gateway&q=5xx',
      { token: server.tokens.read },
    );
    expect(byAlert.status).toBe(200);
    const paths = byAlert.json.items.map((hit: { path: string }) => hit.path);
    expect(paths.slice(0, 2).sort()).toEqual([
      'postmortems/2026-03-14-gateway-bad-deploy.md',
      'runbooks/api-gateway-high-error-rate.md',
    ]);
    expect(byAlert.json.items[0].score).toBeGreaterThan(byAlert.json.items.at(-1).score);

    const bySymptom = await server.request('GET', '/v1/kb/search?q=connection+pool+exhausted', {
      token: server.tokens.read,
    });
    expect(bySymptom.json.items[0].path).toBe('runbooks/orders-db-connections.md');
    const runbooksOnly = await server.request('GET', '/v1/kb/search?q=5xx&kind=postmortem', {
      token: server.tokens.read,
    });
    expect(runbooksOnly.json.items.every((hit: { kind: string }) => hit.kind === 'postmortem')).toBe(true);
  });

  it('answers one document whole by id: its body and its sections, the hit among them; 404, 401', async () => {
    const hits = await server.request('GET', '/v1/kb/search?q=rate+limiter&service=api-gateway', {
      token: server.tokens.read,
    });
    const hit = hits.json.items[0];
    expect(hit.heading).toBe('API gateway high error rate > Mitigation');
    const document = await server.request('GET', `/v1/kb/documents/${hit.documentId}`, {
      token: server.tokens.read,
    });
    expect(document.status, document.text).toBe(200);
    expect(document.json).toMatchObject({
      id: hit.documentId,
      path: 'runbooks/api-gateway-high-error-rate.md',
      title: 'API gateway high error rate',
      kind: 'runbook',
      services: ['api-gateway'],
      alerts: ['HighErrorRate'],
      importedAt: expect.stringMatching(/Z$/),
    });
    expect(document.json.body).toMatch(/^# API gateway high error rate\n## Symptoms/);
    expect(document.json.body).not.toContain('services:');
    expect(document.json.chunks.map((chunk: { ordinal: number }) => chunk.ordinal)).toEqual([0, 1]);
    const cited = document.json.chunks.find((chunk: { id: string }) => chunk.id === hit.chunkId);
    expect(cited).toMatchObject({ heading: hit.heading });
    expect(document.json.body).toContain(cited.text);

    const client = new OpxClient({ baseUrl: server.baseUrl, token: server.tokens.read });
    expect((await client.knowledgeDocument(hit.documentId)).chunks).toEqual(document.json.chunks);
    const missing = await server.request('GET', '/v1/kb/documents/doc_nope', { token: server.tokens.read });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('not_found');
    const anonymous = await server.request('GET', `/v1/kb/documents/${hit.documentId}`, { token: null });
    expect(anonymous.status).toBe(401);
  });

  it('rejects empty or malformed searches', async () => {
    const empty = await server.request('GET', '/v1/kb/search', { token: server.tokens.read });
    expect(empty.status).toBe(400);
    expect(empty.json.error.path).toBe('query.q');
    expect(
      (await server.request('GET', '/v1/kb/search?q=x&kind=wiki', { token: server.tokens.read })).status,
    ).toBe(400);
    expect((await server.request('GET', '/v1/kb/search?q=x', { token: null })).status).toBe(401);
  });

  it('skips a file it cannot read, names it and why, and imports the rest', async () => {
    writeDoc(root, 'runbooks/broken.md', { title: 'Broken', kind: 'wiki' }, '# Broken\ntext');
    writeFileSync(
      path.join(root, 'runbooks', 'latin1.md'),
      Buffer.from('# Caf\xe9 alert\n\ntext\n', 'latin1'),
    );
    writeFileSync(path.join(root, 'runbooks', 'empty.md'), '');
    try {
      const { prepared, skipped } = readKnowledgeDirectory(root);
      expect(prepared).toHaveLength(4);
      expect(skipped).toEqual([
        { path: 'runbooks/broken.md', reason: expect.stringContaining('front matter kind') },
        { path: 'runbooks/empty.md', reason: 'the file is empty' },
        { path: 'runbooks/latin1.md', reason: 'not UTF-8 text' },
      ]);
    } finally {
      for (const name of ['broken.md', 'latin1.md', 'empty.md']) rmSync(path.join(root, 'runbooks', name));
    }
    expect(() => readKnowledgeDirectory(path.join(root, 'missing'))).toThrow(/no such directory/);
  });
});

describe('a runbook repository as published (bench/data/runbooks-realworld)', () => {
  const root = path.join(REPO_ROOT, 'bench', 'data', 'runbooks-realworld');
  const queries = JSON.parse(readFileSync(path.join(root, 'queries.json'), 'utf8')) as {
    alert: string;
    expected: string;
  }[];

  it('imports every runbook whole, in all three shapes, and names what it leaves out', () => {
    const { prepared, skipped, ignored } = readKnowledgeDirectory(root);
    expect(prepared).toHaveLength(24);
    expect(ignored.map((item) => item.path)).toEqual(['kubernetes/_index.md', 'README.md']);
    expect(skipped).toEqual([
      { path: 'node/EMPTY.md', reason: 'the file is empty' },
      { path: 'node/latin1.md', reason: 'not UTF-8 text' },
    ]);
    for (const { document } of prepared) expect(document.kind).toBe('runbook');
    // Each query's runbook carries its alert, from front matter, file name or heading.
    const byPath = new Map(prepared.map((item) => [item.path, item.document]));
    for (const query of queries) expect(byPath.get(query.expected)?.alerts).toContain(query.alert);
  });

  it('follows a runbook_url to the document it names, whatever the site layout', () => {
    const { prepared } = readKnowledgeDirectory(root);
    const index = new KnowledgeIndex(
      prepared.map((item) => item.document),
      prepared.flatMap((item) => item.chunks),
    );
    const at = (link: string) => index.documentsAt(link).map((document) => document.path);
    expect(at('https://runbooks.example.com/runbooks/kubernetes/kubepodcrashlooping')).toEqual([
      'kubernetes/KubePodCrashLooping.md',
    ]);
    expect(at('https://git.example.com/sre/runbooks/blob/main/opx/etcd-members-down.md#mitigation')).toEqual([
      'opx/etcd-members-down.md',
    ]);
    expect(at('prometheus/TargetDown')).toEqual(['prometheus/TargetDown.md']);
    expect(at('https://runbooks.example.com/')).toEqual([]);
    expect(at('https://runbooks.example.com/no-such-runbook')).toEqual([]);
  });

  it("finds each alert's runbook first by the alert name alone", () => {
    const { prepared } = readKnowledgeDirectory(root);
    const index = new KnowledgeIndex(
      prepared.map((item) => item.document),
      prepared.flatMap((item) => item.chunks),
    );
    for (const query of queries)
      expect(index.search({ alert: query.alert, limit: 3 })[0]?.path, query.alert).toBe(query.expected);
  });
});
