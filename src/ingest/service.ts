import { type CompiledRuleSet, compileRules } from '../detect/rules.js';
import { type DependencyGraph, dependencyGraph } from '../detect/topology.js';
import type { Change, NormalizedChangeInput } from '../domain/change.js';
import { OpxError } from '../domain/errors.js';
import type { SignalDraft } from '../domain/signal.js';
import type { StorageRedactor, StoredRedaction } from '../guardrails/stored.js';
import type { Store, StoreScope } from '../store/index.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import type { SubscriptionConfirmation } from './adapters/types.js';
import {
  type CompiledSilence,
  compileSilences,
  type IngestResult,
  type IngestSettings,
  ingestSignals,
} from './pipeline.js';
import { GroupCommitWriter } from './writer.js';

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

/** Each value redacted before storage becomes a guardrail_violations row (direction `ingest`). */
async function recordStoredRedactions(
  scope: StoreScope,
  entries: readonly { redaction: StoredRedaction; incidentId: string | null; target: string }[],
  now: number,
): Promise<void> {
  await scope.safety.addViolations(
    entries.map(({ redaction, incidentId, target }) => ({
      incidentId,
      agent: null,
      direction: 'ingest',
      entityType: redaction.type,
      action: 'anonymize',
      location: `${target} ${redaction.field}[${redaction.start}:${redaction.end}]`,
      valueHash: redaction.hash,
      createdAt: now,
    })),
  );
}

/**
 * The write side of ingestion: signals, changes and SNS confirmations go through one group-commit
 * writer, with rules and silences compiled once per revision and idempotency keys checked in the
 * same transaction as the write they guard.
 */
export class IngestService {
  readonly store: Store;
  readonly settings: IngestSettings;
  readonly writer: GroupCommitWriter;
  /** Redacts signals and changes before they are stored; absent, text is stored as received. */
  readonly redactor: StorageRedactor | undefined;
  #rules: { revision: string; compiled: CompiledRuleSet } | undefined;
  #graph: { revision: string; graph: DependencyGraph } | undefined;
  #silences: { revision: string; compiled: CompiledSilence[] } | undefined;

  constructor(store: Store, settings: IngestSettings, redactor?: StorageRedactor) {
    this.store = store;
    this.settings = settings;
    this.redactor = redactor;
    this.writer = new GroupCommitWriter(store);
  }

  /**
   * Runs `work` through the writer, honouring an idempotency key when one is given. With a request, the
   * audit entry commits with the write, so no write lands unaudited; a replayed answer writes nothing
   * and is not recorded again.
   */
  async write<T>(
    work: (scope: StoreScope) => Promise<WriteResult<T>>,
    request?: WriteRequest,
  ): Promise<WriteResponse<T>> {
    const idempotency = request?.idempotency;
    return this.writer.run(async (scope) => {
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
    const stored = await this.store.idempotency.get(idempotency.principal, idempotency.key);
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
    await this.writer.run((scope) => recordAudit(scope, request.audit, statusCode, extra));
  }

  async remember(
    idempotency: IdempotencyRequest,
    response: { statusCode: number; body: unknown },
  ): Promise<void> {
    await this.writer.run((scope) =>
      scope.idempotency.put(idempotency.principal, idempotency.key, {
        route: idempotency.route,
        requestHash: requestHashOf(idempotency),
        statusCode: response.statusCode,
        body: JSON.stringify(response.body ?? null),
      }),
    );
  }

  /** Stores and correlates signals inside the caller's transaction scope. */
  async ingestInScope(
    scope: StoreScope,
    drafts: readonly SignalDraft[],
    principal: string,
    now: number = Date.now(),
    trace?: Record<string, string>,
  ): Promise<IngestResult> {
    const [rules, silences] = await Promise.all([this.#compiledRules(scope), this.#compiledSilences(scope)]);
    const graph = rules.topology ? await this.#dependencyGraph(scope) : undefined;
    const redacted = this.redactor ? drafts.map((draft) => this.redactor!.signal(draft)) : undefined;
    const result = await ingestSignals(scope, redacted?.map((entry) => entry.draft) ?? drafts, {
      principal,
      now,
      settings: this.settings,
      rules,
      graph,
      silences,
      trace,
    });
    if (redacted?.some((entry) => entry.redactions.length > 0)) {
      await recordStoredRedactions(
        scope,
        redacted.flatMap((entry, index) => {
          const outcome = result.signals[index]!;
          return entry.redactions.map((redaction) => ({
            redaction,
            incidentId: outcome.incidentIds[0] ?? null,
            target: `signal:${outcome.id ?? outcome.fingerprint}`,
          }));
        }),
        now,
      );
    }
    return result;
  }

  async recordChanges(
    scope: StoreScope,
    changes: readonly NormalizedChangeInput[],
    now: number = Date.now(),
  ): Promise<{ change: Change; created: boolean }[]> {
    const out: { change: Change; created: boolean }[] = [];
    const redactions: { redaction: StoredRedaction; incidentId: null; target: string }[] = [];
    for (const input of changes) {
      const redacted = this.redactor?.change(input);
      const stored = await scope.changes.insert(redacted?.change ?? input, now);
      out.push(stored);
      if (!stored.created) continue; // a re-delivery: nothing new was stored
      for (const redaction of redacted?.redactions ?? [])
        redactions.push({ redaction, incidentId: null, target: `change:${stored.change.id}` });
    }
    if (redactions.length > 0) await recordStoredRedactions(scope, redactions, now);
    return out;
  }

  async recordChange(
    scope: StoreScope,
    change: NormalizedChangeInput,
    now: number = Date.now(),
  ): Promise<{ change: Change; created: boolean }> {
    return (await this.recordChanges(scope, [change], now))[0]!;
  }

  async recordConfirmations(
    scope: StoreScope,
    confirmations: readonly SubscriptionConfirmation[],
  ): Promise<void> {
    for (const confirmation of confirmations) await scope.sns.recordConfirmation(confirmation);
  }

  async close(): Promise<void> {
    await this.writer.close();
  }

  async #compiledRules(scope: StoreScope): Promise<CompiledRuleSet> {
    const revision = await scope.rules.revision();
    if (this.#rules?.revision !== revision)
      this.#rules = { revision, compiled: compileRules(await scope.rules.list()) };
    return this.#rules.compiled;
  }

  /** The dependency graph, rebuilt when the catalog changes. */
  async #dependencyGraph(scope: StoreScope): Promise<DependencyGraph> {
    const revision = await scope.services.revision();
    if (this.#graph?.revision !== revision)
      this.#graph = { revision, graph: dependencyGraph(await scope.services.edges()) };
    return this.#graph.graph;
  }

  async #compiledSilences(scope: StoreScope): Promise<CompiledSilence[]> {
    const revision = await scope.silences.revision();
    if (this.#silences?.revision !== revision) {
      this.#silences = {
        revision,
        compiled: compileSilences(await scope.silences.list({ includeExpired: false })),
      };
    }
    return this.#silences.compiled;
  }
}
