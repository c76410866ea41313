import { type CompiledRuleSet, compileRules } from '../detect/rules.js';
import { type DependencyGraph, dependencyGraph } from '../detect/topology.js';
import type { Change, NormalizedChangeInput } from '../domain/change.js';
import type { SignalDraft } from '../domain/signal.js';
import type { StorageRedactor, StoredRedaction } from '../guardrails/stored.js';
import type { Store, StoreScope } from '../store/store.js';
import type { SubscriptionConfirmation } from './adapters/types.js';
import {
  type CompiledSilence,
  compileSilences,
  correlateSustained,
  type IngestResult,
  type IngestSettings,
  ingestSignals,
} from './pipeline.js';
import { RepeatRedaction } from './repeats.js';

/** Who the sweep for sustained rules acts as, on the incidents' timelines. */
const SWEEP_PRINCIPAL = 'system:correlate';

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
 * The write side of ingestion, inside a caller's transaction (src/audit/writes.ts runs it): signals
 * are redacted, deduplicated and correlated, with rules, silences and the dependency graph compiled once
 * per revision; changes and SNS confirmations are recorded.
 */
export class IngestService {
  readonly store: Store;
  readonly settings: IngestSettings;
  /** Redacts signals and changes before they are stored; absent, text is stored as received. */
  readonly redactor: StorageRedactor | undefined;
  readonly #repeats: RepeatRedaction | undefined;
  #rules: { revision: string; compiled: CompiledRuleSet } | undefined;
  #graph: { revision: string; graph: DependencyGraph } | undefined;
  #silences: { revision: string; compiled: CompiledSilence[] } | undefined;

  constructor(store: Store, settings: IngestSettings, redactor?: StorageRedactor) {
    this.store = store;
    this.settings = settings;
    this.redactor = redactor;
    this.#repeats = redactor && new RepeatRedaction(redactor);
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
    const repeats = this.#repeats;
    const redacted = repeats ? await repeats.redact(scope, drafts) : undefined;
    const result = await ingestSignals(scope, redacted?.map((entry) => entry.draft) ?? drafts, {
      restore:
        repeats &&
        ((index) => {
          const whole = repeats.restore(drafts[index]!, redacted![index]!.draft);
          redacted![index] = whole;
          return whole.draft;
        }),
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

  /**
   * Correlates the signals that became due for a rule with `sustainedSeconds` by `now` (correlateSustained),
   * inside the caller's transaction scope.
   */
  async sweepSustained(
    scope: StoreScope,
    now: number = Date.now(),
  ): Promise<{ incidentsCreated: string[]; incidentsUpdated: string[]; signals: number }> {
    const [rules, silences] = await Promise.all([this.#compiledRules(scope), this.#compiledSilences(scope)]);
    const graph = rules.topology ? await this.#dependencyGraph(scope) : undefined;
    return correlateSustained(scope, {
      principal: SWEEP_PRINCIPAL,
      now,
      settings: this.settings,
      rules,
      graph,
      silences,
    });
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
