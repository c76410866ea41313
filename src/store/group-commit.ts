import { OpxError } from '../domain/errors.js';
import { storeFault } from './faults.js';
import type { Store, StoreScope } from './store.js';

interface Pending {
  work: (scope: StoreScope) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: writes that arrive while a transaction is running wait and then share the next one, so
 * one fsync covers many requests. Each caller still gets its answer only after its data is committed.
 * If a shared transaction fails, its items are retried one per transaction, so one bad request cannot
 * fail its neighbours. A caller is resolved only with the result of a transaction that committed; a
 * failed one rejects, and the edge answers an error, never a 2xx.
 */
export class GroupCommitWriter {
  readonly #store: Store;
  readonly #maxGroup: number;
  #queue: Pending[] = [];
  #draining = false;
  #closed = false;

  constructor(store: Store, options: { maxGroup?: number } = {}) {
    this.#store = store;
    this.#maxGroup = options.maxGroup ?? 64;
  }

  run<T>(work: (scope: StoreScope) => Promise<T>): Promise<T> {
    if (this.#closed)
      return Promise.reject(
        new OpxError('store_unavailable', 'the writer is shutting down', { retryable: true }),
      );
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  /** Stops accepting work and waits for what is queued to commit. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#draining || this.#queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        // SQLite runs synchronously on this thread, so nothing else is parsed while a transaction runs.
        // Yield until the queue stops growing (a few event-loop turns at most): requests already on
        // the wire join this transaction and share its fsync instead of each paying for one.
        let seen = -1;
        for (let turn = 0; turn < 4 && this.#queue.length !== seen; turn += 1) {
          seen = this.#queue.length;
          await new Promise((resolve) => setImmediate(resolve));
        }
        const group = this.#queue.splice(0, this.#maxGroup);
        try {
          const results = await withRetry(() =>
            this.#store.transaction(async (scope) => {
              const out: unknown[] = [];
              for (const item of group) out.push(await item.work(scope));
              return out;
            }),
          );
          for (const [index, item] of group.entries()) item.resolve(results[index]);
        } catch (error) {
          // A store fault (lock held past its timeout, disk full, database gone) is the store's state, not
          // one item's doing: retrying each item alone would only wait out the lock once per item.
          if (group.length === 1 || (storeFault(error) && !isConflict(error))) {
            for (const item of group) item.reject(error);
            continue;
          }
          for (const item of group) {
            try {
              item.resolve(await withRetry(() => this.#store.transaction((scope) => item.work(scope))));
            } catch (itemError) {
              item.reject(itemError);
            }
          }
        }
      }
    } finally {
      this.#draining = false;
    }
  }
}

/** Conflicts between concurrent PostgreSQL writers (another process took a unique key first, a deadlock). */
function isConflict(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '23505' || code === '40001' || code === '40P01';
}

/** Conflicts, and a busy SQLite database, succeed on a retry. */
function isTransient(error: unknown): boolean {
  return isConflict(error) || (error as { code?: unknown }).code === 'SQLITE_BUSY';
}

async function withRetry<T>(attempt: () => Promise<T>, tries = 3): Promise<T> {
  for (let index = 1; ; index += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (index >= tries || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * index + Math.random() * 10));
    }
  }
}
