import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Migrator, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RULES } from '../src/detect/rules.js';
import { migrateAndSeed } from '../src/runtime.js';
import {
  MIGRATION_LOCK_TABLE,
  MIGRATION_NAMES,
  MIGRATION_TABLE,
  MIGRATIONS,
  migrationName,
  migrationProvider,
  migrationStatements,
  planMigrations,
} from '../src/store/migrations.js';
import { openStore, type Store } from '../src/store/store.js';
import { BACKENDS, dropSchema, freshPostgresDatabase, POSTGRES_URL, REPO_ROOT } from './support.js';

const BIN = path.join(REPO_ROOT, 'bin', 'opx.js');

function opx(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, OPX_ADMIN_TOKEN: '', OPX_DATABASE_URL: '', ...env },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every file in a directory with its SHA-256: a dry run must leave this exactly as it was. */
function directoryState(dir: string): Record<string, string> {
  if (!existsSync(dir)) return {};
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => [
        name,
        createHash('sha256')
          .update(readFileSync(path.join(dir, name)))
          .digest('hex'),
      ]),
  );
}

describe('the migration list', () => {
  it('names each migration by its position, so Kysely’s name order is the list order', () => {
    expect(MIGRATION_NAMES).toEqual(MIGRATIONS.map((_, index) => String(index).padStart(4, '0')));
    expect([...MIGRATION_NAMES].sort()).toEqual(MIGRATION_NAMES);
    expect(new Set(MIGRATION_NAMES).size).toBe(MIGRATIONS.length);
    // Four digits keep string order equal to numeric order up to 10,000 migrations.
    expect(MIGRATIONS.length).toBeLessThan(10_000);
  });

  it('gives every migration a one-line summary for opx migrate --dry-run', () => {
    for (const migration of MIGRATIONS) {
      expect(migration.summary.trim().length).toBeGreaterThan(10);
      expect(migration.summary).not.toContain('\n');
    }
  });

  it('compiles every migration to SQL on both dialects without a database', async () => {
    for (const name of MIGRATION_NAMES) {
      for (const dialect of ['sqlite', 'postgres'] as const) {
        const statements = await migrationStatements(name, dialect);
        expect(statements.length, `${name} on ${dialect}`).toBeGreaterThan(0);
        for (const statement of statements)
          expect(statement).toMatch(/^(create|alter|drop|select|insert|update) /);
      }
    }
    expect(await migrationStatements('0002', 'postgres')).toEqual([
      'create index "audit_log_principal_at" on "audit_log" ("principal", "at")',
      'create index "audit_log_target_at" on "audit_log" ("target", "at")',
    ]);
  });

  it('plans what Kysely would apply, and refuses what Kysely would refuse', () => {
    expect(planMigrations([])).toEqual({ version: 0, pending: [...MIGRATION_NAMES] });
    expect(planMigrations(['0000'])).toEqual({ version: 1, pending: MIGRATION_NAMES.slice(1) });
    expect(planMigrations([...MIGRATION_NAMES].reverse())).toEqual({
      version: MIGRATIONS.length,
      pending: [],
    });
    const newer = planMigrations([...MIGRATION_NAMES, migrationName(MIGRATIONS.length)]);
    expect(newer.refusal).toContain(
      `applied migration ${migrationName(MIGRATIONS.length)}, which this release does not have`,
    );
    expect(newer.refusal).toContain('newer OPX release');
    const gap = planMigrations(['0000', '0002']);
    expect(gap.refusal).toContain('not 0001 itself');
  });
});

interface Fresh {
  /** Extra environment for the CLI. */
  env: Record<string, string>;
  open(): Promise<Store>;
  /** What a dry run must leave untouched. */
  state(): Promise<unknown>;
  cleanup(): Promise<void>;
}

async function freshStore(backend: 'sqlite' | 'postgres'): Promise<Fresh> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opx-migrate-'));
  if (backend === 'sqlite') {
    const dataDir = path.join(dir, 'data');
    return {
      env: { OPX_DATA_DIR: dataDir },
      open: () => openStore(`sqlite:${path.join(dataDir, 'opx.db')}`),
      state: async () => directoryState(dataDir),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const { url, drop } = await freshPostgresDatabase('opx_migrate');
  return {
    env: { OPX_DATABASE_URL: url, OPX_DATA_DIR: path.join(dir, 'data') },
    open: () => openStore(url),
    async state() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const relations = await client.query(
          `select relname, relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') order by 1`,
        );
        const migrations = relations.rows.some((row) => row.relname === MIGRATION_TABLE)
          ? (await client.query(`select name, timestamp from ${MIGRATION_TABLE} order by name`)).rows
          : [];
        return { relations: relations.rows, migrations, files: directoryState(path.join(dir, 'data')) };
      } finally {
        await client.end();
      }
    },
    async cleanup() {
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Applies the first `count` migrations the way `migrate()` does, through Kysely's migrator. */
async function migrateFirst(store: Store, count: number): Promise<void> {
  if (count === 0) return;
  const migrator = new Migrator({
    db: store.db,
    provider: migrationProvider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const { error } = await migrator.migrateTo(migrationName(count - 1));
  if (error) throw error;
}

/** The schema as the database describes it: tables, their columns, and indexes. */
async function schemaOf(store: Store): Promise<unknown> {
  if (store.dialect === 'sqlite') {
    const rows = await sql<{ type: string; name: string; sql: string | null }>`
      select type, name, sql from sqlite_master where name not like 'sqlite_%' order by type, name`.execute(
      store.db,
    );
    return rows.rows;
  }
  const columns = await sql`
    select table_name, column_name, data_type, is_nullable from information_schema.columns
    where table_schema = current_schema() order by table_name, column_name`.execute(store.db);
  const indexes = await sql`
    select tablename, indexname, indexdef from pg_indexes where schemaname = current_schema()
    order by tablename, indexname`.execute(store.db);
  return { columns: columns.rows, indexes: indexes.rows };
}

describe.each(BACKENDS)('opx migrate on %s', (backend) => {
  it('from every earlier version, applies exactly the rest, to the schema a fresh store gets', async () => {
    const fresh = await freshStore(backend);
    let reference: unknown;
    try {
      const store = await fresh.open();
      try {
        await store.migrate();
        reference = await schemaOf(store);
      } finally {
        await store.close();
      }
    } finally {
      await fresh.cleanup();
    }
    for (let version = 0; version < MIGRATIONS.length; version += 1) {
      const earlier = await freshStore(backend);
      try {
        const store = await earlier.open();
        try {
          await migrateFirst(store, version);
          const pending = MIGRATION_NAMES.slice(version);
          expect(await store.migrationPlan()).toEqual({ version, pending });
          expect(await store.migrate()).toEqual({ applied: pending, version: MIGRATIONS.length });
          // Re-running is a no-op, as a restart loop would do it.
          expect(await store.migrate()).toEqual({ applied: [], version: MIGRATIONS.length });
          expect(await schemaOf(store)).toEqual(reference);
        } finally {
          await store.close();
        }
      } finally {
        await earlier.cleanup();
      }
    }
  });

  describe('--dry-run', () => {
    let fresh: Fresh;
    beforeAll(async () => {
      fresh = await freshStore(backend);
    });
    afterAll(async () => fresh.cleanup());

    it('on a store never migrated lists every migration and creates nothing, not even bookkeeping', async () => {
      const before = await fresh.state();
      const dry = opx(['migrate', '--dry-run'], fresh.env);
      expect(dry.code, dry.stderr).toBe(0);
      for (const [index, name] of MIGRATION_NAMES.entries())
        expect(dry.stdout).toContain(`${name}  ${MIGRATIONS[index]!.summary}`);
      expect(dry.stdout).toContain(`${MIGRATIONS.length} pending migrations`);
      expect(dry.stdout).toContain('dry run: nothing was written');
      expect(await fresh.state()).toEqual(before);
      if (backend === 'sqlite') expect(dry.stdout).toContain('does not exist yet');
      const json = opx(['--json', 'migrate', '--dry-run'], fresh.env);
      const report = JSON.parse(json.stdout);
      expect(report).toMatchObject({
        dryRun: true,
        dialect: backend,
        version: 0,
        latest: MIGRATIONS.length,
        checkpointTables: 'missing',
        defaultRulesToInstall: DEFAULT_RULES.length,
      });
      expect(report.pending.map((item: { name: string }) => item.name)).toEqual(MIGRATION_NAMES);
      expect(await fresh.state()).toEqual(before);
    });

    it('on a store some versions behind lists exactly the pending ones, with their SQL', async () => {
      const store = await fresh.open();
      try {
        await migrateFirst(store, MIGRATIONS.length - 1);
      } finally {
        await store.close();
      }
      const before = await fresh.state();
      const dry = opx(['migrate', '--dry-run'], fresh.env);
      expect(dry.code, dry.stderr).toBe(0);
      const last = MIGRATION_NAMES.at(-1)!;
      expect(dry.stdout).toContain(
        `schema version ${MIGRATIONS.length - 1} of ${MIGRATIONS.length}\n1 pending migration,`,
      );
      expect(dry.stdout).toContain(`${last}  ${MIGRATIONS.at(-1)!.summary}`);
      for (const statement of await migrationStatements(last, backend))
        expect(dry.stdout).toContain(`      ${statement};`);
      for (const name of MIGRATION_NAMES.slice(0, -1))
        expect(dry.stdout).not.toMatch(new RegExp(`^${name} `, 'm'));
      expect(await fresh.state()).toEqual(before);

      const applied = opx(['migrate'], fresh.env);
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stdout).toContain(`applied migrations ${last}; version ${MIGRATIONS.length}`);
    });

    it('on a current store says there is nothing to do, exits 0, and writes nothing', async () => {
      const before = await fresh.state();
      const dry = opx(['migrate', '--dry-run'], fresh.env);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(`schema version ${MIGRATIONS.length} of ${MIGRATIONS.length}`);
      expect(dry.stdout).toContain('no pending migrations');
      expect(dry.stdout).not.toContain('would also');
      expect(await fresh.state()).toEqual(before);
      expect(JSON.parse(opx(['--json', 'migrate', '--dry-run'], fresh.env).stdout)).toMatchObject({
        version: MIGRATIONS.length,
        pending: [],
        checkpointTables: 'present',
        defaultRulesToInstall: 0,
      });
    });

    it('refuses, as opx migrate does, a store a newer release has migrated', async () => {
      const newer = migrationName(MIGRATIONS.length);
      const store = await fresh.open();
      try {
        await sql`insert into ${sql.table(MIGRATION_TABLE)} (name, timestamp) values (${newer}, ${new Date().toISOString()})`.execute(
          store.db,
        );
      } finally {
        await store.close();
      }
      for (const args of [['migrate', '--dry-run'], ['migrate'], ['incidents', 'list']]) {
        const refused = opx(args, fresh.env);
        expect(refused.code, args.join(' ')).toBe(1);
        expect(refused.stderr).toContain(`applied migration ${newer}, which this release does not have`);
        expect(refused.stderr).toContain('migrated by a newer OPX release');
      }
    });
  });
});

describe('opx migrate: a store it cannot use', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'opx-migrate-bad-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the problem and the store, and exits 1, with or without --dry-run', () => {
    mkdirSync(path.join(dir, 'junk'));
    writeFileSync(path.join(dir, 'junk', 'opx.db'), 'not a database at all, just text\n'.repeat(100));
    const cases: [string[], RegExp][] = [
      [['--database-url', 'mysql://db.example/opx'], /unsupported database URL "mysql:\/\/db\.example\/opx"/],
      [
        ['--database-url', 'postgres://opx:s3cret@127.0.0.1:1/opx'],
        /cannot use the store at postgres:\/\/opx:\*\*\*@127\.0\.0\.1:1\/opx: .*ECONNREFUSED/,
      ],
      [
        ['--data-dir', path.join(dir, 'junk')],
        /cannot use the store at sqlite:.*opx\.db: file is not a database/,
      ],
    ];
    for (const [flags, message] of cases) {
      for (const args of [
        [...flags, 'migrate', '--dry-run'],
        [...flags, 'migrate'],
      ]) {
        // A data dir of its own: without --dry-run, the key files are read (and made) before the store.
        const result = opx(args, { OPX_DATA_DIR: path.join(dir, 'data') });
        expect(result.code, args.join(' ')).toBe(1);
        expect(result.stderr, args.join(' ')).toMatch(message);
        expect(result.stderr).not.toContain('s3cret');
      }
    }
  });

  it.skipIf(!POSTGRES_URL)('names a PostgreSQL database that does not exist', () => {
    const parsed = new URL(POSTGRES_URL!);
    parsed.pathname = '/opx_no_such_database';
    const result = opx(['--database-url', parsed.toString(), 'migrate', '--dry-run'], {
      OPX_DATA_DIR: path.join(dir, 'data'),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('database "opx_no_such_database" does not exist');
  });
});

describe.skipIf(!POSTGRES_URL)('processes starting together on one new PostgreSQL database', () => {
  it('migrate and seed once: the others wait, then find nothing to do', async () => {
    const schema = `opx_race_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const stores = await Promise.all(Array.from({ length: 5 }, () => openStore(POSTGRES_URL!, { schema })));
    try {
      const results = await Promise.all(
        stores.map((store) => migrateAndSeed(store, { checkpoints: 'always' })),
      );
      expect(results.filter((result) => result.applied.length > 0)).toHaveLength(1);
      expect(results.reduce((sum, result) => sum + result.seededRules, 0)).toBe(DEFAULT_RULES.length);
      expect(await stores[0]!.rules.count()).toBe(DEFAULT_RULES.length);
    } finally {
      for (const store of stores) await store.close();
      await dropSchema(schema);
    }
  });
});
