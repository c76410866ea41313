import { NOTIFY_DELIVER_JOB, NOTIFY_DISPATCH_JOB } from '../domain/jobs.js';
import type { Runtime } from '../runtime.js';
import { runWorker, type WorkerEvent } from '../worker/queue.js';
import { deliver, dispatch, type NotifyContext } from './dispatch.js';

export interface NotificationWorkerOptions {
  signal: AbortSignal;
  log: (line: string) => void;
  onEvent?: (event: WorkerEvent) => void;
}

export function notifyContext(runtime: Runtime): NotifyContext {
  return {
    store: runtime.store,
    write: (work) => runtime.writes.run(work),
    config: runtime.config,
  };
}

/**
 * Claims and runs the notification jobs (dispatch and deliver) until `signal` aborts. A loop of its own,
 * beside the investigation worker's: a slow investigation never holds up a page, and a receiver that is
 * down holds up nothing but its own deliveries.
 */
export function runNotificationWorker(runtime: Runtime, options: NotificationWorkerOptions): Promise<void> {
  const context = notifyContext(runtime);
  return runWorker({
    store: runtime.store,
    concurrency: 4,
    leaseMs: 60_000,
    pollMs: 200,
    attemptTimeoutMs: 60_000,
    signal: options.signal,
    handlers: {
      [NOTIFY_DISPATCH_JOB]: async (job) => {
        const outcome = await dispatch(context, job);
        options.log(
          `job ${job.id}: notify ${String(job.payload.event)} of ${String(job.payload.incidentId)}: ${outcome}`,
        );
      },
      [NOTIFY_DELIVER_JOB]: async (job, signal) => {
        const outcome = await deliver(context, job, signal);
        options.log(`job ${job.id}: delivery ${String(job.payload.deliveryId)}: ${outcome}`);
      },
    },
    onEvent: (event) => {
      if (event.type === 'failed')
        options.log(
          `job ${event.job.id}: ${event.job.kind} attempt ${event.job.attempts}/${event.job.maxAttempts} failed: ${event.error}; ${event.next === 'dead' ? 'dead-lettered (`opx notify deliveries --status dead`)' : event.next === 'pending' ? 'will retry' : 'lease lost'}`,
        );
      options.onEvent?.(event);
    },
  });
}
