import type { CheckpointTuple } from '@langchain/langgraph';
import { newId } from '../domain/common.js';
import { OpxError } from '../domain/errors.js';
import type { EvidenceBundle } from '../domain/evidence.js';
import type { Finding, RecommendationDraft } from '../domain/finding.js';
import { canTransition } from '../domain/lifecycle.js';
import { appendIncidentEvents, requireIncident, transitionIncident } from '../incidents/service.js';
import type { Runtime } from '../runtime.js';
import { storeFault } from '../store/faults.js';
import type { Recommendation } from '../store/repositories/investigations.js';
import { investigationDuration } from '../telemetry/metrics.js';
import { inSpan } from '../telemetry/tracing.js';
import { freezeEvidence } from './bundle.js';
import { type InvestigationStateType, RESET } from './graph.js';
import type { LlmRecords } from './llm.js';
import { type CompiledGraph, checkpointedGraph, findingsOf, outputHash } from './tools.js';

export interface InvestigationResult {
  investigationId: string;
  incidentId: string;
  bundle: EvidenceBundle;
  findings: Finding[];
  recommendations: Recommendation[];
  outputHash: string;
  /** Checkpoints this investigation wrote on the incident's thread. */
  checkpoints: number;
  /** Set when an unfinished run was continued from its last checkpoint. */
  resumedFrom?: { checkpointId: string; next: string[] } | undefined;
  /** Set when the thread's checkpoints could not be read and were discarded: the run started over. */
  discardedCheckpoints?: { reason: string } | undefined;
}

export interface InvestigateOptions {
  principal: string;
  /** Aborts the run (a stopping worker, a lost lease). */
  signal?: AbortSignal | undefined;
  /**
   * For job-driven runs: an investigation of this incident started at or after this time is this
   * job's own earlier attempt. A running one is resumed from its checkpoint; a completed one is
   * returned as is, so a job re-run after a crash completes exactly once.
   */
  resumeSince?: number | undefined;
}

/** A signal that aborts after the investigation time limit, or when `outer` aborts. */
function deadline(runtime: Runtime, outer: AbortSignal | undefined): { signal: AbortSignal; clear(): void } {
  const limitMs = runtime.config.investigationTimeoutSeconds * 1000;
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        new OpxError('timeout', `the investigation exceeded its time limit of ${limitMs / 1000} s`),
      ),
    limitMs,
  );
  const forward = () => controller.abort(outer?.reason ?? new Error('aborted'));
  if (outer?.aborted) forward();
  else outer?.addEventListener('abort', forward, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      outer?.removeEventListener('abort', forward);
    },
  };
}

/**
 * Rejects as soon as `signal` aborts, with its reason. LangGraph stops between steps; this stops the wait.
 * `work` is always observed: abandoned after an abort, it still rejects (with the same reason), and an
 * unobserved rejection would end the process in the middle of its drain.
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Whether an error reading checkpoints came from the database driver (a lock, a lost connection, a
 * missing table) rather than from the bytes it returned. Only unreadable bytes justify discarding
 * checkpoints; a driver error says nothing about them.
 */
function isDriverError(error: unknown): boolean {
  if (storeFault(error)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  // SQLite result codes, PostgreSQL SQLSTATEs, Node system errors.
  return typeof code === 'string' && /^(SQLITE_[A-Z_]+|[0-9A-Z]{5}|E[A-Z]+)$/.test(code);
}

/**
 * Reads the incident's thread: its latest state, and every checkpoint and pending write on it (the
 * checkpoints already there are returned, attributed to their runs). A checkpoint that cannot be read
 * (garbage bytes, a truncated blob, a shape LangGraph rejects) would fail every attempt of every
 * future investigation of the incident, and a job would retry into the dead-letter queue. Checkpoints
 * only save re-running agents on a frozen bundle, so the thread's checkpoints are deleted instead, the
 * discard is recorded as an incident event, and the caller starts the run from the beginning.
 */
async function readThread(
  runtime: Runtime,
  graph: CompiledGraph,
  config: { configurable: { thread_id: string }; signal: AbortSignal },
  investigationId: string,
): Promise<
  | {
      state: Awaited<ReturnType<CompiledGraph['getState']>>;
      existing: ThreadCheckpoint[];
      discarded?: undefined;
    }
  | { state?: undefined; existing: ThreadCheckpoint[]; discarded: { reason: string } }
> {
  const threadId = config.configurable.thread_id;
  const { saver } = await runtime.checkpointer();
  try {
    const state = await graph.getState(config);
    // Reading each tuple deserializes it; that is the check.
    const tuples: CheckpointTuple[] = [];
    for await (const tuple of saver.list({ configurable: { thread_id: threadId } })) tuples.push(tuple);
    return { state, existing: attributed(tuples) };
  } catch (error) {
    if (config.signal.aborted || isDriverError(error)) throw error;
    // A missing encryption key is a configuration fault, not damage: the checkpoints are kept.
    if (error instanceof OpxError && error.code === 'config_invalid') throw error;
    // The error's name only: a parser's message quotes the bytes it choked on, and checkpoints hold
    // evidence text that must not leak into the event log.
    const reason = `unreadable checkpoint (${error instanceof Error ? error.name : typeof error})`;
    await saver.deleteThread(threadId);
    await runtime.writes.run((scope) =>
      appendIncidentEvents(scope, threadId, [
        {
          type: 'investigation_checkpoint_discarded',
          principal: 'system',
          at: Date.now(),
          data: { investigationId, reason },
        },
      ]),
    );
    return { existing: [], discarded: { reason } };
  }
}

/**
 * Runs the graph for one investigation, or continues it: when the incident's thread already holds a
 * checkpoint of this investigation with nodes still to run, LangGraph resumes from there (the
 * finished agents are not run again). An unreadable thread is discarded and the run starts over.
 */
async function runGraph(
  runtime: Runtime,
  run: { investigationId: string; bundle: EvidenceBundle },
  signal: AbortSignal,
): Promise<{
  findings: Finding[];
  llm: LlmRecords[];
  checkpoints: number;
  resumedFrom?: InvestigationResult['resumedFrom'];
  discardedCheckpoints?: InvestigationResult['discardedCheckpoints'];
}> {
  const { tools, graph: compiling } = checkpointedGraph(runtime);
  tools.remember(run.bundle);
  const graph = await compiling;
  // `sync`: each step's checkpoint is stored before the next step starts, so a crash resumes from the
  // last finished step and the count below is complete.
  const config = { configurable: { thread_id: run.bundle.incidentId }, signal, durability: 'sync' as const };
  const thread = await readThread(runtime, graph, config, run.investigationId);
  const current = thread.state;
  const values = (current?.values ?? {}) as Partial<InvestigationStateType>;
  let state: InvestigationStateType;
  let resumedFrom: InvestigationResult['resumedFrom'];
  if (current && values.investigationId === run.investigationId) {
    resumedFrom = {
      checkpointId: String(current.config.configurable?.checkpoint_id ?? ''),
      next: [...current.next],
    };
    state =
      current.next.length > 0
        ? ((await abortable(graph.invoke(null, config), signal)) as InvestigationStateType)
        : (values as InvestigationStateType);
  } else {
    state = (await abortable(
      graph.invoke(
        {
          incidentId: run.bundle.incidentId,
          investigationId: run.investigationId,
          bundleId: run.bundle.id,
          findings: RESET,
          llm: RESET,
        },
        config,
      ),
      signal,
    )) as InvestigationStateType;
  }
  // This run's checkpoints: those an earlier attempt of it left, and every one written since the
  // thread was read. One count in SQL instead of reading the thread again; a second run on the same
  // incident at the same moment would be counted too (the figure is informational: nothing keys on it).
  const mine = thread.existing.filter((checkpoint) => checkpoint.investigationId === run.investigationId);
  const written =
    (await (await runtime.checkpointer()).count(run.bundle.incidentId)) - thread.existing.length;
  const checkpoints = mine.length + written;
  return {
    findings: findingsOf(state),
    llm: state.llm ?? [],
    checkpoints,
    resumedFrom,
    discardedCheckpoints: thread.discarded,
  };
}

export interface ThreadCheckpoint {
  id: string;
  /** The run it belongs to; an input checkpoint (taken before the input is applied) gets its child's. */
  investigationId: string | null;
  step: number | null;
  source: string | null;
}

/**
 * Each checkpoint, newest first, attributed to its run: the run whose investigationId its state holds,
 * except an input checkpoint (taken before a run's input is applied, so still holding the previous
 * run's state, or none), which belongs to the run that follows it: its child's.
 */
function attributed(tuples: readonly CheckpointTuple[]): ThreadCheckpoint[] {
  const out = tuples.map((tuple) => ({
    id: tuple.checkpoint.id,
    investigationId:
      (tuple.checkpoint.channel_values as { investigationId?: string }).investigationId ?? null,
    step: typeof tuple.metadata?.step === 'number' ? tuple.metadata.step : null,
    source: tuple.metadata?.source ?? null,
    parent: tuple.parentConfig?.configurable?.checkpoint_id as string | undefined,
  }));
  const byId = new Map(out.map((checkpoint) => [checkpoint.id, checkpoint]));
  for (const checkpoint of out) {
    const parent = checkpoint.parent ? byId.get(checkpoint.parent) : undefined;
    if (parent && (parent.source === 'input' || parent.investigationId === null))
      parent.investigationId = checkpoint.investigationId;
  }
  return out.map(({ parent: _parent, ...checkpoint }) => checkpoint);
}

/** The checkpoints on an incident's thread, newest first, each attributed to its investigation. */
export async function threadCheckpoints(runtime: Runtime, incidentId: string): Promise<ThreadCheckpoint[]> {
  const { saver } = await runtime.checkpointer();
  const tuples: CheckpointTuple[] = [];
  for await (const tuple of saver.list({ configurable: { thread_id: incidentId } })) tuples.push(tuple);
  return attributed(tuples);
}

interface StartedRun {
  id: string;
  bundle: EvidenceBundle;
  /** An earlier attempt already completed this job's investigation. */
  completed?: InvestigationResult;
}

/** A new investigation needs an incident that is not CLOSED. */
export function assertInvestigable(incident: { id: string; status: string }): void {
  if (incident.status === 'CLOSED')
    throw new OpxError(
      'illegal_transition',
      `incident ${incident.id} is CLOSED; re-open it before investigating`,
    );
}

async function startOrResume(
  runtime: Runtime,
  incidentId: string,
  options: InvestigateOptions,
): Promise<StartedRun> {
  const evidence = await runtime.evidenceOptions(options.principal);
  return runtime.writes.run(async (scope): Promise<StartedRun> => {
    const incident = await requireIncident(scope, incidentId);
    if (options.resumeSince !== undefined) {
      const [latest] = await scope.investigations.forIncident(incidentId);
      if (latest && latest.startedAt >= options.resumeSince && latest.bundleId) {
        const bundle = await scope.evidence.getBundle(latest.bundleId);
        if (bundle && latest.status === 'completed') {
          return {
            id: latest.id,
            bundle,
            completed: {
              investigationId: latest.id,
              incidentId,
              bundle,
              findings: latest.findings,
              recommendations: await scope.investigations.recommendations(incidentId, latest.id),
              outputHash: latest.outputHash ?? outputHash(latest.findings),
              checkpoints: 0,
            },
          };
        }
        if (bundle && latest.status === 'running') return { id: latest.id, bundle };
      }
    }
    assertInvestigable(incident);
    const { bundle } = await freezeEvidence(scope, incidentId, evidence);
    const id = newId('investigation');
    const attempt = (await scope.investigations.forIncident(incidentId)).length + 1;
    await scope.investigations.start({ id, incidentId, bundleId: bundle.id, attempt, startedAt: Date.now() });
    if (canTransition(incident.status, 'INVESTIGATING')) {
      await transitionIncident(scope, incidentId, 'INVESTIGATING', {
        principal: options.principal,
        at: Date.now(),
        reason: `investigation ${id}`,
      });
    }
    await appendIncidentEvents(scope, incidentId, [
      {
        type: 'investigation_started',
        principal: options.principal,
        at: Date.now(),
        data: { investigationId: id, bundleId: bundle.id, bundleHash: bundle.hash },
      },
    ]);
    return { id, bundle };
  });
}

/**
 * Freezes the evidence, runs the six agents, and records findings, recommendations and events. The
 * incident moves OPEN → INVESTIGATING → ADVISORY_READY where its lifecycle allows. Nothing outside OPX
 * is touched: recommendations wait for a human. The run is bounded by the investigation time limit;
 * a failure marks the investigation failed and writes an incident event before it is re-thrown.
 */
export async function investigateIncident(
  runtime: Runtime,
  incidentId: string,
  options: InvestigateOptions,
): Promise<InvestigationResult> {
  const started = await startOrResume(runtime, incidentId, options);
  if (started.completed) return started.completed;

  const limit = deadline(runtime, options.signal);
  const clock = performance.now();
  const observe = (outcome: 'completed' | 'failed') =>
    investigationDuration.observe({ outcome }, (performance.now() - clock) / 1000);
  let outcome: Awaited<ReturnType<typeof runGraph>>;
  try {
    outcome = await inSpan(
      'opx.investigate',
      { attributes: { 'opx.incident.id': incidentId, 'opx.investigation.id': started.id } },
      () => runGraph(runtime, { investigationId: started.id, bundle: started.bundle }, limit.signal),
    );
  } catch (thrown) {
    const error = limit.signal.aborted ? limit.signal.reason : thrown;
    const reason = error instanceof Error ? error.message : String(error);
    observe('failed');
    await runtime.writes.run(async (scope) => {
      if (
        !(await scope.investigations.finish(started.id, {
          status: 'failed',
          finishedAt: Date.now(),
          error: reason,
        }))
      )
        return;
      await appendIncidentEvents(scope, incidentId, [
        {
          type: 'investigation_failed',
          principal: 'system',
          at: Date.now(),
          data: { investigationId: started.id, reason },
        },
      ]);
    });
    throw error;
  } finally {
    limit.clear();
  }

  observe('completed');
  const hash = outputHash(outcome.findings);
  const strategy = outcome.findings.find((finding) => finding.agent === 'response-strategy')!;
  const drafts = (strategy.data.recommendations as (RecommendationDraft & { trust?: number })[]) ?? [];
  const now = Date.now();
  const recommendations: Recommendation[] = drafts.map((draft, rank) => ({
    ...draft,
    trust: draft.trust ?? null,
    id: newId('recommendation', now),
    incidentId,
    investigationId: started.id,
    rank: rank + 1,
    status: 'proposed',
    decidedBy: null,
    decidedAt: null,
    decisionReason: null,
    createdAt: now,
  }));
  await runtime.writes.run(async (scope) => {
    const finished = await scope.investigations.finish(started.id, {
      status: 'completed',
      finishedAt: now,
      outputHash: hash,
      findings: outcome.findings,
    });
    if (!finished) throw new OpxError('conflict', `investigation ${started.id} was finished by another run`);
    await scope.investigations.addRecommendations(recommendations);
    await scope.safety.addTraces(
      outcome.llm.flatMap((records) =>
        records.traces.map((trace) => ({ ...trace, investigationId: started.id })),
      ),
    );
    await scope.safety.addValidationErrors(outcome.llm.flatMap((records) => records.validationErrors));
    await scope.safety.addViolations(outcome.llm.flatMap((records) => records.violations));
    await appendIncidentEvents(scope, incidentId, [
      ...(outcome.resumedFrom
        ? [
            {
              type: 'investigation_resumed' as const,
              principal: options.principal,
              at: now,
              data: { investigationId: started.id, ...outcome.resumedFrom },
            },
          ]
        : []),
      ...outcome.findings.map((finding) => ({
        type: 'agent_completed' as const,
        principal: `agent:${finding.agent}`,
        at: now,
        data: {
          investigationId: started.id,
          summary: finding.summary,
          confidence: finding.confidence,
          insufficientEvidence: finding.insufficientEvidence,
        },
      })),
      ...recommendations.map((recommendation) => ({
        type: 'recommendation_proposed' as const,
        principal: 'agent:response-strategy',
        at: now,
        data: { recommendationId: recommendation.id, kind: recommendation.kind, title: recommendation.title },
      })),
      {
        type: 'investigation_completed' as const,
        principal: 'system',
        at: now,
        data: { investigationId: started.id, outputHash: hash, checkpoints: outcome.checkpoints },
      },
    ]);
    const incident = await requireIncident(scope, incidentId);
    // The origin follows the evidence: the investigation's probable root cause becomes the incident's.
    const answered = (strategy.data.probableRootCause as { service?: string } | null | undefined)?.service;
    if (answered && answered !== incident.rootService && incident.status !== 'CLOSED') {
      // The title names the origin, as correlation's own moves do: the origin's first alert leads it.
      const lead = started.bundle.signals
        .filter((signal) => signal.service === answered)
        .sort((a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id))[0];
      const suffix = / \(\+\d+ services?\)$/.exec(incident.title)?.[0] ?? '';
      await scope.incidents.update(incidentId, {
        root_service: answered,
        ...(lead ? { title: `${answered}: ${lead.title}`.slice(0, 500 - suffix.length) + suffix } : {}),
        updated_at: now,
      });
      await appendIncidentEvents(
        scope,
        incidentId,
        [
          {
            type: 'origin_moved',
            principal: 'agent:response-strategy',
            at: now,
            data: { from: incident.rootService, to: answered, investigationId: started.id },
          },
        ],
        now,
      );
    }
    if (incident.status === 'INVESTIGATING') {
      await transitionIncident(scope, incidentId, 'ADVISORY_READY', {
        principal: 'system',
        at: now,
        reason: `investigation ${started.id} completed`,
      });
    }
  });
  return {
    investigationId: started.id,
    incidentId,
    bundle: started.bundle,
    findings: outcome.findings,
    recommendations,
    outputHash: hash,
    checkpoints: outcome.checkpoints,
    resumedFrom: outcome.resumedFrom,
    discardedCheckpoints: outcome.discardedCheckpoints,
  };
}
