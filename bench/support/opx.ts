import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, ManagedProcess, waitForHttp } from './processes.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The node flags `bin/opx.js` gives itself in its `#!/usr/bin/env -S node …` line, as run by users
 * (`opx …`, npx, the systemd units, the container). Benches start node themselves, to add profiling
 * flags and to pick the node that runs them, so they pass these too: what they measure is what ships.
 * A checkout whose line names no flags (an older build under --opx-root) gets none.
 */
export function shippedNodeFlags(root: string): string[] {
  const first = readFileSync(path.join(root, 'bin', 'opx.js'), 'utf8').split('\n', 1)[0] ?? '';
  const match = /^#!\S*env\s+-S\s+node\s+(.*)$/.exec(first.trim());
  return match ? match[1]!.split(/\s+/).filter((flag) => flag.length > 0) : [];
}

export interface RunningOpx {
  url: string;
  process: ManagedProcess;
  databaseFile: string;
  /** Where node writes CPU profiles when the server exits cleanly, if profiling. */
  cpuProfileDir?: string;
}

/**
 * Starts the built server (`bin/opx.js serve`), the way an operator runs it, on a free loopback port.
 * The child runs in the data directory and without inherited OPX_* variables, so neither an
 * opx.config.yaml in the checkout nor the caller's environment changes what is measured.
 */
export async function startOpx(options: {
  /** The checkout whose build to run; another one (an unchanged copy, say) gives a before/after comparison. */
  root: string;
  dataDir: string;
  adminToken: string;
  /** Directory for a V8 CPU profile, written when the server exits cleanly. */
  cpuProfileDir?: string;
  /** File for per-statement SQLite timings (see sql-timing-hook.ts), written when the server exits. */
  sqlTimingsFile?: string;
  /** Settings for this run (OPX_* variables), on top of the clean environment. */
  env?: Record<string, string>;
}): Promise<RunningOpx> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('OPX_')) env[name] = value;
  env.OPX_ADMIN_TOKEN = options.adminToken;
  env.OPX_LOG_LEVEL = 'warn';
  Object.assign(env, options.env);
  const nodeFlags: string[] = [];
  // Node names each profile after the pid and thread; the hooks thread that tsx adds writes one too.
  if (options.cpuProfileDir) nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  if (options.sqlTimingsFile) {
    // The hook is TypeScript; tsx is resolved from here because the child runs in the data directory.
    nodeFlags.push(
      '--import',
      import.meta.resolve('tsx'),
      '--import',
      new URL('./sql-timing-hook.ts', import.meta.url).href,
    );
    env.OPX_BENCH_SQL_TIMINGS_FILE = options.sqlTimingsFile;
  }
  const managed = new ManagedProcess(
    'opx serve',
    process.execPath,
    [
      ...shippedNodeFlags(options.root),
      ...nodeFlags,
      path.join(options.root, 'bin', 'opx.js'),
      '--data-dir',
      options.dataDir,
      'serve',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
    ],
    { env, cwd: options.dataDir },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/healthz`, managed);
  } catch (error) {
    await managed.stop('SIGKILL');
    throw error;
  }
  return {
    url,
    process: managed,
    databaseFile: path.join(options.dataDir, 'opx.db'),
    ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
  };
}

/** The main thread's profile among those node wrote (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile). */
export function mainThreadProfile(directory: string, pid: number): string | undefined {
  const name = readdirSync(directory).find(
    (file) => file.endsWith('.cpuprofile') && file.includes(`.${pid}.0.`),
  );
  return name === undefined ? undefined : path.join(directory, name);
}

function newestModification(directory: string, accept: (file: string) => boolean): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const file = path.join(directory, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestModification(file, accept));
    else if (accept(file)) newest = Math.max(newest, statSync(file).mtimeMs);
  }
  return newest;
}

/** When dist/ was built, to tell which code a results file describes. */
export function buildTime(root: string): string | null {
  try {
    return statSync(path.join(root, 'dist', 'cli', 'main.js')).mtime.toISOString();
  } catch {
    return null;
  }
}

/**
 * The bench measures dist/, not src/: a source file newer than the build means the numbers would
 * describe old code. Returns a warning to print, or undefined when the build looks current.
 */
export function staleBuildWarning(root: string): string | undefined {
  const entry = path.join(root, 'dist', 'cli', 'main.js');
  let built: number;
  try {
    built = statSync(entry).mtimeMs;
  } catch {
    return 'dist/ is missing: run `npm run build` first';
  }
  const source = newestModification(
    path.join(root, 'src'),
    (file) => file.endsWith('.ts') && !file.endsWith('.test.ts'),
  );
  if (source <= built) return undefined;
  return `src/ changed after the last build (${new Date(source).toISOString()} > ${new Date(built).toISOString()}): run \`npm run build\` or the numbers describe old code`;
}
