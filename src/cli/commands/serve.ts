import { type Command, Option } from 'commander';
import { pino } from 'pino';
import { scheduleAlarms } from '../../analytics/alarms.js';
import { buildServer } from '../../api/server.js';
import { ensureBootstrapAdmin } from '../../auth/tokens.js';
import type { Config } from '../../config/index.js';
import { scheduleSustainedSweep } from '../../ingest/sweep.js';
import { runInvestigationWorker } from '../../investigate/jobs.js';
import { configuredRefiners } from '../../investigate/llm.js';
import { prepareInvestigations } from '../../investigate/tools.js';
import { runNotificationWorker } from '../../notify/worker.js';
import { openRuntime } from '../../runtime.js';
import { shutdownTelemetry } from '../../telemetry/tracing.js';
import { configFrom } from '../config.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP API and receivers')
    .option('-p, --port <port>', 'port to listen on (OPX_PORT, default 8080; 0 picks a free one)')
    .option('--host <host>', 'address to bind (OPX_HOST, default 127.0.0.1)')
    .option('--log-requests', 'log one line per request')
    .addOption(
      new Option(
        '--role <role>',
        'api: HTTP only; worker: investigation and notification jobs and the sweep for sustained signals only (as `opx worker`); all: both in one process',
      )
        .choices(['api', 'worker', 'all'])
        .default('all'),
    )
    .option('--no-worker', 'the same as --role api')
    .action(
      async (
        options: { port?: string; host?: string; logRequests?: boolean; worker: boolean; role: string },
        command: Command,
      ) => {
        const config = configFrom(command, { port: options.port, host: options.host });
        // A bad language model configuration fails now, not at the first investigation.
        configuredRefiners(config);
        if (options.role === 'worker') {
          await runWorkerProcess(config);
          return;
        }
        const runsWorker = options.worker && options.role === 'all';
        const runtime = await openRuntime(config);
        const generated = await ensureBootstrapAdmin(runtime.store, config.adminToken);
        const app = await buildServer(runtime, { logRequests: options.logRequests ?? false });
        // Ready means able to investigate too: the first incident does not wait for the graph to load.
        if (runsWorker) await prepareInvestigations(runtime);
        const address = await app.listen({ port: config.port, host: config.host });
        if (generated) {
          process.stdout.write(
            `\nGenerated an admin token (shown once; set OPX_ADMIN_TOKEN to choose your own):\n\n  ${generated}\n\n`,
          );
        }
        // Idempotency keys are replayable for a retention window, not forever.
        const purge = async () => {
          const cutoff = Date.now() - config.idempotencyRetentionHours * 3_600_000;
          try {
            await runtime.writes.run((scope) => scope.idempotency.purgeOlderThan(cutoff));
          } catch (error) {
            app.log.warn({ err: error }, 'idempotency purge failed; will retry next hour');
          }
        };
        void purge();
        const purgeTimer = setInterval(() => void purge(), 3_600_000);
        purgeTimer.unref();
        const workerStop = new AbortController();
        const worker = runsWorker
          ? runInvestigationWorker(runtime, {
              signal: workerStop.signal,
              log: (line) => app.log.info(line),
            }).catch((error: unknown) => app.log.error({ err: error }, 'the investigation worker stopped'))
          : Promise.resolve();
        const notifier = runsWorker
          ? runNotificationWorker(runtime, {
              signal: workerStop.signal,
              log: (line) => app.log.info(line),
            }).catch((error: unknown) => app.log.error({ err: error }, 'the notification worker stopped'))
          : Promise.resolve();
        const sweep = runsWorker
          ? scheduleSustainedSweep(runtime, { signal: workerStop.signal, log: (line) => app.log.info(line) })
          : Promise.resolve();
        // Alarms: evaluated on a schedule; several processes may do it at once (changes record once).
        const alarms = scheduleAlarms(runtime.store, config, {
          signal: workerStop.signal,
          log: (line) => app.log.info(line),
        });
        let stopping = false;
        const stop = async (signal: string) => {
          clearInterval(purgeTimer);
          if (stopping) return;
          stopping = true;
          process.stdout.write(`received ${signal}, draining…\n`);
          // Close the listener and the worker first, then let queued writes commit before the store closes.
          workerStop.abort(new Error(`${signal} received`));
          await app.close();
          await worker;
          await notifier;
          await sweep;
          await alarms;
          await runtime.close();
          await shutdownTelemetry();
          process.exit(0);
        };
        process.on('SIGINT', () => void stop('SIGINT'));
        process.on('SIGTERM', () => void stop('SIGTERM'));
        // Announced only now: a supervisor that stops the process as soon as it reads this line must
        // find the drain handlers installed, or SIGTERM's default action kills it mid-write.
        process.stdout.write(
          `opx listening on ${address} (store: ${runtime.store.dialect} ${runtime.store.location})\n`,
        );
      },
    );

  program
    .command('worker')
    .description(
      'run investigation and notification jobs (automatic investigations, retries, deliveries) and the sweep for sustained signals, without serving HTTP',
    )
    .action(async (_options: unknown, command: Command) => {
      const config = configFrom(command);
      configuredRefiners(config);
      await runWorkerProcess(config);
    });
}

/** A worker process: claims and runs investigation jobs until SIGINT or SIGTERM, logging JSON lines. */
async function runWorkerProcess(config: Config): Promise<void> {
  const runtime = await openRuntime(config);
  await prepareInvestigations(runtime);
  const stop = new AbortController();
  const logger = pino(
    { level: config.logLevel, name: 'opx-worker' },
    pino.destination({ fd: 2, sync: true }),
  );
  const log = (line: string) => logger.info(line);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stop.signal.aborted) return;
      log(`received ${signal}, finishing running jobs…`);
      stop.abort(new Error(`${signal} received`));
    });
  }
  log(
    `opx worker started (store: ${runtime.store.dialect} ${runtime.store.location}; concurrency ${config.workerConcurrency}, lease ${config.jobLeaseSeconds} s)`,
  );
  try {
    await Promise.all([
      runInvestigationWorker(runtime, { signal: stop.signal, log }),
      runNotificationWorker(runtime, { signal: stop.signal, log }),
      scheduleSustainedSweep(runtime, { signal: stop.signal, log }),
    ]);
  } finally {
    await runtime.close();
  }
}
