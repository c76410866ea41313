import { OpxError } from '../domain/errors.js';
import { GroupCommitWriter } from '../store/group-commit.js';
import type { Store, StoreScope } from '../store/store.js';
import { canonicalJson, sha256 } from '../util/hash.js';

export interface IdempotencyRequest {
  principal: string;
  key: string;
  route: string;
  body: unknown;
}

/** Who wrote what, recorded in the audit log in the same transaction as the write. */
export interface AuditRequest {
  principal: string;
  /** The route: `POST /v1/incidents/:id/notes`. */
  action: string;
  /** The object written, when the route names one (its `:id`). */
  target: string | null;
  requestId: string;
}

/** A write as the API hands it over: its audit record, and its idempotency key if one was sent. */
export interface WriteRequest {
  audit: AuditRequest;
  idempotency?: IdempotencyRequest | undefined;
}

/** What a write's work returns: the answer, and optionally a better audit target and detail. */
export interface WriteResult<T> {
  statusCode: number;
  body: T;
  audit?: { target?: string | null; detail?: Record<string, unknown> };
}

export interface WriteResponse<T = unknown> {
  statusCode: number;
  body: T;
  replayed: boolean;
}

function requestHashOf(idempotency: IdempotencyRequest): string {
  return sha256(canonicalJson({ route: idempotency.route, body: idempotency.body }));
}

function keyReused(idempotency: IdempotencyRequest): OpxError {
  return new OpxError(
    'idempotency_key_reused',
    `Idempotency-Key ${JSON.stringify(idempotency.key)} was already used for a different request; use a new key for new content`,
    { path: 'Idempotency-Key' },
  );
}

/** One audit entry for a write that took effect. */
export async function recordAudit(
  scope: StoreScope,
  audit: AuditRequest,
  statusCode: number,
  extra: WriteResult<unknown>['audit'] = {},
): Promise<void> {
  await scope.audit.record({
    principal: audit.principal,
    action: audit.action,
    target: extra.target === undefined ? audit.target : extra.target,
    at: Date.now(),
    detail: { status: statusCode, requestId: audit.requestId, ...(extra.detail ?? {}) },
  });
}

/**
 * The one way every edge (API routes, CLI, worker, investigations) writes: through one group-commit
 * writer, with an idempotency key checked and the audit entry recorded in the same transaction as the
 * write they guard, so no write lands unaudited and a retried request never writes twice.
 */
export class AuditedWrites {
  readonly #writer: GroupCommitWriter;
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
    this.#writer = new GroupCommitWriter(store);
  }

  /** Runs work in a shared transaction, without an audit entry (internal writes: imports, the worker). */
  run<T>(work: (scope: StoreScope) => Promise<T>): Promise<T> {
    return this.#writer.run(work);
  }

  /**
   * Runs `work` through the writer, honouring an idempotency key when one is given. With a request, the
   * audit entry commits with the write; a replayed answer writes nothing and is not recorded again.
   */
  async write<T>(
    work: (scope: StoreScope) => Promise<WriteResult<T>>,
    request?: WriteRequest,
  ): Promise<WriteResponse<T>> {
    const idempotency = request?.idempotency;
    return this.#writer.run(async (scope) => {
      let requestHash: string | undefined;
      if (idempotency) {
        requestHash = requestHashOf(idempotency);
        const stored = await scope.idempotency.get(idempotency.principal, idempotency.key);
        if (stored) {
          if (stored.requestHash !== requestHash) throw keyReused(idempotency);
          return { statusCode: stored.statusCode, body: JSON.parse(stored.body) as T, replayed: true };
        }
      }
      const { audit, ...result } = await work(scope);
      if (idempotency && requestHash)
        await scope.idempotency.put(idempotency.principal, idempotency.key, {
          route: idempotency.route,
          requestHash,
          statusCode: result.statusCode,
          body: JSON.stringify(result.body ?? null),
        });
      if (request) await recordAudit(scope, request.audit, result.statusCode, audit);
      return { ...result, replayed: false };
    });
  }

  /**
   * For writes too long to run inside one transaction (investigations): the stored answer for a key,
   * if any; `remember` stores the answer afterwards. A replay returns the first answer; two concurrent
   * first requests may both run.
   */
  async replayed<T>(idempotency: IdempotencyRequest): Promise<WriteResponse<T> | undefined> {
    const stored = await this.#store.idempotency.get(idempotency.principal, idempotency.key);
    if (!stored) return undefined;
    if (stored.requestHash !== requestHashOf(idempotency)) throw keyReused(idempotency);
    return { statusCode: stored.statusCode, body: JSON.parse(stored.body) as T, replayed: true };
  }

  /** Audits a write that ran outside `write` (investigations), once it has taken effect. */
  async audited(
    request: WriteRequest,
    statusCode: number,
    extra?: WriteResult<unknown>['audit'],
  ): Promise<void> {
    await this.#writer.run((scope) => recordAudit(scope, request.audit, statusCode, extra));
  }

  async remember(
    idempotency: IdempotencyRequest,
    response: { statusCode: number; body: unknown },
  ): Promise<void> {
    await this.#writer.run((scope) =>
      scope.idempotency.put(idempotency.principal, idempotency.key, {
        route: idempotency.route,
        requestHash: requestHashOf(idempotency),
        statusCode: response.statusCode,
        body: JSON.stringify(response.body ?? null),
      }),
    );
  }

  /** Stops accepting writes and waits for the queued ones to commit. */
  close(): Promise<void> {
    return this.#writer.close();
  }
}
