import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Secret, Service } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ENV_NAMES } from '../src/config/index.js';
import { exited, payloadText, REPO_ROOT, waitFor } from './support.js';

/**
 * The deployment files checked without a cluster, a container engine or systemd running: the Helm
 * chart is linted and rendered by a real helm (scripts/helm.mjs) and every manifest is validated against
 * the Kubernetes schemas, the systemd units go through `systemd-analyze`, and the settings every
 * deployment file names are checked against the ones OPX reads.
 */

const CHART = path.join(REPO_ROOT, 'deploy', 'helm', 'opx');
const UNITS = path.join(REPO_ROOT, 'deploy', 'systemd');
const UNIT_FILES = ['opx.service', 'opx-worker@.service'];

/** Polls an asynchronous check until it is true, or fails after `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
}

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: unknown };
// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are read field by field in assertions.
type Loose = any;

/** The models whose schemas validate each kind the chart renders; a new kind must be added here. */
const MODELS: Record<string, { prototype: { validate(): void } }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/Secret': Secret,
};

/**
 * Runs a model's schema validation on `manifest` and returns the fields the schema does not name.
 * The schemas (Kubernetes' OpenAPI) allow unknown fields, which the API server would drop or reject,
 * so the validation runs on a proxy that records which properties it reads: a key it never reads, in
 * an object whose keys it never enumerates (maps like labels are enumerated), is not in the schema.
 */
function validateStrictly(manifest: Manifest): string[] {
  const model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (!model) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}: add it to MODELS`);
  const read = new Map<object, Set<string>>();
  const enumerated = new Set<object>();
  const where = new Map<object, string>();
  const proxies = new Map<object, object>();
  const wrap = (value: unknown, at: string): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const existing = proxies.get(value);
    if (existing) return existing;
    read.set(value, new Set());
    where.set(value, at);
    const mark = (target: object, key: string | symbol) => {
      if (typeof key === 'string') read.get(target)!.add(key);
    };
    const proxy = new Proxy(value, {
      get(target, key) {
        mark(target, key);
        const result = Reflect.get(target, key);
        return typeof key === 'string' && Object.hasOwn(target, key) ? wrap(result, `${at}/${key}`) : result;
      },
      has(target, key) {
        mark(target, key);
        return Reflect.has(target, key);
      },
      getOwnPropertyDescriptor(target, key) {
        mark(target, key);
        return Reflect.getOwnPropertyDescriptor(target, key);
      },
      ownKeys(target) {
        enumerated.add(target);
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  model.prototype.validate.call(wrap(manifest, ''));
  const unknown: string[] = [];
  for (const [object, keys] of read) {
    if (Array.isArray(object) || enumerated.has(object)) continue;
    for (const key of Object.keys(object)) if (!keys.has(key)) unknown.push(`${where.get(object)}/${key}`);
  }
  return unknown;
}

describe('the Helm chart', () => {
  let helm: string;
  const values = {
    'secrets.databaseUrl': 'postgres://opx:secret@db.internal:5432/opx',
    'secrets.guardrailHashKey': 'a-guardrail-hash-key-of-32-chars!',
    'secrets.encryptionKeys': 'k20260101:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
  };
  type Settings = Record<string, string | number | boolean>;
  const setFlags = (settings: Settings) =>
    Object.entries(settings).flatMap(([key, value]) => [
      typeof value === 'string' ? '--set-string' : '--set',
      `${key}=${value}`,
    ]);
  const run = (args: string[]) => spawnSync(helm, args, { encoding: 'utf8' });
  const render = (settings: Settings): Manifest[] => {
    const result = run(['template', 'rel', CHART, '--namespace', 'ops', ...setFlags(settings)]);
    expect(result.status, result.stderr).toBe(0);
    return parseAllDocuments(result.stdout)
      .map((document) => document.toJS() as Manifest | null)
      .filter((manifest): manifest is Manifest => manifest !== null);
  };
  const find = (manifests: Manifest[], kind: string, name: string): Loose => {
    const found = manifests.find((manifest) => manifest.kind === kind && manifest.metadata.name === name);
    expect(found, `${kind} ${name}`).toBeDefined();
    return found;
  };

  beforeAll(() => {
    const fetched = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'helm.mjs')], {
      encoding: 'utf8',
    });
    expect(fetched.status, fetched.stderr).toBe(0);
    helm = fetched.stdout.trim();
    const version = run(['version', '--short']);
    expect(version.status, version.stderr).toBe(0);
  }, 300_000);

  it('passes helm lint --strict, with the default values and with values set', () => {
    for (const flags of [[], setFlags(values), setFlags({ existingSecret: 'opx-env' })]) {
      const lint = run(['lint', CHART, '--strict', ...flags]);
      expect(lint.status, lint.stdout + lint.stderr).toBe(0);
      expect(lint.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    }
  });

  it('refuses to render without the database URL and the keys every pod must share', () => {
    const result = run(['template', 'rel', CHART]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('secrets.databaseUrl is required');
  });

  it('renders manifests that the Kubernetes schemas accept, with no field they do not define', () => {
    const sets = [
      values,
      {
        existingSecret: 'opx-env',
        migrateOnStart: false,
        'config.OPX_LLM_PROVIDER': 'anthropic',
        'extraEnv[0].name': 'ANTHROPIC_API_KEY',
        'extraEnv[0].valueFrom.secretKeyRef.name': 'anthropic',
        'extraEnv[0].valueFrom.secretKeyRef.key': 'api-key',
        'api.replicas': 3,
        'worker.replicas': 5,
        'service.type': 'NodePort',
      },
    ];
    for (const settings of sets) {
      const manifests = render(settings);
      expect(manifests.length).toBeGreaterThanOrEqual(3);
      for (const manifest of manifests) {
        expect(validateStrictly(manifest), `${manifest.kind} ${manifest.metadata.name}`).toEqual([]);
      }
    }
  });

  it('proves its strict validation catches a misspelled field and a wrong type', () => {
    const api: Loose = find(render(values), 'Deployment', 'rel-opx-api');
    const container = api.spec.template.spec.containers[0];
    container.readinesProbe = container.readinessProbe;
    expect(validateStrictly(api)).toEqual(['/spec/template/spec/containers/0/readinesProbe']);
    api.spec.replicas = 'two';
    expect(() => validateStrictly(api)).toThrow(/replicas/);
  });

  it('runs the API with probes on /healthz behind the Service, and workers, all from one Secret', () => {
    const manifests = render(values);
    const secret = find(manifests, 'Secret', 'rel-opx-env');
    expect(Object.keys(secret.stringData).sort()).toEqual([
      'OPX_DATABASE_URL',
      'OPX_ENCRYPTION_KEYS',
      'OPX_GUARDRAIL_HASH_KEY',
    ]);
    expect(secret.stringData.OPX_DATABASE_URL).toBe(values['secrets.databaseUrl']);

    const api = find(manifests, 'Deployment', 'rel-opx-api');
    const worker = find(manifests, 'Deployment', 'rel-opx-worker');
    const [apiContainer] = api.spec.template.spec.containers;
    const [workerContainer] = worker.spec.template.spec.containers;
    expect(apiContainer.args).toEqual(['serve', '--role', 'api']);
    expect(workerContainer.args).toEqual(['serve', '--role', 'worker']);
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'])
      expect(apiContainer[probe].httpGet).toEqual({ path: '/healthz', port: 'http' });
    const env = (container: Loose) =>
      Object.fromEntries(
        container.env.map((item: { name: string; value: string }) => [item.name, item.value]),
      );
    expect(env(apiContainer)).toMatchObject({ OPX_HOST: '0.0.0.0', OPX_PORT: '8080' });
    expect(apiContainer.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);

    // Every container, the migrations included, reads the same Secret: one encryption key for all.
    for (const deployment of [api, worker]) {
      const { spec } = deployment.spec.template;
      expect(spec.initContainers.map((container: Loose) => container.args)).toEqual([['migrate']]);
      for (const container of [...spec.initContainers, ...spec.containers]) {
        expect(container.envFrom).toEqual([{ secretRef: { name: 'rel-opx-env' } }]);
        expect(container.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
        });
      }
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      expect(deployment.spec.selector.matchLabels).toEqual(
        Object.fromEntries(
          Object.entries(deployment.spec.template.metadata.labels).filter(([key]) =>
            Object.hasOwn(deployment.spec.selector.matchLabels, key),
          ),
        ),
      );
    }

    // The Service selects the API pods and not the workers, on the API's named port.
    const service = find(manifests, 'Service', 'rel-opx');
    const selects = (labels: Record<string, string>) =>
      Object.entries(service.spec.selector).every(([key, value]) => labels[key] === value);
    expect(selects(api.spec.template.metadata.labels)).toBe(true);
    expect(selects(worker.spec.template.metadata.labels)).toBe(false);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
  });

  it('uses an existing Secret instead of its own, and a changed setting rolls the pods', () => {
    const manifests = render({ existingSecret: 'opx-env' });
    expect(manifests.some((manifest) => manifest.kind === 'Secret')).toBe(false);
    const api = find(manifests, 'Deployment', 'rel-opx-api');
    expect(api.spec.template.spec.containers[0].envFrom).toEqual([{ secretRef: { name: 'opx-env' } }]);

    const checksum = (settings: Settings) =>
      find(render(settings), 'Deployment', 'rel-opx-worker').spec.template.metadata.annotations[
        'checksum/config'
      ];
    expect(checksum(values)).toBe(checksum(values));
    expect(checksum(values)).not.toBe(checksum({ ...values, 'secrets.encryptionKeys': 'k2:other' }));
    expect(checksum(values)).not.toBe(checksum({ ...values, 'config.OPX_LOG_LEVEL': 'debug' }));
  });

  it('prints how to reach the console and get a token after install', () => {
    const result = run([
      'install',
      'rel',
      CHART,
      '--dry-run=client',
      '--namespace',
      'ops',
      ...setFlags(values),
    ]);
    expect(result.status, result.stderr).toBe(0);
    const notes = result.stdout.slice(result.stdout.indexOf('NOTES:'));
    expect(notes).toContain('kubectl --namespace ops port-forward service/rel-opx 8080:80');
    expect(notes).toContain("grep -A2 'Generated an admin token'");
    expect(notes).toContain('opx tokens create --name prometheus --scope ingest');
  });
});

describe.skipIf(!onPath('systemd-analyze'))('the systemd units', () => {
  let dir: string;
  beforeAll(() => {
    // verify checks that ExecStart's program exists: point it at this checkout's opx, as it would be
    // at /usr/local/bin/opx on a host where the package is installed.
    dir = mkdtempSync(path.join(os.tmpdir(), 'opx-units-'));
    for (const unit of UNIT_FILES) {
      const text = readFileSync(path.join(UNITS, unit), 'utf8');
      expect(text).toContain('ExecStart=/usr/local/bin/opx serve');
      writeFileSync(
        path.join(dir, unit),
        text.replaceAll('/usr/local/bin/opx', path.join(REPO_ROOT, 'bin', 'opx.js')),
      );
    }
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('pass systemd-analyze verify with no warning', () => {
    const result = spawnSync('systemd-analyze', ['verify', ...UNIT_FILES.map((unit) => `./${unit}`)], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(result.stderr + result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  it('are sandboxed: the hardening the brief asks for, and an exposure systemd rates OK', () => {
    for (const unit of UNIT_FILES) {
      const text = readFileSync(path.join(UNITS, unit), 'utf8');
      for (const line of [
        'DynamicUser=yes',
        'StateDirectory=opx',
        'ReadWritePaths=/var/lib/opx',
        'ProtectSystem=strict',
        'ProtectHome=yes',
        'PrivateTmp=yes',
        'NoNewPrivileges=yes',
        'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
        'SystemCallFilter=@system-service',
        'EnvironmentFile=-/etc/opx/opx.env',
      ])
        expect(text.split('\n'), `${unit}: ${line}`).toContain(line);
      const security = spawnSync(
        'systemd-analyze',
        ['security', '--offline=yes', '--threshold=20', '--no-pager', `./${unit}`],
        { cwd: dir, encoding: 'utf8' },
      );
      expect(security.status, security.stdout + security.stderr).toBe(0);
      const exposure = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(security.stdout);
      expect(exposure?.[2]).toBe('OK');
      expect(Number(exposure?.[1])).toBeLessThanOrEqual(2);
    }
  });

  /**
   * SystemCallFilter=@system-service is an allow list. The unit sets SystemCallErrorNumber=EPERM so a
   * call outside it fails instead of killing the process; this checks that OPX needs none outside it.
   * opx serve runs under strace through start-up (migrations), an Alertmanager webhook, the
   * investigation it queues, the console and a drain on SIGTERM.
   */
  it.skipIf(!onPath('strace'))(
    'make only system calls that @system-service allows while serving, investigating and draining',
    async () => {
      const expand = (group: string, seen = new Set<string>()): Set<string> => {
        const listed = spawnSync('systemd-analyze', ['syscall-filter', '--no-pager', group], {
          encoding: 'utf8',
        });
        expect(listed.status, listed.stderr).toBe(0);
        for (const line of listed.stdout.split('\n').slice(1)) {
          const name = line.trim();
          if (name === '' || name.startsWith('#')) continue;
          if (name.startsWith('@')) expand(name, seen);
          else seen.add(name);
        }
        return seen;
      };
      const allowed = expand('@system-service');
      expect(allowed.has('epoll_wait')).toBe(true);

      const work = mkdtempSync(path.join(os.tmpdir(), 'opx-strace-'));
      const trace = path.join(work, 'trace');
      const admin = 'strace-admin-token-0123456789';
      const child = spawn(
        'strace',
        [
          '-f',
          '-qq',
          '-o',
          trace,
          process.execPath,
          path.join(REPO_ROOT, 'bin', 'opx.js'),
          'serve',
          '--port',
          '0',
        ],
        {
          cwd: work,
          env: {
            ...process.env,
            OPX_DATA_DIR: path.join(work, 'data'),
            OPX_ADMIN_TOKEN: admin,
            OPX_INVESTIGATE_DELAY_SECONDS: '0',
            OPX_LOG_LEVEL: 'info',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
      });
      try {
        const baseUrl = await waitFor('opx to listen', () => /listening on (http:\/\/\S+)/.exec(output)?.[1]);
        const pid = Number(/"pid":(\d+)/.exec(output)?.[1]);
        expect(pid).toBeGreaterThan(0);
        const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
        const ingest = await fetch(`${baseUrl}/v1/ingest/alertmanager`, {
          method: 'POST',
          headers,
          body: payloadText('alertmanager-0.25-webhook-firing.json'),
        });
        expect(ingest.status, await ingest.clone().text()).toBe(200);
        const [incident] = ((await ingest.json()) as { incidents: { created: string[] } }).incidents.created;
        expect(incident).toBeDefined();
        await until('the investigation to complete', async () => {
          const response = await fetch(`${baseUrl}/v1/incidents/${incident}/investigations`, { headers });
          const body = (await response.json()) as { items?: { status: string }[] };
          return body.items?.some((item) => item.status === 'completed') ?? false;
        });
        expect((await fetch(`${baseUrl}/`)).status).toBe(200);
        process.kill(pid, 'SIGTERM');
        const { code } = await exited(child);
        expect(code, output).toBe(0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }

      const used = new Set<string>();
      for (const line of readFileSync(trace, 'utf8').split('\n')) {
        const call = /^\d+\s+([a-z0-9_]+)\(/.exec(line)?.[1];
        if (call) used.add(call);
      }
      rmSync(work, { recursive: true, force: true });
      expect(used.size).toBeGreaterThan(20);
      // V8 asks for a memory protection key (pkey_alloc) and does without one when the call fails, as
      // it does under the unit's filter (EPERM). This trace runs unfiltered: where the kernel grants a
      // key, V8 goes on to use it (pkey_mprotect, pkey_free), calls it never makes under the filter.
      const KEY_CALLS = new Set(['pkey_alloc', 'pkey_mprotect', 'pkey_free']);
      const outside = [...used].filter((call) => !allowed.has(call) && !KEY_CALLS.has(call));
      expect(outside).toEqual([]);
    },
    120_000,
  );
});

describe('the settings the deployment files name', () => {
  /** Not settings of the config schema, but read by these files themselves or by the CLI. */
  const OTHER_NAMES = new Set([
    'OPX_CONFIG', // the settings file (src/config)
    'OPX_ROLE', // opx.service's --role
    'OPX_HEALTHCHECK_URL', // deploy/container/healthcheck.mjs
    'OPX_PUBLISH_PORT', // compose.yaml's published port
  ]);
  const known = new Set([...Object.values(ENV_NAMES), ...OTHER_NAMES]);
  const files = [
    'Dockerfile',
    'compose.yaml',
    'deploy/container/healthcheck.mjs',
    'deploy/helm/opx/values.yaml',
    'deploy/helm/opx/templates/_helpers.tpl',
    'deploy/helm/opx/templates/secret.yaml',
    'deploy/helm/opx/templates/api-deployment.yaml',
    'deploy/systemd/opx.service',
    'deploy/systemd/opx-worker@.service',
    'deploy/systemd/opx.env.example',
  ];

  it('are all settings OPX reads', () => {
    for (const file of files) {
      const names = readFileSync(path.join(REPO_ROOT, file), 'utf8').match(/\bOPX_[A-Z0-9_]+/g) ?? [];
      expect(names.length, file).toBeGreaterThan(0);
      expect(
        names.filter((name) => !known.has(name)),
        file,
      ).toEqual([]);
    }
  });

  it('give compose the roles, migrations and health checks of the process layout', () => {
    const compose = parseYaml(readFileSync(path.join(REPO_ROOT, 'compose.yaml'), 'utf8'), {
      merge: true,
    }) as Loose;
    const { services } = compose;
    expect(services.postgres.image).toBe('postgres:16');
    expect(services.migrate.command).toEqual(['migrate']);
    expect(services.api.command).toEqual(['serve', '--role', 'api']);
    expect(services.worker.command).toEqual(['serve', '--role', 'worker']);
    expect(services.migrate.depends_on.postgres.condition).toBe('service_healthy');
    for (const role of ['api', 'worker'])
      expect(services[role].depends_on.migrate.condition).toBe('service_completed_successfully');
    expect(services.postgres.healthcheck.test.join(' ')).toContain('pg_isready');
    // The API's check is the script the Dockerfile installs.
    const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const healthcheck = services.api.healthcheck.test.at(-1);
    expect(dockerfile).toContain(`COPY deploy/container/healthcheck.mjs ${healthcheck}`);
    expect(existsSync(path.join(REPO_ROOT, 'deploy', 'container', 'healthcheck.mjs'))).toBe(true);
    // The three settings every process must share are the same for every OPX service.
    for (const role of ['migrate', 'api', 'worker'])
      expect(Object.keys(services[role].environment)).toEqual(
        expect.arrayContaining(['OPX_DATABASE_URL', 'OPX_GUARDRAIL_HASH_KEY', 'OPX_ENCRYPTION_KEYS']),
      );
  });
});
