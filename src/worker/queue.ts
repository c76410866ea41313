import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { JobAttemptError } from '../domain/jobs.js';
import type { Job } from '../store/repositories/jobs.js';
import type { Store } from '../store/store.js';

export type JobHandler = (job: Job, signal: AbortSignal) => Promise<void>;

export interface WorkerOptions {
  store: Store;
  handlers: Record<string, JobHandler>;
  /** Jobs run at once by this worker. */
  concurrency?: number;
  /** How long a claim holds; renewed every third of it while the job runs. */
  leaseMs?: number;
  /**
   * Idle wait between polls when the queue is empty. A job this process queues (Store.onJobQueued)
   * ends the wait when it falls due, so only other processes' jobs wait for a poll.
   */
  pollMs?: number;
  /** Wall-clock limit per attempt; the handler's signal aborts when it passes. */
  attemptTimeoutMs?: number;
  /** Stops claiming and aborts running handlers. */
  signal?: AbortSignal;
  owner?: string;
  onEvent?: (event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'claimed'; job: Job }
  | { type: 'completed'; job: Job }
  | { type: 'failed'; job: Job; error: string; next: 'pending' | 'dead' | 'lost' }
  | { type: 'lease_lost'; job: Job }
  | { type: 'deferred'; job: Job; reason: string };

/** Due times a worker keeps from Store.onJobQueued; past it, later jobs wait for a poll instead. */
const MAX_KNOWN_DUE_TIMES = 1000;

/** Exponential backoff with full jitter: 2 s, 4 s, 8 s … capped at 5 minutes. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(300_000, 2_000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Claims jobs with a lease and runs them. A job whose worker dies is claimed again once its lease
 * expires; a failing job is retried with backoff and dead-lettered after its last attempt. Resolves when
 * `signal` aborts and the running jobs have settled.
 */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const { store, handlers } = options;
  const kinds = Object.keys(handlers);
  const concurrency = options.concurrency ?? 1;
  const leaseMs = options.leaseMs ?? 60_000;
  const pollMs = options.pollMs ?? 500;
  const owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const emit = options.onEvent ?? (() => {});
  const running = new Set<Promise<void>>();
  // When the jobs this process queued fall due; the idle wait ends at the earliest one.
  const due = new Set<number>();
  let rearm: (() => void) | undefined;
  const unsubscribe = store.onJobQueued((runAt) => {
    if (due.size >= MAX_KNOWN_DUE_TIMES) return;
    due.add(runAt);
    rearm?.();
  });
  const idle = () =>
    new Promise<void>((resolve) => {
      // Stopped while claiming: the abort event has fired already and would not end this wait.
      if (options.signal?.aborted) {
        resolve();
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        rearm = undefined;
        options.signal?.removeEventListener('abort', done);
        resolve();
      };
      rearm = () => {
        clearTimeout(timer);
        timer = setTimeout(done, Math.max(0, Math.min(pollMs, Math.min(...due) - Date.now())));
      };
      options.signal?.addEventListener('abort', done, { once: true });
      rearm();
    });

  const execute = async (job: Job) => {
    const controller = new AbortController();
    const abort = () => controller.abort(options.signal?.reason ?? new Error('worker stopping'));
    options.signal?.addEventListener('abort', abort, { once: true });
    const timeout = options.attemptTimeoutMs
      ? setTimeout(
          () => controller.abort(new Error(`attempt exceeded ${options.attemptTimeoutMs} ms`)),
          options.attemptTimeoutMs,
        )
      : undefined;
    let leaseLost = false;
    const heartbeat = setInterval(
      () => {
        store.jobs.heartbeat(job.id, owner, leaseMs).then(
          (held) => {
            if (!held && !leaseLost) {
              leaseLost = true;
              emit({ type: 'lease_lost', job });
              controller.abort(new Error('lease lost'));
            }
          },
          // A heartbeat the store could not take (busy, or closing while the worker drains) is tried
          // again at the next beat; the lease lapses only if none succeeds. Never an unhandled
          // rejection, which would end the process.
          () => undefined,
        );
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    try {
      await handlers[job.kind]!(job, controller.signal);
      if (await store.jobs.complete(job.id, owner)) emit({ type: 'completed', job });
      else emit({ type: 'lease_lost', job });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const told = error instanceof JobAttemptError ? error : undefined;
      const now = Date.now();
      const next = await store.jobs.fail(
        job.id,
        owner,
        message,
        now + (told?.retryAfterMs ?? retryDelayMs(job.attempts)),
        now,
        { final: told?.final ?? false, deferred: told?.deferred ?? false },
      );
      if (told?.deferred && next === 'pending') emit({ type: 'deferred', job, reason: message });
      else emit({ type: 'failed', job, error: message, next: next ?? 'lost' });
    } finally {
      clearInterval(heartbeat);
      if (timeout) clearTimeout(timeout);
      options.signal?.removeEventListener('abort', abort);
    }
  };

  try {
    while (!options.signal?.aborted) {
      if (running.size >= concurrency) {
        await Promise.race(running);
        continue;
      }
      // This claim looks for every job due by now; later ones still end a wait when they fall due.
      const now = Date.now();
      for (const runAt of due) if (runAt <= now) due.delete(runAt);
      const job = await store.jobs.claim(owner, kinds, leaseMs, now);
      if (!job) {
        await idle();
        continue;
      }
      emit({ type: 'claimed', job });
      // When even recording the outcome fails (the store is unreachable), the job keeps its lease
      // until it lapses and another claim runs it again; the failure is reported, not thrown into a
      // promise nobody awaits yet.
      const task = execute(job)
        .catch((error: unknown) =>
          emit({
            type: 'failed',
            job,
            error: `the outcome could not be recorded: ${error instanceof Error ? error.message : String(error)}`,
            next: 'lost',
          }),
        )
        .finally(() => running.delete(task));
      running.add(task);
    }
  } finally {
    unsubscribe();
  }
  await Promise.allSettled(running);
}
