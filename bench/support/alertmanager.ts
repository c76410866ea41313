import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { freePort, ManagedProcess, waitForHttp } from './processes.js';

/** Where Debian's `prometheus-alertmanager` package installs it; .ci/run installs that package. */
export const DEBIAN_ALERTMANAGER = '/usr/bin/prometheus-alertmanager';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Alertmanager binary to run: $OPX_ALERTMANAGER_BIN if set (so a developer can point at a release
 * tarball), else the Debian path, else `alertmanager` or `prometheus-alertmanager` on PATH.
 */
export function findAlertmanager(): string | undefined {
  const chosen = process.env.OPX_ALERTMANAGER_BIN;
  if (chosen) return isExecutable(chosen) ? chosen : undefined;
  if (isExecutable(DEBIAN_ALERTMANAGER)) return DEBIAN_ALERTMANAGER;
  for (const directory of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!directory) continue;
    for (const name of ['alertmanager', 'prometheus-alertmanager']) {
      const candidate = path.join(directory, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

/** The first line of `alertmanager --version`, for the record of what was measured. */
export function alertmanagerVersion(binary: string): string {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')[0]!
      .trim();
  } catch (error) {
    return `unknown (${(error as Error).message})`;
  }
}

export interface RunningAlertmanager {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:40123 */
  url: string;
  process: ManagedProcess;
  /** Stops the process and removes its config and storage directory. */
  stop(): Promise<void>;
}

/**
 * Starts a private Alertmanager on a free loopback port with its own config and storage, and with
 * clustering off: an empty cluster address keeps it from gossiping with any other instance on the host.
 */
export async function startAlertmanager(options: {
  binary: string;
  config: Record<string, unknown>;
  name?: string;
}): Promise<RunningAlertmanager> {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'opx-alertmanager-'));
  const configFile = path.join(directory, 'alertmanager.yml');
  writeFileSync(configFile, toYaml(options.config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let managed: ManagedProcess | undefined;
  const stop = async () => {
    try {
      if (managed) await managed.stop('SIGTERM', 5000);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  };
  try {
    managed = new ManagedProcess(
      options.name ?? 'alertmanager',
      options.binary,
      [
        `--config.file=${configFile}`,
        `--storage.path=${path.join(directory, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      { cwd: directory },
    );
    await waitForHttp(`${url}/-/ready`, managed);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, process: managed, stop };
}
