/** The job kind that runs an investigation: queued by ingest, run by the worker (src/investigate/jobs.ts). */
export const INVESTIGATE_JOB = 'investigate';

/** Turns an incident's notifiable events into deliveries, one per matching channel (src/notify/). */
export const NOTIFY_DISPATCH_JOB = 'notify.dispatch';

/** Sends one delivery to its channel (src/notify/). */
export const NOTIFY_DELIVER_JOB = 'notify.deliver';

/**
 * A failed attempt that tells the worker when to try again (a receiver's Retry-After), not to try again
 * at all (`final`: a request the receiver will never accept), or that the job is not due yet
 * (`deferred`: the attempt does not count). Any other error is retried with backoff.
 */
export class JobAttemptError extends Error {
  readonly retryAfterMs: number | undefined;
  readonly final: boolean;
  readonly deferred: boolean;

  constructor(
    message: string,
    options: { retryAfterMs?: number; final?: boolean; deferred?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'JobAttemptError';
    this.retryAfterMs = options.retryAfterMs;
    this.final = options.final ?? false;
    this.deferred = options.deferred ?? false;
  }
}
