import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { runConformance } from '../src/store/conformance/index.js';
import { MIGRATIONS } from '../src/store/migrations.js';
import { openStore, type Store } from '../src/store/store.js';
import { dropSchema, POSTGRES_URL } from './support.js';

async function expectEveryMigrationApplied(store: Store): Promise<void> {
  const { applied } = await store.migrate();
  // The specs only see the store after this call, so the first run is checked here.
  if (applied.length !== MIGRATIONS.length) {
    throw new Error(`first migrate applied ${applied.length} of ${MIGRATIONS.length} migrations`);
  }
}

runConformance('sqlite', async () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'opx-conformance-'));
  const store = await openStore(`sqlite:${path.join(directory, 'opx.db')}`);
  await expectEveryMigrationApplied(store);
  return {
    store,
    async cleanup() {
      await store.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
});

function schemaName(): string {
  return `opx_conf_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
}

async function openPostgres(url: string) {
  const schema = schemaName();
  const store = await openStore(url, { schema });
  const cleanup = async () => {
    await store.close();
    await dropSchema(schema);
  };
  try {
    await expectEveryMigrationApplied(store);
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { store, cleanup };
}

// PostgreSQL runs only where a server is configured; SQLite alone still checks the whole contract.
if (POSTGRES_URL) {
  const url = POSTGRES_URL;
  runConformance('postgres', () => openPostgres(url));

  describe('store conformance: postgres schemas', () => {
    it('a store migrates in a new schema while another OPX schema exists in the database', async () => {
      const first = await openPostgres(url);
      try {
        const second = await openPostgres(url);
        await second.cleanup();
      } finally {
        await first.cleanup();
      }
    });

    it('a store migrates while other schemas of the database are being dropped', async () => {
      // Kysely's migrator introspects every schema; PostgreSQL fails that query when a schema it
      // is reading goes away. Other stores come and go in a shared database: that is not a failure.
      let churning = true;
      const churn = (async () => {
        let created = 0;
        while (churning || created < 3) {
          const schema = schemaName();
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          try {
            await client.query(`create schema ${schema}`);
            await client.query(`create table ${schema}.t (id serial primary key, a int, b int, c int)`);
          } finally {
            await client.end();
          }
          await dropSchema(schema);
          created += 1;
        }
      })();
      try {
        for (let round = 0; round < 6; round += 1) await (await openPostgres(url)).cleanup();
      } finally {
        churning = false;
        await churn;
      }
    });

    it('stores in different schemas do not see each other’s rows', async () => {
      const first = await openPostgres(url);
      const second = await openPostgres(url);
      try {
        await first.store.tokens.create('only-in-first', 'hash-first', ['read'], 0);
        expect(await first.store.tokens.count()).toBe(1);
        expect(await second.store.tokens.count()).toBe(0);
      } finally {
        await first.cleanup();
        await second.cleanup();
      }
    });
  });
}
