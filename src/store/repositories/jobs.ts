import type { Selectable } from 'kysely';
import { newId } from '../../domain/common.js';
import type { JobsTable } from '../schema.js';
import { fromJson, type RepositoryContext, toJson } from './base.js';

export type JobStatus = 'pending' | 'running' | 'done' | 'dead';

export interface Job {
  id: string;
  kind: string;
  payload: Record<string, unknown>;
  status: JobStatus;
  attempts: number;
  maxAttempts: number;
  runAt: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  lastError: string | null;
  dedupKey: string | null;
  createdAt: number;
  updatedAt: number;
}

function jobFromRow(row: Selectable<JobsTable>): Job {
  return {
    id: row.id,
    kind: row.kind,
    payload: fromJson(row.payload, {}),
    status: row.status as JobStatus,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAt: row.run_at,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    lastError: row.last_error,
    dedupKey: row.dedup_key,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface EnqueueOptions {
  /** While a job with this key is pending or running, enqueueing it again returns that job. */
  dedupKey?: string;
  runAt?: number;
  maxAttempts?: number;
  /**
   * Insert the job already claimed by `owner` (running, first attempt, leased for `ms`): for work a
   * process starts itself but wants recovered, through the lease, if it dies mid-way.
   */
  lease?: { owner: string; ms: number };
}

export function jobRepository({ db, dialect, jobQueued }: RepositoryContext) {
  return {
    async enqueue(
      kind: string,
      payload: Record<string, unknown>,
      options: EnqueueOptions = {},
      now: number = Date.now(),
    ): Promise<{ job: Job; created: boolean }> {
      const row = {
        id: newId('job', now),
        kind,
        payload: toJson(payload),
        status: options.lease ? 'running' : 'pending',
        attempts: options.lease ? 1 : 0,
        max_attempts: options.maxAttempts ?? 5,
        run_at: options.runAt ?? now,
        lease_owner: options.lease?.owner ?? null,
        lease_expires_at: options.lease ? now + options.lease.ms : null,
        last_error: null,
        dedup_key: options.dedupKey ?? null,
        created_at: now,
        updated_at: now,
      };
      const result = await db
        .insertInto('jobs')
        .values(row)
        .onConflict((conflict) => conflict.column('dedup_key').doNothing())
        .executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0) > 0) {
        // A job queued with a lease is already running: no worker needs telling.
        if (!options.lease) jobQueued?.(row.run_at);
        return { job: jobFromRow(row), created: true };
      }
      const existing = await db
        .selectFrom('jobs')
        .selectAll()
        .where('dedup_key', '=', options.dedupKey!)
        .executeTakeFirstOrThrow();
      return { job: jobFromRow(existing), created: false };
    },

    /**
     * Takes the next due job: pending and due, or running with an expired lease (its worker died). On
     * PostgreSQL, SKIP LOCKED lets any number of workers claim concurrently without taking the same job;
     * on SQLite the write lock serializes claims.
     */
    async claim(
      owner: string,
      kinds: readonly string[],
      leaseMs: number,
      now: number = Date.now(),
    ): Promise<Job | undefined> {
      if (kinds.length === 0) return undefined;
      let next = db
        .selectFrom('jobs')
        .select('id')
        .where('kind', 'in', [...kinds])
        .where((eb) =>
          eb.or([
            eb.and([eb('status', '=', 'pending'), eb('run_at', '<=', now)]),
            eb.and([eb('status', '=', 'running'), eb('lease_expires_at', '<', now)]),
          ]),
        )
        .orderBy('run_at')
        .orderBy('id')
        .limit(1);
      if (dialect === 'postgres') next = next.forUpdate().skipLocked();
      const row = await db
        .updateTable('jobs')
        .set((eb) => ({
          status: 'running',
          lease_owner: owner,
          lease_expires_at: now + leaseMs,
          attempts: eb('attempts', '+', 1),
          updated_at: now,
        }))
        .where('id', '=', (eb) => eb.selectFrom(next.as('next')).select('next.id'))
        .returningAll()
        .executeTakeFirst();
      return row && jobFromRow(row);
    },

    /** Extends a lease; false when the job is no longer this owner's (the lease expired and moved on). */
    async heartbeat(id: string, owner: string, leaseMs: number, now: number = Date.now()): Promise<boolean> {
      const result = await db
        .updateTable('jobs')
        .set({ lease_expires_at: now + leaseMs, updated_at: now })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .where('status', '=', 'running')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async complete(id: string, owner: string, now: number = Date.now()): Promise<boolean> {
      const result = await db
        .updateTable('jobs')
        .set({ status: 'done', dedup_key: null, lease_owner: null, lease_expires_at: null, updated_at: now })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .where('status', '=', 'running')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    /**
     * Records a failed attempt: the job is retried at `retryAt`, or dead-lettered once it has used all
     * its attempts (or at once when `final`). A `deferred` attempt does not count: the job was not due.
     * Returns the new status, or undefined when the job was not this owner's any more.
     */
    async fail(
      id: string,
      owner: string,
      error: string,
      retryAt: number,
      now: number = Date.now(),
      options: { final?: boolean; deferred?: boolean } = {},
    ): Promise<'pending' | 'dead' | undefined> {
      const current = await db
        .selectFrom('jobs')
        .select(['attempts', 'max_attempts'])
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .where('status', '=', 'running')
        .executeTakeFirst();
      if (!current) return undefined;
      const dead = !options.deferred && (options.final === true || current.attempts >= current.max_attempts);
      await db
        .updateTable('jobs')
        .set({
          status: dead ? 'dead' : 'pending',
          run_at: dead ? now : retryAt,
          ...(options.deferred ? { attempts: Math.max(0, current.attempts - 1) } : {}),
          last_error: error.slice(0, 4000),
          lease_owner: null,
          lease_expires_at: null,
          updated_at: now,
          ...(dead ? { dedup_key: null } : {}),
        })
        .where('id', '=', id)
        .execute();
      if (!dead) jobQueued?.(retryAt);
      return dead ? 'dead' : 'pending';
    },

    /** Puts a dead job back in the queue with a fresh set of attempts. */
    async redrive(id: string, now: number = Date.now()): Promise<boolean> {
      const result = await db
        .updateTable('jobs')
        .set({ status: 'pending', attempts: 0, run_at: now, last_error: null, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', 'dead')
        .executeTakeFirst();
      const redriven = Number(result.numUpdatedRows) > 0;
      if (redriven) jobQueued?.(now);
      return redriven;
    },

    /** Whether a job with this dedup key is waiting to run (not yet claimed, or back for a retry). */
    async pendingByDedupKey(dedupKey: string): Promise<boolean> {
      const row = await db
        .selectFrom('jobs')
        .select('id')
        .where('dedup_key', '=', dedupKey)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return row !== undefined;
    },

    async get(id: string): Promise<Job | undefined> {
      const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
      return row && jobFromRow(row);
    },

    async list(options: { status?: JobStatus; kind?: string; limit?: number } = {}): Promise<Job[]> {
      let query = db.selectFrom('jobs').selectAll();
      if (options.status) query = query.where('status', '=', options.status);
      if (options.kind) query = query.where('kind', '=', options.kind);
      const rows = await query
        .orderBy('updated_at', 'desc')
        .orderBy('id', 'desc')
        .limit(options.limit ?? 100)
        .execute();
      return rows.map(jobFromRow);
    },
  };
}
export type JobRepository = ReturnType<typeof jobRepository>;
