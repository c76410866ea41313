import { type ChildProcessByStdio, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, exited, POSTGRES_URL, payloadText, REPO_ROOT, waitFor } from './support.js';

/**
 * The npm package as a user gets it, and the layout the container image is made of, without Docker:
 * `npm pack` this checkout, install the tarball with production dependencies only into an empty
 * directory, prune node_modules with the Dockerfile's own script, and run the installed `opx` from
 * other empty directories with OPX_* environment settings only. The Dockerfile's runtime stage holds
 * the same files (the packed package plus production node_modules), so this is the test that stands
 * in for the image, which cannot be built here.
 */

type Child = ChildProcessByStdio<null, Readable, Readable> & { output(): string; cwd: string };

const ALERT = 'alertmanager-0.25-webhook-firing.json';

describe('the npm package, installed with production dependencies only', () => {
  let work: string;
  let packed: { path: string }[];
  let tarball: string;
  let installed: string;
  let bin: string;
  const children: Child[] = [];

  /** Environment for the installed opx: this one's, without any OPX_* setting, plus `settings`. */
  const environment = (settings: Record<string, string>) => {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env))
      if (value !== undefined && !key.startsWith('OPX_')) env[key] = value;
    return { ...env, ...settings };
  };
  const emptyDir = (name: string) => {
    const dir = path.join(work, name);
    mkdirSync(dir);
    return dir;
  };
  const start = (args: string[], settings: Record<string, string>): Child => {
    const cwd = emptyDir(`run-${children.length}`);
    const child = spawn(bin, args, {
      cwd,
      env: environment(settings),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    const started = Object.assign(child, { output: () => output, cwd });
    children.push(started);
    return started;
  };
  const run = (args: string[], settings: Record<string, string>, cwd = emptyDir(`cli-${Math.random()}`)) =>
    spawnSync(bin, args, { cwd, env: environment(settings), encoding: 'utf8' });
  const listening = (child: Child) => /opx listening on (http:\/\/\S+)/.exec(child.output())?.[1];
  const stop = async (child: Child) => {
    child.kill('SIGTERM');
    const { code } = await exited(child);
    expect(code, child.output()).toBe(0);
  };
  /** The Dockerfile's HEALTHCHECK, run against a port. */
  const healthcheck = (port: string) =>
    spawnSync(process.execPath, [path.join(REPO_ROOT, 'deploy', 'container', 'healthcheck.mjs')], {
      env: environment({ OPX_PORT: port }),
      encoding: 'utf8',
    });

  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'opx-package-'));
    // The suite's global setup has just compiled dist/ and `npm ci` built the console, so the package
    // is packed as it is, without running `prepare` (a rebuild here would rewrite dist/ under the
    // other test files that are running).
    const pack = spawnSync(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', work, '--loglevel=error'],
      { cwd: REPO_ROOT, encoding: 'utf8' },
    );
    expect(pack.status, pack.stderr).toBe(0);
    const [result] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    packed = result!.files;
    tarball = path.join(work, path.basename(result!.filename));

    // better-sqlite3 installs a prebuilt binary from GitHub, which this machine cannot reach. Its
    // installer (prebuild-install) looks in a local folder first: put this checkout's build of the same
    // version there under the name it would download, so the real install script runs without a
    // 2-minute compile. A version this checkout does not have is compiled from source instead.
    const sqliteVersion = JSON.parse(
      readFileSync(path.join(REPO_ROOT, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8'),
    ).version as string;
    const prebuilds = emptyDir('prebuilds');
    const archive = `better-sqlite3-v${sqliteVersion}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
    const made = spawnSync(
      'tar',
      [
        '-czf',
        path.join(prebuilds, archive),
        '-C',
        path.join(REPO_ROOT, 'node_modules', 'better-sqlite3'),
        'build/Release/better_sqlite3.node',
      ],
      { encoding: 'utf8' },
    );
    expect(made.status, made.stderr).toBe(0);

    installed = emptyDir('app');
    const install = spawnSync(
      'npm',
      ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball],
      {
        cwd: installed,
        env: { ...environment({}), npm_config_better_sqlite3_local_prebuilds: prebuilds },
        encoding: 'utf8',
      },
    );
    expect(install.status, install.stderr).toBe(0);
    // The image's node_modules is pruned by this script; run what the image would run.
    const prune = spawnSync(
      'sh',
      [
        path.join(REPO_ROOT, 'deploy', 'container', 'prune-node-modules.sh'),
        path.join(installed, 'node_modules'),
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(prune.status, prune.stderr).toBe(0);
    bin = path.join(installed, 'node_modules', '.bin', 'opx');
  }, 600_000);

  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited(child);
      }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds what runs and nothing else: the build, the console, the demo data, the licences', () => {
    const paths = packed.map((file) => file.path);
    for (const needed of [
      'package.json',
      'bin/opx.js',
      'dist/cli/main.js',
      'dist/bundle/main.js',
      'dist/api/routes/console.js',
      'web/dist/index.html',
      'examples/topology/catalog-info.yaml',
      'LICENSE',
      'NOTICE',
      'README.md',
    ])
      expect(paths).toContain(needed);
    expect(paths.some((file) => file.startsWith('examples/kb/'))).toBe(true);
    expect(paths.some((file) => file.startsWith('examples/history/'))).toBe(true);
    expect(paths.some((file) => file.startsWith('web/dist/assets/'))).toBe(true);
    const top = new Set(paths.map((file) => file.split('/')[0]));
    expect([...top].sort()).toEqual([
      'LICENSE',
      'NOTICE',
      'README.md',
      'bin',
      'dist',
      'examples',
      'package.json',
      'web',
    ]);
    expect(paths.filter((file) => file.startsWith('web/') && !file.startsWith('web/dist/'))).toEqual([]);
    expect(paths.filter((file) => file.endsWith('.map') || file.endsWith('.ts'))).toEqual([]);
  });

  it('imports nothing at run time but Node built-ins and its own dependencies', () => {
    const root = path.join(installed, 'node_modules', 'opx');
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const builtins = new Set(builtinModules);
    const imported = new Map<string, string>();
    /** Packages the CLI bundle (dist/bundle, what bin/opx.js runs) imports rather than inlines. */
    const fromBundle = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const file = path.join(dir, entry);
        if (statSync(file).isDirectory()) walk(file);
        else if (file.endsWith('.js')) {
          const text = readFileSync(file, 'utf8');
          const specifiers = [
            // import … from '…' and export … from '…' statements (tsc writes each on its own lines)
            ...text.matchAll(/^\s*(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm),
            // import '…'
            ...text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
            // import('…')
            ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
          ].map((match) => match[1]!);
          for (const specifier of specifiers) {
            if (specifier.startsWith('.') || specifier.startsWith('node:') || builtins.has(specifier))
              continue;
            const name = specifier
              .split('/')
              .slice(0, specifier.startsWith('@') ? 2 : 1)
              .join('/');
            imported.set(name, path.relative(root, file));
            if (file.includes(`${path.sep}bundle${path.sep}`)) fromBundle.add(name);
          }
        }
      }
    };
    walk(path.join(root, 'dist'));
    walk(path.join(root, 'bin'));
    expect(imported.size).toBeGreaterThan(10);
    const undeclared = [...imported].filter(([name]) => !Object.hasOwn(manifest.dependencies, name));
    expect(undeclared).toEqual([]);
    // scripts/bundle-cli.mjs inlines Kysely and nothing else: zod stays one shared instance.
    expect(fromBundle.has('kysely')).toBe(false);
    expect(fromBundle.has('zod')).toBe(true);
    expect(fromBundle.has('better-sqlite3')).toBe(true);
  });

  it('runs the demo from an empty directory, on the topology, runbooks and history it ships', () => {
    const dir = emptyDir('demo');
    const demo = run(['--json', 'demo'], {}, dir);
    expect(demo.status, demo.stderr).toBe(0);
    const result = JSON.parse(demo.stdout);
    expect(result.incident.services).toEqual(['api-gateway']);
    expect(result.incident.status).toBe('ADVISORY_READY');
    expect(result.findings.length).toBeGreaterThan(0);
    expect(result.knowledge.length).toBeGreaterThan(0);
    expect(result.dataDir).toBe(path.join(dir, '.opx', 'demo'));
    expect(readdirSync(dir)).toEqual(['.opx']);
  });

  it.each(BACKENDS)(
    'serves the API and the console, opens an incident from an Alertmanager webhook and investigates it, on %s',
    async (backend) => {
      let database: string | undefined;
      const settings: Record<string, string> = {
        OPX_HOST: '127.0.0.1',
        OPX_PORT: '0',
        // Made by opx itself when it needs it: on PostgreSQL, with the keys given, it never does.
        OPX_DATA_DIR: path.join(work, `data-${backend}`),
        OPX_INVESTIGATE_DELAY_SECONDS: '0',
      };
      let admin: pg.Client | undefined;
      try {
        const processes: Child[] = [];
        let adminToken: string;
        if (backend === 'postgres') {
          // compose.yaml's layout: migrate once, then an API process and a worker process sharing the
          // database, the admin token and the keys, all from the environment.
          admin = new pg.Client({ connectionString: POSTGRES_URL });
          await admin.connect();
          database = `opx_package_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
          await admin.query(`CREATE DATABASE ${database}`);
          const url = new URL(POSTGRES_URL!);
          url.pathname = `/${database}`;
          adminToken = 'package-test-admin-token-0123456789';
          Object.assign(settings, {
            OPX_DATABASE_URL: url.toString(),
            OPX_ADMIN_TOKEN: adminToken,
            OPX_GUARDRAIL_HASH_KEY: 'package-test-guardrail-key-0123456789',
            OPX_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
          });
          const migrated = run(['migrate'], settings);
          expect(migrated.status, migrated.stderr).toBe(0);
          processes.push(
            start(['serve', '--role', 'api'], settings),
            start(['serve', '--role', 'worker'], settings),
          );
          await waitFor(
            'the worker to start',
            () => /opx worker started/.test(processes[1]!.output()),
            60_000,
          );
        } else {
          // The container's single-process layout on SQLite: no admin token given, so the first start
          // prints one, as docs/deploy.md tells users to look for.
          processes.push(start(['serve'], settings));
        }
        const [api] = processes;
        const baseUrl = await waitFor('the API to listen', () => listening(api!), 60_000);
        if (backend === 'sqlite') {
          adminToken = /Generated an admin token[^\n]*\n\n\s+(\S+)/.exec(api!.output())?.[1] ?? '';
          expect(adminToken).toMatch(/^opx_/);
        }
        const port = new URL(baseUrl).port;

        expect(healthcheck(port).status).toBe(0);
        const health = await fetch(`${baseUrl}/healthz`);
        expect(health.status).toBe(200);
        expect(((await health.json()) as { store: string }).store).toBe(backend);
        const home = await fetch(`${baseUrl}/`);
        expect(home.status).toBe(200);
        const page = await home.text();
        const asset = /src="(\/assets\/[^"]+\.js)"/.exec(page)?.[1];
        expect(asset).toBeDefined();
        expect((await fetch(`${baseUrl}${asset}`)).status).toBe(200);

        // A source token made by the installed CLI on the same store, as the deploy docs show.
        const created = run(
          ['--json', 'tokens', 'create', '--name', 'alertmanager', '--scope', 'ingest'],
          settings,
        );
        expect(created.status, created.stderr).toBe(0);
        const ingestToken = JSON.parse(created.stdout).token as string;

        const ingest = await fetch(`${baseUrl}/v1/ingest/alertmanager`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ingestToken}`, 'content-type': 'application/json' },
          body: payloadText(ALERT),
        });
        expect(ingest.status, await ingest.clone().text()).toBe(200);
        const accepted = (await ingest.json()) as { accepted: number; incidents: { created: string[] } };
        expect(accepted.accepted).toBe(2);
        expect(accepted.incidents.created).toHaveLength(1);

        const read = { authorization: `Bearer ${adminToken!}` };
        const list = await fetch(`${baseUrl}/v1/incidents?service=api-gateway`, { headers: read });
        expect(list.status).toBe(200);
        const incidents = (
          (await list.json()) as { items: { id: string; services: string[]; signalCount: number }[] }
        ).items;
        expect(incidents).toHaveLength(1);
        expect(incidents[0]).toMatchObject({
          id: accepted.incidents.created[0],
          services: ['api-gateway'],
          signalCount: 2,
        });

        // The worker (in the same process on SQLite, its own process on PostgreSQL) investigates it.
        const investigations = `${baseUrl}/v1/incidents/${incidents[0]!.id}/investigations`;
        let completed: { status: string } | undefined;
        const deadline = Date.now() + 60_000;
        while (!completed) {
          const body = (await (await fetch(investigations, { headers: read })).json()) as {
            items: { status: string }[];
          };
          completed = body.items.find((item) => item.status === 'completed');
          if (!completed) {
            expect(Date.now(), 'the investigation to complete').toBeLessThan(deadline);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }

        for (const child of [...processes].reverse()) await stop(child);
        // Nothing is written to the working directory; on PostgreSQL with the keys in the environment,
        // nothing at all outside the database, which is what lets the image run with a read-only root.
        for (const child of processes) expect(readdirSync(child.cwd)).toEqual([]);
        expect(existsSync(settings.OPX_DATA_DIR!)).toBe(backend === 'sqlite');
        expect(healthcheck(port).status).toBe(1);
      } finally {
        if (admin) {
          if (database) await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
          await admin.end();
        }
      }
    },
    120_000,
  );
});
