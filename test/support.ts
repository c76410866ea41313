import { type ChildProcess, type ChildProcessByStdio, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildServer } from '../src/api/server.js';
import { createToken } from '../src/auth/tokens.js';
import { type Config, configSchema } from '../src/config/index.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import type { Scope } from '../src/store/repositories/access.js';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A running `opx` process whose stdout and stderr are kept, merged, for assertions. */
export type OpxProcess = ChildProcessByStdio<null, Readable, Readable> & { output(): string };

/** Starts `node bin/opx.js <args>` with `env` over this process's environment. */
export function spawnOpx(args: readonly string[], env: Record<string, string>): OpxProcess {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'opx.js'), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString('utf8');
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return Object.assign(child, { output: () => output });
}
/** Real payloads copied into the repository with their licences (test/fixtures/README.md). */
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
export const POSTGRES_URL = process.env.OPX_TEST_POSTGRES_URL;

export function payload(name: string): unknown {
  return JSON.parse(readFileSync(path.join(FIXTURES, 'payloads', name), 'utf8'));
}

export function payloadText(name: string): string {
  return readFileSync(path.join(FIXTURES, 'payloads', name), 'utf8');
}

/** A new, empty database on the test PostgreSQL server (name prefixed with `prefix`); `drop` removes it. */
export async function freshPostgresDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const database = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const parsed = new URL(POSTGRES_URL!);
  parsed.pathname = `/${database}`;
  return {
    url: parsed.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** The backends every store-touching suite runs on: SQLite always, PostgreSQL when configured. */
export const BACKENDS: ('sqlite' | 'postgres')[] = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];

export interface TestRuntime {
  runtime: Runtime;
  dataDir: string;
  cleanup(): Promise<void>;
}

/** A migrated runtime on a fresh SQLite file or a fresh PostgreSQL schema. */
export async function testRuntime(
  backend: 'sqlite' | 'postgres',
  overrides: Partial<Config> = {},
): Promise<TestRuntime> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'opx-test-'));
  const schema = `opx_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const config = configSchema.parse({
    dataDir,
    logLevel: 'silent',
    ...(backend === 'postgres' ? { databaseUrl: POSTGRES_URL } : {}),
    ...overrides,
  });
  const runtime = await openRuntime(config, backend === 'postgres' ? { schema } : {});
  return {
    runtime,
    dataDir,
    async cleanup() {
      await runtime.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (backend === 'postgres') await dropSchema(schema);
    },
  };
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

export interface TestServer extends TestRuntime {
  app: FastifyInstance;
  baseUrl: string;
  /** Tokens per scope set, created fresh for the run. */
  tokens: Record<'admin' | 'ingest' | 'read' | 'respond', string>;
  request(method: string, route: string, options?: RequestOptions): Promise<TestResponse>;
}

export interface RequestOptions {
  body?: unknown;
  rawBody?: string;
  token?: string | null;
  headers?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests assert response bodies field by field; typing every body adds nothing.
  json: any;
}

/** A real server on a real loopback port, with one token per scope. */
export async function testServer(
  backend: 'sqlite' | 'postgres',
  overrides: Partial<Config> = {},
): Promise<TestServer> {
  const base = await testRuntime(backend, overrides);
  const tokens = {} as TestServer['tokens'];
  for (const scope of ['admin', 'ingest', 'read', 'respond'] as Scope[]) {
    tokens[scope] = (await createToken(base.runtime.store, `test-${scope}`, [scope])).token;
  }
  const app = await buildServer(base.runtime);
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    ...base,
    app,
    baseUrl,
    tokens,
    async request(method, route, options = {}) {
      const token = options.token === undefined ? tokens.admin : options.token;
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      if (token) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (options.rawBody !== undefined) body = options.rawBody;
      else if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(`${baseUrl}${route}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, text, json };
    },
    async cleanup() {
      await app.close();
      await base.cleanup();
    },
  };
}

/** Row counts of the tables a write touches, to prove a rejected request wrote nothing. */
export async function tableCounts(runtime: Runtime): Promise<Record<string, number>> {
  const tables = [
    'signals',
    'detections',
    'candidates',
    'incidents',
    'incident_events',
    'changes',
    'services',
    'idempotency',
    'sns_subscriptions',
  ] as const;
  const out: Record<string, number> = {};
  for (const table of tables) {
    const row = await runtime.store.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    out[table] = Number(row.n);
  }
  return out;
}

/**
 * A self-signed certificate and its key, made by openssl, as `<dir>/<name>-cert.pem` and
 * `<dir>/<name>-key.pem`: P-256 for TLS servers, RSA where a protocol signs with RSA (SNS).
 */
export function selfSignedCertificate(
  dir: string,
  name: string,
  options: { subject: string; altName?: string; key: 'ec' | 'rsa' },
): { cert: string; key: string } {
  const files = { cert: path.join(dir, `${name}-cert.pem`), key: path.join(dir, `${name}-key.pem`) };
  const keyArgs =
    options.key === 'ec'
      ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']
      : ['-newkey', 'rsa:2048'];
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      ...keyArgs,
      '-nodes',
      '-days',
      '1',
      '-subj',
      options.subject,
      ...(options.altName ? ['-addext', `subjectAltName=${options.altName}`] : []),
      '-keyout',
      files.key,
      '-out',
      files.cert,
    ],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return files;
}

/** Opens an incident by storing one critical HighErrorRate signal on checkout-service directly. */
export async function openCheckoutIncident(runtime: Runtime, fingerprint: string): Promise<string> {
  const result = await runtime.writes.run((scope) =>
    runtime.ingest.ingestInScope(
      scope,
      [
        {
          source: 'generic',
          fingerprint,
          status: 'firing',
          severity: 'critical',
          service: 'checkout-service',
          environment: 'prod',
          title: 'HighErrorRate on checkout-service',
          labels: { alertname: 'HighErrorRate' },
          annotations: {},
          links: [],
        },
      ],
      'test',
    ),
  );
  return result.incidentsCreated[0]!;
}

/** Polls `check` until it gives a value (not undefined or false), or fails after `ms`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves with a child's exit code and signal, at once if it has already exited. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Every byte of the SQLite database: the main file, the WAL and the shared memory. */
export function databaseBytes(dataDir: string): Buffer {
  const files = readdirSync(dataDir).filter((name) => name.startsWith('opx.db'));
  return Buffer.concat(files.map((name) => readFileSync(path.join(dataDir, name))));
}

/** Rows of any table in the schema whose text (or bytes) contain the marker. */
export async function postgresHits(schema: string, marker: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      'select table_name from information_schema.tables where table_schema = $1',
      [schema],
    );
    const hits: string[] = [];
    for (const { table_name } of tables.rows) {
      const columns = await client.query<{ column_name: string; data_type: string }>(
        'select column_name, data_type from information_schema.columns where table_schema = $1 and table_name = $2',
        [schema, table_name],
      );
      for (const { column_name, data_type } of columns.rows) {
        const test =
          data_type === 'bytea'
            ? `position(convert_to($1, 'UTF8') in "${column_name}") > 0`
            : `"${column_name}"::text like '%' || $1 || '%'`;
        const found = await client.query(`select 1 from "${schema}"."${table_name}" where ${test} limit 1`, [
          marker,
        ]);
        if (found.rowCount) hits.push(`${table_name}.${column_name}`);
      }
    }
    return hits;
  } finally {
    await client.end();
  }
}

/**
 * A fresh SQLite data directory or PostgreSQL database for one test, migrated by `opx migrate`, with
 * the environment an `opx` child process needs to use it.
 */
export async function freshStore(backend: 'sqlite' | 'postgres', adminToken: string, prefix: string) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `opx-${prefix}-`));
  let database: string | undefined;
  let url = path.join(dataDir, 'opx.db');
  if (backend === 'postgres') {
    database = `opx_${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const parsed = new URL(POSTGRES_URL!);
    parsed.pathname = `/${database}`;
    url = parsed.toString();
  }
  const env: Record<string, string> = {
    OPX_DATA_DIR: dataDir,
    OPX_DATABASE_URL: backend === 'postgres' ? url : '',
    OPX_ADMIN_TOKEN: adminToken,
    OPX_LOG_LEVEL: 'warn',
    // The senders here are the test; a rate limit would only turn some batches into 429s.
    OPX_RATE_LIMIT_PER_MINUTE: '0',
  };
  const cleanup = async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (database) {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  };
  const migrated = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'opx.js'), 'migrate'], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  if (migrated.status !== 0) {
    await cleanup();
    throw new Error(`opx migrate failed: ${migrated.stderr}`);
  }
  return { dataDir, url, env, cleanup };
}

/**
 * The console tests' culprit: auth-service v2.14.0 → v2.15.0, deployed 14 to 12 minutes before now
 * in prod, so it falls in an investigation's look-back.
 */
export async function insertAuthServiceDeploy(store: Runtime['store'], summary: string, source: string) {
  const now = Date.now();
  return store.changes.insert({
    kind: 'deploy',
    service: 'auth-service',
    environment: 'prod',
    versionFrom: 'v2.14.0',
    versionTo: 'v2.15.0',
    author: 'ci-bot',
    summary,
    startedAt: now - 14 * 60_000,
    finishedAt: now - 12 * 60_000,
    links: [],
    source,
  });
}
