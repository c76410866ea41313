import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBackstageCatalog } from '../src/catalog/backstage.js';
import { configSchema } from '../src/config/index.js';
import { investigateIncident } from '../src/investigate/service.js';
import { importKnowledge, readKnowledgeDirectory } from '../src/knowledge/import.js';
import { openRuntime } from '../src/runtime.js';
import { FieldCipher } from '../src/store/crypto.js';
import { keyUsage, reencrypt } from '../src/store/reencrypt.js';
import {
  BACKENDS,
  databaseBytes,
  payload,
  postgresHits,
  REPO_ROOT,
  type TestServer,
  testServer,
} from './support.js';

const RAW_MARKER = `raw-opaque-${randomBytes(6).toString('hex')}`;
const NOTE_MARKER = `note-${randomBytes(6).toString('hex')} rolled back build 7731 by hand`;
const REASON_MARKER = `reason-${randomBytes(6).toString('hex')} the replica lag is the real cause`;
const PROMPT_MARKER = `prompt-${randomBytes(6).toString('hex')}`;
const ANSWER_MARKER = `answer-${randomBytes(6).toString('hex')}`;

describe.each(BACKENDS)('encryption at rest (%s)', (backend) => {
  let server: TestServer;
  let incidentId: string;
  let rationale: string;

  beforeAll(async () => {
    server = await testServer(backend);
    const catalog = parseBackstageCatalog(
      readFileSync(path.join(REPO_ROOT, 'examples', 'topology', 'catalog-info.yaml'), 'utf8'),
    );
    if (!catalog.ok) throw new Error(catalog.error.message);
    await server.runtime.store.services.upsertMany(catalog.services);
    const knowledge = readKnowledgeDirectory(path.join(REPO_ROOT, 'examples', 'kb'));
    await server.runtime.store.transaction((scope) => importKnowledge(scope, knowledge.prepared));
    const alert = payload('alertmanager-0.25-webhook-firing.json') as Record<string, unknown>;
    const response = await server.request('POST', '/v1/ingest/alertmanager', {
      // A field no column keeps: it lives only in the stored raw payload.
      body: { ...alert, alerts: (alert.alerts as object[]).map((item) => ({ ...item, opaque: RAW_MARKER })) },
    });
    expect(response.status, response.text).toBe(200);
    const incidents = await server.request('GET', '/v1/incidents', { token: server.tokens.read });
    incidentId = incidents.json.items[0].id;
    const note = await server.request('POST', `/v1/incidents/${incidentId}/notes`, {
      body: { text: NOTE_MARKER },
      token: server.tokens.respond,
      headers: { 'idempotency-key': 'note-1' },
    });
    expect(note.status, note.text).toBeLessThan(300);
    await investigateIncident(server.runtime, incidentId, { principal: 'test' });
    const recommendations = await server.runtime.store.investigations.recommendations(incidentId);
    expect(recommendations.length).toBeGreaterThan(0);
    rationale = recommendations[0]!.rationale;
    const decided = await server.request('POST', `/v1/recommendations/${recommendations[0]!.id}/reject`, {
      body: { reason: REASON_MARKER },
      token: server.tokens.respond,
      headers: { 'idempotency-key': 'decide-1' },
    });
    expect(decided.status, decided.text).toBeLessThan(300);
    await server.runtime.store.safety.addTraces([
      {
        incidentId,
        investigationId: null,
        agent: 'signal-intelligence',
        provider: 'openai-compatible',
        model: 'gpt-4.1-mini',
        attempt: 1,
        prompt: `Evidence: ${PROMPT_MARKER}`,
        response: `{"summary": "${ANSWER_MARKER}"}`,
        inputTokens: 10,
        outputTokens: 5,
        cacheReadTokens: null,
        cacheWriteTokens: null,
        costUsd: 0.001,
        latencyMs: 12,
        status: 'ok',
        error: null,
        createdAt: Date.now(),
      },
    ]);
  });
  afterAll(async () => {
    await server.cleanup();
  });

  it('reads every sensitive field back through the API and the store', async () => {
    const timeline = await server.request('GET', `/v1/incidents/${incidentId}/events`, {
      token: server.tokens.read,
    });
    expect(timeline.text).toContain(NOTE_MARKER);
    const recommendations = await server.runtime.store.investigations.recommendations(incidentId);
    expect(recommendations.map((item) => item.decisionReason)).toContain(REASON_MARKER);
    const traces = await server.runtime.store.safety.traces({ incidentId });
    expect(traces.map((trace) => trace.response).join()).toContain(ANSWER_MARKER);
    const raw = await server.runtime.store.db.selectFrom('signals').select('raw').executeTakeFirstOrThrow();
    expect(server.runtime.store.cipher!.decrypt(raw.raw!, 'signals.raw')).toContain(RAW_MARKER);
    // The hash chain is computed over the plaintext and still verifies.
    const verified = await server.request('GET', `/v1/incidents/${incidentId}/verify`, {
      token: server.tokens.read,
    });
    expect(verified.status).toBe(200);
    expect(verified.json.valid).toBe(true);
  });

  it('leaves no plaintext of raw payloads, notes, prompts, answers or recommendation reasons in the database', async () => {
    const markers = [RAW_MARKER, NOTE_MARKER, REASON_MARKER, PROMPT_MARKER, ANSWER_MARKER, rationale];
    if (backend === 'sqlite') {
      const bytes = databaseBytes(server.dataDir);
      for (const marker of markers) expect(bytes.includes(Buffer.from(marker)), marker).toBe(false);
    } else {
      const schema = server.runtime.store.options.schema!;
      for (const marker of markers) expect(await postgresHits(schema, marker), marker).toEqual([]);
    }
  });
});

describe('key rotation', () => {
  it('reads old keys, re-encrypts to the new one, and names a missing key', async () => {
    const first = `k1:${randomBytes(32).toString('base64')}`;
    const second = `k2:${randomBytes(32).toString('base64')}`;
    const server = await testServer('sqlite', { encryptionKeys: first });
    try {
      const response = await server.request('POST', '/v1/signals', {
        body: { service: 'payments', title: 'rotation', severity: 'critical' },
      });
      expect(response.status).toBe(200);
      const incident = (await server.runtime.store.incidents.list({ limit: 1 }))[0]!;
      await server.request('POST', `/v1/incidents/${incident.id}/notes`, {
        body: { text: NOTE_MARKER },
        token: server.tokens.respond,
      });
      // An investigation freezes a bundle: compressed, then sealed like every other value.
      const investigated = await server.request('POST', `/v1/incidents/${incident.id}/investigations`, {
        token: server.tokens.respond,
      });
      expect(investigated.status).toBe(201);
      const frozen = await server.runtime.store.evidence.latestBundle(incident.id);
      expect(frozen?.incidentId).toBe(incident.id);
      await server.runtime.close();

      const open = (encryptionKeys: string) =>
        openRuntime(configSchema.parse({ dataDir: server.dataDir, logLevel: 'silent', encryptionKeys }));

      // Only the new key: the old values are unreadable, and the error says which key is missing.
      const without = await open(second);
      await expect(without.store.incidents.events(incident.id)).rejects.toThrow(/key "k1".*not configured/);
      await without.close();

      const both = await open(`${second},${first}`);
      expect(JSON.stringify(await both.store.incidents.events(incident.id))).toContain(NOTE_MARKER);
      const before = await keyUsage(both.store);
      expect(before.find((item) => item.table === 'incident_events')!.byKey).toHaveProperty('k1');
      const { rewritten } = await reencrypt(both.store, { batchSize: 2 });
      expect(rewritten).toBeGreaterThan(0);
      for (const item of await keyUsage(both.store))
        expect(
          Object.keys(item.byKey).filter((key) => key !== 'k2'),
          `${item.table}.${item.column}`,
        ).toEqual([]);
      await both.close();

      const after = await open(second);
      expect(JSON.stringify(await after.store.incidents.events(incident.id))).toContain(NOTE_MARKER);
      expect(await after.store.evidence.latestBundle(incident.id)).toEqual(frozen);
      const [stored] = (
        await sql<{ content: string }>`select content from evidence_bundles`.execute(after.store.db)
      ).rows;
      expect(stored!.content.startsWith('enc:v1:k2:')).toBe(true);
      expect(after.store.cipher!.decrypt(stored!.content, 'evidence_bundles.content').startsWith('br:')).toBe(
        true,
      );
      // Searching incidents reads the note through the key too (its text is never in plain SQL).
      expect(
        (await after.store.incidents.list({ text: NOTE_MARKER, limit: 5 })).map((item) => item.id),
      ).toEqual([incident.id]);
      const { rows } = await sql<{ n: number }>`select count(*) as n from incident_events`.execute(
        after.store.db,
      );
      expect(Number(rows[0]!.n)).toBeGreaterThan(0);
      await after.close();
    } finally {
      await server.cleanup().catch(() => undefined);
    }
  });

  it('refuses a value moved to another column', () => {
    const cipher = new FieldCipher([{ id: 'k1', key: randomBytes(32) }]);
    const sealed = cipher.encrypt('secret text', 'recommendations.rationale');
    expect(cipher.decrypt(sealed, 'recommendations.rationale')).toBe('secret text');
    expect(() => cipher.decrypt(sealed, 'incident_events.data')).toThrow(/failed authentication/);
  });
});
