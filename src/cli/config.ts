import type { Command } from 'commander';
import { type Config, loadConfig } from '../config/index.js';
import { globalOptions } from './context.js';

/**
 * The settings for a command: its global flags over the environment and the settings file. Its own
 * module, loaded by the commands that open a store: a command that talks to a server never reads them.
 */
export function configFrom(command: Command, extra: Partial<Record<keyof Config, unknown>> = {}): Config {
  const options = globalOptions(command);
  return loadConfig({
    flags: { dataDir: options.dataDir, databaseUrl: options.databaseUrl, ...extra },
    ...(options.config ? { file: options.config } : {}),
  });
}
