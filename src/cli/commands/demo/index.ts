/**
 * `opx demo`: a fresh SQLite store seeded with the example topology, knowledge and history (seed.ts),
 * its API on a free local port, alerts sent to it and the incident they open investigated through the
 * typed client (send.ts), and the outcome printed (render.ts).
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { buildServer } from '../../../api/server.js';
import { createToken } from '../../../auth/tokens.js';
import { OpxApiError, OpxClient } from '../../../client/index.js';
import { INCIDENT_SEVERITIES, type IncidentSeverity } from '../../../domain/common.js';
import { OpxError } from '../../../domain/errors.js';
import { configFrom } from '../../config.js';
import { globalOptions } from '../../context.js';
import { printJson } from '../../output.js';
import { demoResult, printDemo, stageReporter } from './render.js';
import { demoCatalog, openDemoRuntime, seedStore } from './seed.js';
import { investigate, openedIncident, rateSeverity, readOutcome, sendAlerts } from './send.js';

interface DemoOptions {
  service: string;
  severity: string;
  clean?: boolean;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('end-to-end demo on a fresh SQLite store: topology, changes, alerts over HTTP, an incident')
    .option('--service <name>', 'service the alerts fire on', 'api-gateway')
    .option('--severity <sev>', `incident severity to demonstrate (${INCIDENT_SEVERITIES.join('|')})`, 'SEV2')
    .option('--clean', 'remove the demo data and stop')
    .action(async (options: DemoOptions, command: Command) => {
      const json = globalOptions(command).json ?? false;
      const base = configFrom(command);
      if (base.databaseUrl)
        throw new OpxError(
          'invalid_request',
          'the demo runs on its own SQLite store; drop --database-url / OPX_DATABASE_URL',
        );
      const dataDir = path.resolve(base.dataDir, 'demo');
      if (options.clean) {
        rmSync(dataDir, { recursive: true, force: true });
        process.stdout.write(`removed demo data in ${dataDir}\n`);
        return;
      }
      const severity = options.severity.toUpperCase() as IncidentSeverity;
      if (!INCIDENT_SEVERITIES.includes(severity))
        throw new OpxError('invalid_request', `--severity must be one of ${INCIDENT_SEVERITIES.join(', ')}`);

      const services = demoCatalog();
      const target = services.find((service) => service.name === options.service);
      if (!target) {
        throw new OpxError(
          'invalid_request',
          `--service ${options.service} is not in the demo topology; pick one of ${services.map((service) => service.name).join(', ')}`,
        );
      }

      if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
      const stage = stageReporter(10, json);
      const runtime = await stage(
        `Creating a fresh store in ${path.relative(process.cwd(), dataDir) || dataDir}`,
        () => openDemoRuntime(base, dataDir),
      );
      try {
        const { now, suspect } = await seedStore(runtime, stage, services, target);
        const { token } = await createToken(runtime.store, 'demo', ['ingest', 'read', 'respond']);
        const app = await buildServer(runtime);
        const address = await stage('Starting the API on a free local port', () =>
          app.listen({ port: 0, host: '127.0.0.1' }),
        );
        const client = new OpxClient({ baseUrl: address, token });
        try {
          await stage('Sending 3 alerts over HTTP (Alertmanager, Prometheus, generic JSON)', () =>
            sendAlerts(client, target, suspect, now),
          );
          const incidentId = await openedIncident(client, target.name);
          await stage(`Incident ${incidentId} opened; rating it ${severity}`, () =>
            rateSeverity(client, incidentId, severity),
          );
          const investigation = await stage(
            'Investigating: the worker claims the automatic job; six agents run on LangGraph, checkpointed',
            () => investigate(client, runtime, incidentId),
          );
          const replay = await stage('Replaying the investigation on its frozen evidence', () =>
            client.replay(incidentId),
          );
          const outcome = await readOutcome(client, incidentId, target.name);
          const run = { incidentId, investigation, replay, outcome, target: target.name, dataDir, token };
          const result = demoResult(run);
          if (json) printJson(result);
          else printDemo(run, result);
        } catch (error) {
          // The API's answer is the demo's own failure: reported like any other OPX error.
          if (error instanceof OpxApiError) throw new OpxError('internal', error.message);
          throw error;
        } finally {
          await app.close();
        }
      } finally {
        await runtime.close();
      }
    });
}
