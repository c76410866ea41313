import { hostname } from 'node:os';
import { OpxError } from '../domain/errors.js';
import { INVESTIGATE_JOB } from '../domain/jobs.js';
import { requireIncident } from '../incidents/service.js';
import type { Runtime } from '../runtime.js';
import type { Job } from '../store/repositories/jobs.js';
import { continueTrace } from '../telemetry/tracing.js';
import { runWorker, type WorkerEvent } from '../worker/queue.js';
import { assertInvestigable, type InvestigationResult, investigateIncident } from './service.js';

export const AUTO_INVESTIGATOR = 'system:auto-investigate';

/** What an `investigate` job did, for the worker's log. */
export type InvestigationJobOutcome =
  | { kind: 'completed'; investigationId: string; resumed: boolean; checkpointsDiscarded: boolean }
  | { kind: 'skipped'; reason: string };

/**
 * Runs one `investigate` job. A re-run of the same job (its worker crashed) resumes the investigation it
 * started from the last checkpoint, or finds it already completed; an incident that is gone or CLOSED
 * is skipped rather than retried, because no retry can succeed.
 */
export async function runInvestigationJob(
  runtime: Runtime,
  job: Job,
  signal: AbortSignal,
): Promise<InvestigationJobOutcome> {
  const incidentId = job.payload.incidentId;
  if (typeof incidentId !== 'string' || incidentId === '')
    throw new OpxError('invalid_request', `job ${job.id} has no incidentId in its payload`);
  // A hand-started run that a worker took over after its process died keeps the person's name.
  const principal = typeof job.payload.principal === 'string' ? job.payload.principal : AUTO_INVESTIGATOR;
  try {
    const result = await continueTrace(job.payload.trace, () =>
      investigateIncident(runtime, incidentId, {
        principal,
        signal,
        // Only a re-run of this job can find an investigation of its own to resume or return; a first
        // attempt always starts afresh. Comparing start times alone would take one clock for another.
        resumeSince: job.attempts > 1 ? job.createdAt : undefined,
      }),
    );
    return {
      kind: 'completed',
      investigationId: result.investigationId,
      resumed: !!result.resumedFrom,
      checkpointsDiscarded: !!result.discardedCheckpoints,
    };
  } catch (error) {
    if (error instanceof OpxError && (error.code === 'not_found' || error.code === 'illegal_transition'))
      return { kind: 'skipped', reason: error.message };
    throw error;
  }
}

/**
 * A hand-started investigation (`POST /v1/incidents/:id/investigations`, `opx investigate`), run in
 * this process while the caller waits, but recorded as an `investigate` job leased to this process and
 * kept alive by heartbeats. If the process dies mid-run the lease lapses and any worker takes the job
 * over and resumes the run from its last checkpoint, exactly as it does for automatic runs. A lost
 * lease (another worker already took over) aborts this run.
 */
export async function runHandStartedInvestigation(
  runtime: Runtime,
  incidentId: string,
  principal: string,
): Promise<InvestigationResult> {
  // Refused before anything is queued: an unknown or CLOSED incident leaves no job behind.
  assertInvestigable(await requireIncident(runtime.store, incidentId));
  const owner = `${hostname()}:${process.pid}:hand:${Math.random().toString(36).slice(2, 10)}`;
  const leaseMs = runtime.config.jobLeaseSeconds * 1000;
  const { job } = await runtime.store.jobs.enqueue(
    INVESTIGATE_JOB,
    { incidentId, principal },
    { lease: { owner, ms: leaseMs } },
  );
  const lost = new AbortController();
  const heartbeat = setInterval(
    () => {
      runtime.store.jobs.heartbeat(job.id, owner, leaseMs).then(
        (held) => {
          if (!held)
            lost.abort(new OpxError('conflict', `job ${job.id}: lease lost; another worker owns it`));
        },
        () => {},
      );
    },
    Math.max(100, Math.floor(leaseMs / 3)),
  );
  try {
    return await investigateIncident(runtime, incidentId, { principal, signal: lost.signal });
  } finally {
    clearInterval(heartbeat);
    // Done either way: a failed run is recorded on the investigation and answered to the caller, who
    // decides whether to start another; only a dead process leaves the job for a worker.
    await runtime.store.jobs.complete(job.id, owner);
  }
}

export interface InvestigationWorkerOptions {
  signal: AbortSignal;
  log: (line: string) => void;
  /** Called after each job settles (tests and the demo wait on it). */
  onEvent?: (event: WorkerEvent) => void;
}

/** Claims and runs `investigate` jobs with the runtime's lease, concurrency and time limits until `signal` aborts. */
export function runInvestigationWorker(runtime: Runtime, options: InvestigationWorkerOptions): Promise<void> {
  const { config } = runtime;
  return runWorker({
    store: runtime.store,
    concurrency: config.workerConcurrency,
    leaseMs: config.jobLeaseSeconds * 1000,
    // The investigation enforces its own limit and records why it failed; this is the backstop.
    attemptTimeoutMs: (config.investigationTimeoutSeconds + 30) * 1000,
    signal: options.signal,
    handlers: {
      [INVESTIGATE_JOB]: async (job, signal) => {
        const outcome = await runInvestigationJob(runtime, job, signal);
        options.log(
          outcome.kind === 'completed'
            ? `job ${job.id}: investigation ${outcome.investigationId} of ${String(job.payload.incidentId)} completed${outcome.resumed ? ' (resumed from its checkpoint)' : ''}${outcome.checkpointsDiscarded ? ' (its unreadable checkpoints were discarded; it started over)' : ''}`
            : `job ${job.id}: skipped: ${outcome.reason}`,
        );
      },
    },
    onEvent: (event) => {
      if (event.type === 'claimed')
        options.log(
          `job ${event.job.id}: claimed (${event.job.kind}, attempt ${event.job.attempts}/${event.job.maxAttempts})`,
        );
      else if (event.type === 'failed')
        options.log(
          `job ${event.job.id}: attempt ${event.job.attempts}/${event.job.maxAttempts} failed: ${event.error}; ${event.next === 'dead' ? 'dead-lettered (`opx jobs dead`)' : event.next === 'pending' ? 'will retry' : 'lease lost'}`,
        );
      else if (event.type === 'lease_lost')
        options.log(`job ${event.job.id}: lease lost; another worker owns it`);
      options.onEvent?.(event);
    },
  });
}
