import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../src/auth/tokens.js';
import { configSchema } from '../src/config/index.js';
import { DEFAULT_RULES } from '../src/detect/rules.js';
import { findingSchema } from '../src/domain/finding.js';
import { addNote, verifyChain } from '../src/incidents/service.js';
import { threadCheckpoints } from '../src/investigate/service.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { generateKeyEntry } from '../src/store/crypto.js';
import { MIGRATION_NAMES, MIGRATIONS } from '../src/store/migrations.js';
import { keyUsage, reencrypt } from '../src/store/reencrypt.js';
import { BACKENDS, FIXTURES, freshPostgresDatabase, REPO_ROOT } from './support.js';

/**
 * Stores written by earlier OPX releases (test/fixtures/upgrade/<commit>/, made by make-fixture.sh
 * there) are opened with this code: `opx migrate --dry-run` must list exactly the migrations added
 * since, `opx migrate` must apply them, and every incident, chain, token and encrypted value the old
 * release wrote must still read.
 */
const UPGRADE = path.join(FIXTURES, 'upgrade');
const BIN = path.join(REPO_ROOT, 'bin', 'opx.js');
const RELEASES = readdirSync(UPGRADE)
  .filter((name) => existsSync(path.join(UPGRADE, name, 'manifest.json')))
  .sort();

interface StoreInfo {
  schemaVersion: number;
  incidents: { checkout: string; payment: string };
  readerToken: string;
}
interface Manifest {
  commit: string;
  guardrailHashKey: string;
  sqlite: StoreInfo;
  postgres: StoreInfo;
}

function opx(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, OPX_ADMIN_TOKEN: '', OPX_DATABASE_URL: '', OPX_ENCRYPTION_KEYS: '', ...env },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** pg_dump's plain output is SQL apart from psql's \restrict lines, which only psql understands. */
function postgresDump(file: string): string {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('\\'))
    .join('\n');
}

interface Loaded {
  env: Record<string, string>;
  dataDir: string;
  databaseUrl: string | undefined;
  /** Everything a dry run must leave as it was. */
  state(): Promise<unknown>;
  cleanup(): Promise<void>;
}

async function load(release: string, backend: 'sqlite' | 'postgres', manifest: Manifest): Promise<Loaded> {
  const fixture = path.join(UPGRADE, release);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opx-upgrade-'));
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir);
  const files = () =>
    Object.fromEntries(
      readdirSync(dataDir)
        .sort()
        .map((name) => [
          name,
          createHash('sha256')
            .update(readFileSync(path.join(dataDir, name)))
            .digest('hex'),
        ]),
    );
  const env = {
    OPX_DATA_DIR: dataDir,
    OPX_ENCRYPTION_KEY_FILE: path.join(fixture, 'encryption.keys'),
    OPX_GUARDRAIL_HASH_KEY: manifest.guardrailHashKey,
  };
  if (backend === 'sqlite') {
    const database = new SqliteDatabase(path.join(dataDir, 'opx.db'));
    database.exec(readFileSync(path.join(fixture, 'sqlite.sql'), 'utf8'));
    database.close();
    return {
      env,
      dataDir,
      databaseUrl: undefined,
      state: async () => files(),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const { url, drop } = await freshPostgresDatabase('opx_upgrade');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(postgresDump(path.join(fixture, 'postgres.sql')));
  } finally {
    await client.end();
  }
  return {
    env: { ...env, OPX_DATABASE_URL: url },
    dataDir,
    databaseUrl: url,
    async state() {
      const reader = new pg.Client({ connectionString: url });
      await reader.connect();
      try {
        const relations = await reader.query(
          `select relname, relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'public' order by 1`,
        );
        const applied = await reader.query('select name, timestamp from opx_migrations order by name');
        const incidents = await reader.query('select * from incidents order by id');
        return {
          relations: relations.rows,
          applied: applied.rows,
          incidents: incidents.rows,
          files: files(),
        };
      } finally {
        await reader.end();
      }
    },
    async cleanup() {
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.each(RELEASES)('a store written by OPX %s', (release) => {
  const manifest = JSON.parse(readFileSync(path.join(UPGRADE, release, 'manifest.json'), 'utf8')) as Manifest;

  describe.each(BACKENDS)('on %s', (backend) => {
    const info = manifest[backend];
    const pending = MIGRATION_NAMES.slice(info.schemaVersion);
    let loaded: Loaded;
    let runtime: Runtime | undefined;
    const open = async (overrides: { encryptionKeys?: string } = {}) => {
      await runtime?.close();
      runtime = await openRuntime(
        configSchema.parse({
          dataDir: loaded.dataDir,
          ...(loaded.databaseUrl ? { databaseUrl: loaded.databaseUrl } : {}),
          encryptionKeyFile: loaded.env.OPX_ENCRYPTION_KEY_FILE,
          guardrailHashKey: manifest.guardrailHashKey,
          logLevel: 'silent',
          ...overrides,
        }),
      );
      return runtime;
    };
    beforeAll(async () => {
      loaded = await load(release, backend, manifest);
    });
    afterAll(async () => {
      await runtime?.close();
      await loaded?.cleanup();
    });

    it('opx migrate --dry-run lists exactly the migrations added since, and writes nothing', async () => {
      expect(info.schemaVersion).toBeLessThanOrEqual(MIGRATIONS.length);
      const before = await loaded.state();
      const report = opx(['--json', 'migrate', '--dry-run'], loaded.env);
      expect(report.code, report.stderr).toBe(0);
      const parsed = JSON.parse(report.stdout);
      expect(parsed).toMatchObject({
        dryRun: true,
        dialect: backend,
        exists: true,
        version: info.schemaVersion,
        latest: MIGRATIONS.length,
        checkpointTables: 'present',
        defaultRulesToInstall: 0,
      });
      expect(parsed.pending.map((item: { name: string }) => item.name)).toEqual(pending);
      const text = opx(['migrate', '--dry-run'], loaded.env);
      expect(text.code, text.stderr).toBe(0);
      if (pending.length === 0) expect(text.stdout).toContain('no pending migrations');
      for (const name of pending)
        expect(text.stdout).toContain(`${name}  ${MIGRATIONS[MIGRATION_NAMES.indexOf(name)]!.summary}`);
      expect(await loaded.state()).toEqual(before);
    });

    it('opx migrate applies them, and then has nothing left to do', () => {
      const applied = opx(['--json', 'migrate'], loaded.env);
      expect(applied.code, applied.stderr).toBe(0);
      expect(JSON.parse(applied.stdout)).toMatchObject({
        applied: pending,
        version: MIGRATIONS.length,
        seededRules: 0,
      });
      const again = opx(['migrate'], loaded.env);
      expect(again.stdout).toContain(`schema already current; version ${MIGRATIONS.length}`);
      const dry = opx(['migrate', '--dry-run'], loaded.env);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain('no pending migrations');
    });

    it('gives the built-in topology rule the cascade opening a new store has, as one more version', async () => {
      const { store } = await open();
      const topology = await store.rules.get('service-topology');
      expect(topology).toMatchObject({
        kind: 'topology',
        builtIn: true,
        hops: 2,
        opens: { services: 2, minSeverity: 'error', severity: 'SEV3' },
      });
      expect(topology!.version).toBeGreaterThan(1);
      expect(topology!.description).toContain('open one (SEV3)');
    });

    it('installs the built-in sustained-error rule a new store has, the same in every field', async () => {
      const { store } = await open();
      const sustained = await store.rules.get('sustained-error');
      const shipped = DEFAULT_RULES.find((rule) => rule.name === 'sustained-error')!;
      expect(sustained).toMatchObject({ ...shipped, builtIn: true, version: 1 });
    });

    it('keeps the incidents, their timelines and intact hash chains', async () => {
      const { store } = await open();
      const { checkout, payment } = info.incidents;
      const incidents = await store.incidents.list({ limit: 50 });
      expect(incidents.map((incident) => incident.id).sort()).toEqual([checkout, payment].sort());
      expect(await store.incidents.get(checkout)).toMatchObject({
        status: 'RESOLVED',
        rootCause: 'checkout 2.4.1 tax client timeout',
        resolution: 'rolled back to 2.4.0',
        services: ['checkout-service'],
      });
      for (const id of [checkout, payment]) {
        expect(await verifyChain(store, id)).toMatchObject({ valid: true });
        const verify = opx(['incidents', 'verify', id], loaded.env);
        expect(verify.code, verify.stderr).toBe(0);
        expect(verify.stdout).toMatch(/chain intact: \d+ events verified/);
      }
      // Event data is encrypted at rest: these read only if the old key still decrypts them.
      const notes = async (id: string) =>
        (await store.incidents.events(id))
          .filter((event) => event.type === 'note_added')
          .map((event) => event.data.text);
      expect(await notes(checkout)).toEqual(['fixture note: the tax client times out']);
      expect(await notes(payment)).toEqual(['fixture api note: payment-service p99 back under 300 ms']);
    });

    it('keeps the signals’ raw payloads, the investigation, its checkpoints, and the queued jobs', async () => {
      const current = await open();
      const { store } = current;
      const cipher = store.cipher!;
      const raw = await sql<{
        service: string;
        raw: string;
      }>`select service, raw from signals order by service`.execute(store.db);
      expect(raw.rows.map((row) => row.raw.startsWith('enc:v1:'))).toEqual([true, true]);
      expect(raw.rows.map((row) => JSON.parse(cipher.decrypt(row.raw, 'signals.raw')).description)).toEqual([
        'fixture raw payload: 5xx ratio 0.31 on POST /checkout',
        'fixture raw payload: p99 2.4 s on authorise',
      ]);

      const { checkout } = info.incidents;
      const [investigation, ...others] = await store.investigations.forIncident(checkout);
      expect(others).toEqual([]);
      expect(investigation).toMatchObject({ status: 'completed' });
      expect(investigation!.findings.length).toBeGreaterThan(0);
      // The findings it stored, and those its checkpoints hold, still parse as this code describes them.
      const { saver } = await current.checkpointer();
      const latest = await saver.getTuple({ configurable: { thread_id: checkout } });
      const checkpointed = Object.values(
        (latest?.checkpoint.channel_values.findings ?? {}) as Record<string, unknown>,
      );
      expect(checkpointed.length).toBeGreaterThan(0);
      for (const finding of [...investigation!.findings, ...checkpointed])
        expect(findingSchema.safeParse(finding).error).toBeUndefined();
      const recommendations = await store.investigations.recommendations(checkout);
      expect(recommendations.map((item) => item.title)).toContain('Roll back checkout-service to 2.4.0');
      for (const item of recommendations) expect(item.rationale).not.toMatch(/^enc:/);

      const checkpoints = await threadCheckpoints(current, checkout);
      expect(checkpoints.length).toBeGreaterThan(0);
      expect(new Set(checkpoints.map((checkpoint) => checkpoint.investigationId))).toEqual(
        new Set([investigation!.id]),
      );

      const jobs = await store.jobs.list({ kind: 'investigate' });
      expect(jobs.map((job) => job.status)).toEqual(['pending', 'pending']);
    });

    it('keeps the API token, the audit log and the stored idempotent answer', async () => {
      const { store } = await open();
      expect(await store.tokens.findActiveByHash(hashToken(info.readerToken))).toMatchObject({
        name: 'fixture-reader',
        scopes: ['read'],
      });
      const audit = await store.audit.list({ target: info.incidents.payment });
      expect(audit.map((entry) => [entry.principal, entry.action])).toEqual([
        ['admin:bootstrap', 'POST /v1/incidents/:id/notes'],
      ]);
      const answer = await store.idempotency.get('admin:bootstrap', 'fixture-note-1');
      expect(answer?.statusCode).toBe(201);
      expect(JSON.stringify(answer?.body)).toContain('fixture api note');
    });

    it('takes new writes, which continue the old hash chains', async () => {
      const current = await open();
      const { payment } = info.incidents;
      await current.writes.run((scope) => addNote(scope, payment, 'after the upgrade', 'test'));
      const ingested = await current.writes.run((scope) =>
        current.ingest.ingestInScope(
          scope,
          [
            {
              source: 'generic',
              fingerprint: 'after-upgrade',
              status: 'firing',
              severity: 'critical',
              service: 'checkout-service',
              environment: 'prod',
              title: 'HighErrorRate on checkout-service, again',
              labels: { alertname: 'HighErrorRate' },
              annotations: {},
              links: [],
            },
          ],
          'test',
        ),
      );
      expect([...ingested.incidentsCreated, ...ingested.incidentsUpdated].length).toBeGreaterThan(0);
      const notes = (await current.store.incidents.events(payment)).filter(
        (event) => event.type === 'note_added',
      );
      expect(notes.at(-1)?.data.text).toBe('after the upgrade');
      // Every incident, old or new, old events and new: each chain still verifies from its first event.
      for (const incident of await current.store.incidents.list({ limit: 50 }))
        expect(await verifyChain(current.store, incident.id), incident.id).toMatchObject({ valid: true });
    });

    it('decrypts every value the old release encrypted: all re-encrypt under a new key', async () => {
      const oldKeys = readFileSync(loaded.env.OPX_ENCRYPTION_KEY_FILE!, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.startsWith('#'));
      const oldId = oldKeys[0]!.split(':')[0]!;
      const next = generateKeyEntry();
      const nextId = next.split(':')[0]!;
      const { store } = await open({ encryptionKeys: [next, ...oldKeys].join(',') });
      const before = await keyUsage(store);
      const underOld = before.reduce((sum, usage) => sum + (usage.byKey[oldId] ?? 0), 0);
      // Everything the old release encrypted is under its key, and there is plenty of it. Only the
      // frozen evidence, encrypted since that release, is still plaintext.
      const plaintext = before.filter((usage) => usage.byKey.plaintext);
      expect(plaintext.map((usage) => usage.table).every((table) => table.startsWith('evidence_'))).toBe(
        true,
      );
      const plain = plaintext.reduce((sum, usage) => sum + (usage.byKey.plaintext ?? 0), 0);
      expect(underOld).toBeGreaterThan(20);
      // Re-encryption decrypts each value (authenticated, bound to its column) before sealing it again,
      // and seals what was plaintext.
      const { rewritten } = await reencrypt(store);
      expect(rewritten).toBe(underOld + plain);
      for (const usage of await keyUsage(store))
        expect(
          Object.keys(usage.byKey).filter((key) => key !== nextId),
          usage.table,
        ).toEqual([]);
    });
  });
});
