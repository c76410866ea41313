/**
 * The demo's store before any alert arrives: the example topology, runbooks, postmortems and past
 * incidents (examples/), and two recent changes, one of them the deploy the alerts will point at.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseBackstageCatalog } from '../../../catalog/backstage.js';
import type { Config } from '../../../config/index.js';
import { OpxError } from '../../../domain/errors.js';
import type { NormalizedServiceInput } from '../../../domain/service.js';
import { importHistory, readHistoryDirectory } from '../../../incidents/history.js';
import { importKnowledge, readKnowledgeDirectory } from '../../../knowledge/import.js';
import { openRuntime, type Runtime } from '../../../runtime.js';
import { packageRoot } from '../../../util/package-root.js';
import type { Stage } from './render.js';

const EXAMPLES = path.join(packageRoot(), 'examples');

/** The example topology the demo imports (examples/topology/catalog-info.yaml). */
export function demoCatalog(): NormalizedServiceInput[] {
  const catalog = parseBackstageCatalog(
    readFileSync(path.join(EXAMPLES, 'topology', 'catalog-info.yaml'), 'utf8'),
  );
  if (!catalog.ok)
    throw new OpxError('internal', `examples/topology/catalog-info.yaml: ${catalog.error.message}`);
  return catalog.services;
}

/** A runtime on a fresh SQLite store in `dataDir`, quiet, investigating as soon as the worker runs. */
export function openDemoRuntime(base: Config, dataDir: string): Promise<Runtime> {
  return openRuntime({
    ...base,
    dataDir,
    databaseUrl: undefined,
    logLevel: 'silent',
    // The worker starts only after the alerts are in, so the job may be due at once.
    autoInvestigate: true,
    investigateDelaySeconds: 0,
  });
}

/**
 * Imports the topology, knowledge and history, then records the recent changes: stages 2 to 5.
 * Returns the moment the scenario is set at and the service whose deploy the alerts implicate.
 */
export async function seedStore(
  runtime: Runtime,
  stage: Stage,
  services: readonly NormalizedServiceInput[],
  target: NormalizedServiceInput,
): Promise<{ now: number; suspect: string }> {
  const { store } = runtime;
  await stage(`Importing the topology (${services.length} services)`, () =>
    store.services.upsertMany(services),
  );
  const knowledge = readKnowledgeDirectory(path.join(EXAMPLES, 'kb'));
  await stage(`Importing ${knowledge.prepared.length} runbooks and postmortems`, () =>
    runtime.writes.run((scope) => importKnowledge(scope, knowledge.prepared)),
  );
  const history = readHistoryDirectory(path.join(EXAMPLES, 'history'));
  await stage(
    `Loading ${history.incidents.length} past incidents and ${history.changes.length} changes`,
    () => runtime.writes.run((scope) => importHistory(scope, history, 'demo')),
  );
  const now = Date.now();
  const suspect = target.dependsOn[0] ?? target.name;
  await stage('Recording recent changes', async () => {
    await store.changes.insert({
      kind: 'deploy',
      service: suspect,
      environment: 'prod',
      versionFrom: 'v2.14.0',
      versionTo: 'v2.15.0',
      author: 'ci-bot',
      summary: `Deploy ${suspect} v2.15.0: connection pool settings reworked`,
      startedAt: now - 14 * 60_000,
      finishedAt: now - 12 * 60_000,
      links: [],
      source: 'demo',
    });
    await store.changes.insert({
      kind: 'config',
      service: 'notification-service',
      environment: 'prod',
      author: 'alice',
      summary: 'Raise email batch size',
      startedAt: now - 3 * 3600_000,
      links: [],
      source: 'demo',
    });
  });
  return { now, suspect };
}
