import { spawnSync } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_HOLD_ENV } from '../src/investigate/graph.js';
import { type OpxProcess, POSTGRES_URL, REPO_ROOT, spawnOpx } from './support.js';

const BIN = path.join(REPO_ROOT, 'bin', 'opx.js');
const INCIDENTS = 200;
const ADMIN = 'opx-fleet-test-admin-token-0123456789';

type Child = OpxProcess;
const start = spawnOpx;

async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 120_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The fleet on PostgreSQL: one API process and three worker processes share a database. One worker is
 * made to hold every investigation it takes (fault injection) and is SIGKILLed while it holds them; its
 * jobs' leases expire and the other workers resume them from their checkpoints.
 */
describe.skipIf(!POSTGRES_URL)('a fleet of processes on PostgreSQL', () => {
  const database = `opx_fleet_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  let url: string;
  let admin: pg.Client;
  let db: pg.Client;
  const children: Child[] = [];
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const parsed = new URL(POSTGRES_URL!);
    parsed.pathname = `/${database}`;
    url = parsed.toString();
    db = new pg.Client({ connectionString: url });
  });
  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await db.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it(`investigates each of ${INCIDENTS} incidents exactly once through a worker crash`, async () => {
    const env = {
      OPX_DATABASE_URL: url,
      OPX_ADMIN_TOKEN: ADMIN,
      OPX_LOG_LEVEL: 'info',
      OPX_INVESTIGATE_DELAY_SECONDS: '0',
      OPX_JOB_LEASE_SECONDS: '3',
      OPX_WORKER_CONCURRENCY: '4',
    };
    const migrated = spawnSync(process.execPath, [BIN, 'migrate'], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    expect(migrated.status, migrated.stderr).toBe(0);
    await db.connect();

    const api = start(['serve', '--role', 'api', '--port', '0'], env);
    // A second API process receives the same alerts at the same moment (a retrying sender, two
    // load-balanced deliveries): incidents must still be built once.
    const twin = start(['serve', '--role', 'api', '--port', '0'], env);
    children.push(api, twin);
    const listening = (child: Child) => /listening on (http:\/\/\S+)/.exec(child.output())?.[1];
    const baseUrl = await waitFor('the API to listen', () => listening(api));
    const twinUrl = await waitFor('the second API to listen', () => listening(twin));
    // Worker 1 holds every investigation it takes inside response-strategy, until it is killed.
    const doomed = start(['serve', '--role', 'worker'], { ...env, [FAULT_HOLD_ENV]: 'response-strategy' });
    children.push(doomed);
    await waitFor('worker 1 to start', () => /opx worker started/.test(doomed.output()) || undefined);

    const signals = Array.from({ length: INCIDENTS }, (_, index) => ({
      service: `fleet-svc-${String(index).padStart(3, '0')}`,
      environment: 'production',
      severity: 'critical',
      title: `HighErrorRate on fleet-svc-${index}`,
      fingerprint: `fleet-${index}`,
    }));
    const post = (base: string) =>
      fetch(`${base}/v1/signals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ signals }),
      });
    const created = async (response: Response) => {
      expect(response.status).toBe(200);
      return ((await response.json()) as { incidents: { created: string[] } }).incidents.created;
    };
    const [one, two] = await Promise.all([post(baseUrl).then(created), post(twinUrl).then(created)]);
    expect(one.length + two.length).toBe(INCIDENTS);
    expect(new Set([...one, ...two]).size).toBe(INCIDENTS);

    // Worker 1 claims jobs and holds them; then two more workers join, and worker 1 is killed mid-run.
    await waitFor(
      'worker 1 to hold investigations',
      () => (doomed.output().match(/holding node/g)?.length ?? 0) >= 4 || undefined,
    );
    const workers = [start(['serve', '--role', 'worker'], env), start(['serve', '--role', 'worker'], env)];
    children.push(...workers);
    await waitFor('some investigations to complete', async () => {
      const { rows } = await db.query(
        `SELECT count(*)::int AS n FROM investigations WHERE status = 'completed'`,
      );
      return rows[0].n >= 20 || undefined;
    });
    doomed.kill('SIGKILL');

    // A third delivery of the same alerts opens nothing new.
    expect(await created(await post(baseUrl))).toEqual([]);

    await waitFor('every incident to be investigated', async () => {
      const { rows } = await db.query(
        `SELECT count(*)::int AS n FROM investigations WHERE status = 'completed'`,
      );
      return rows[0].n >= INCIDENTS || undefined;
    });

    const incidents = await db.query(`SELECT count(*)::int AS n FROM incidents`);
    expect(incidents.rows[0].n).toBe(INCIDENTS);
    // Exactly one investigation per incident, completed; none lost, none duplicated.
    const perIncident = await db.query(
      `SELECT incident_id, count(*)::int AS runs, sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END)::int AS completed
         FROM investigations GROUP BY incident_id`,
    );
    expect(perIncident.rows).toHaveLength(INCIDENTS);
    expect(perIncident.rows.filter((row) => row.runs !== 1 || row.completed !== 1)).toEqual([]);
    // The investigations worker 1 held were resumed by another worker, not started again.
    const resumed = await db.query(
      `SELECT count(*)::int AS n FROM incident_events WHERE type = 'investigation_resumed'`,
    );
    expect(resumed.rows[0].n).toBeGreaterThanOrEqual(1);
    // Recommendations come from one investigation each, written once.
    const duplicates = await db.query(
      `SELECT incident_id FROM recommendations GROUP BY incident_id HAVING count(DISTINCT investigation_id) > 1`,
    );
    expect(duplicates.rows).toEqual([]);
    const jobs = await db.query(`SELECT status, count(*)::int AS n FROM jobs GROUP BY status`);
    expect(jobs.rows).toEqual([{ status: 'done', n: INCIDENTS }]);
    const completedEvents = await db.query(
      `SELECT incident_id FROM incident_events WHERE type = 'investigation_completed' GROUP BY incident_id HAVING count(*) > 1`,
    );
    expect(completedEvents.rows).toEqual([]);
  }, 240_000);
});
