import type { Selectable } from 'kysely';
import { newId } from '../../domain/common.js';
import type { GuardrailViolationsTable, LlmTracesTable, ValidationErrorsTable } from '../schema.js';
import { chunk, fromJson, type RepositoryContext, seal, toJson, unseal } from './base.js';

/** One call to a language model, as recorded: prompt and response are stored redacted. */
export interface LlmTrace {
  id: string;
  incidentId: string | null;
  /** The investigation the call was made for; absent on calls outside one. */
  investigationId?: string | null;
  agent: string | null;
  provider: string;
  model: string;
  attempt: number;
  prompt: string;
  response: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  cacheReadTokens: number | null;
  cacheWriteTokens: number | null;
  costUsd: number | null;
  latencyMs: number;
  /** ok, invalid (the output failed validation), error (the call failed), blocked (a guardrail stopped it). */
  status: 'ok' | 'invalid' | 'error' | 'blocked';
  error: string | null;
  createdAt: number;
}

export interface ValidationError {
  id: string;
  incidentId: string | null;
  agent: string;
  attempt: number;
  errors: string[];
  createdAt: number;
}

/** A guardrail match: where it was and a keyed hash of the value, never the value. */
export interface GuardrailViolation {
  id: string;
  incidentId: string | null;
  agent: string | null;
  /** `input`/`output`: an LLM call's prompt or answer; `ingest`: a value redacted before storage. */
  direction: 'input' | 'output' | 'ingest';
  entityType: string;
  action: string;
  location: string;
  valueHash: string;
  createdAt: number;
}

const traceFromRow = (context: RepositoryContext, row: Selectable<LlmTracesTable>): LlmTrace => ({
  id: row.id,
  incidentId: row.incident_id,
  investigationId: row.investigation_id,
  agent: row.agent,
  provider: row.provider,
  model: row.model,
  attempt: row.attempt,
  prompt: unseal(context, row.prompt, 'llm_traces.prompt'),
  response: unseal(context, row.response, 'llm_traces.response'),
  inputTokens: row.input_tokens,
  outputTokens: row.output_tokens,
  cacheReadTokens: row.cache_read_tokens,
  cacheWriteTokens: row.cache_write_tokens,
  costUsd: row.cost_usd,
  latencyMs: row.latency_ms,
  status: row.status as LlmTrace['status'],
  error: row.error,
  createdAt: row.created_at,
});

/** LLM traces, validation failures and guardrail violations: the safety layer's records. */
export function safetyRepository(context: RepositoryContext) {
  const { db } = context;
  return {
    async addTraces(traces: readonly Omit<LlmTrace, 'id'>[]): Promise<string[]> {
      const rows = traces.map((trace) => ({
        id: newId('trace', trace.createdAt),
        incident_id: trace.incidentId,
        investigation_id: trace.investigationId ?? null,
        agent: trace.agent,
        provider: trace.provider,
        model: trace.model,
        attempt: trace.attempt,
        prompt: seal(context, trace.prompt, 'llm_traces.prompt'),
        response: seal(context, trace.response, 'llm_traces.response'),
        input_tokens: trace.inputTokens,
        output_tokens: trace.outputTokens,
        cache_read_tokens: trace.cacheReadTokens,
        cache_write_tokens: trace.cacheWriteTokens,
        cost_usd: trace.costUsd,
        latency_ms: Math.round(trace.latencyMs),
        status: trace.status,
        error: trace.error,
        raw_usage: null,
        created_at: trace.createdAt,
      }));
      for (const part of chunk(rows, 100)) await db.insertInto('llm_traces').values(part).execute();
      return rows.map((row) => row.id);
    },

    async trace(id: string): Promise<LlmTrace | undefined> {
      const row = await db.selectFrom('llm_traces').selectAll().where('id', '=', id).executeTakeFirst();
      return row && traceFromRow(context, row);
    },

    async traces(filter: { incidentId?: string; agent?: string; limit?: number } = {}): Promise<LlmTrace[]> {
      let query = db.selectFrom('llm_traces').selectAll();
      if (filter.incidentId) query = query.where('incident_id', '=', filter.incidentId);
      if (filter.agent) query = query.where('agent', '=', filter.agent);
      const rows = await query
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit ?? 100)
        .execute();
      return rows.map((row) => traceFromRow(context, row));
    },

    async addValidationErrors(errors: readonly Omit<ValidationError, 'id'>[]): Promise<void> {
      const rows = errors.map((error) => ({
        id: newId('validation', error.createdAt),
        incident_id: error.incidentId,
        agent: error.agent,
        attempt: error.attempt,
        errors: toJson(error.errors),
        created_at: error.createdAt,
      }));
      for (const part of chunk(rows, 100)) await db.insertInto('validation_errors').values(part).execute();
    },

    async validationErrors(incidentId: string): Promise<ValidationError[]> {
      const rows = await db
        .selectFrom('validation_errors')
        .selectAll()
        .where('incident_id', '=', incidentId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map((row: Selectable<ValidationErrorsTable>) => ({
        id: row.id,
        incidentId: row.incident_id,
        agent: row.agent,
        attempt: row.attempt,
        errors: fromJson<string[]>(row.errors, []),
        createdAt: row.created_at,
      }));
    },

    async addViolations(violations: readonly Omit<GuardrailViolation, 'id'>[]): Promise<void> {
      const rows = violations.map((violation) => ({
        id: newId('violation', violation.createdAt),
        incident_id: violation.incidentId,
        agent: violation.agent,
        direction: violation.direction,
        entity_type: violation.entityType,
        action: violation.action,
        location: violation.location,
        value_hash: violation.valueHash,
        created_at: violation.createdAt,
      }));
      for (const part of chunk(rows, 100)) await db.insertInto('guardrail_violations').values(part).execute();
    },

    async violations(incidentId: string): Promise<GuardrailViolation[]> {
      const rows = await db
        .selectFrom('guardrail_violations')
        .selectAll()
        .where('incident_id', '=', incidentId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map((row: Selectable<GuardrailViolationsTable>) => ({
        id: row.id,
        incidentId: row.incident_id,
        agent: row.agent,
        direction: row.direction as GuardrailViolation['direction'],
        entityType: row.entity_type,
        action: row.action,
        location: row.location,
        valueHash: row.value_hash,
        createdAt: row.created_at,
      }));
    },
  };
}
export type SafetyRepository = ReturnType<typeof safetyRepository>;
