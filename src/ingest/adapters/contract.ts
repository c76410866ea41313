import { isDeepStrictEqual } from 'node:util';
import { changeInputSchema } from '../../domain/change.js';
import { formatPath } from '../../domain/errors.js';
import { signalInputSchema } from '../../domain/signal.js';
import type { AdapterResult } from './types.js';

const ERROR_CODES: readonly string[] = ['invalid_request', 'unsupported_payload'];

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/**
 * Lists the ways a result breaks the adapter contract (empty when it holds): every draft must already
 * be in signalInputSchema's output form, so the pipeline can store it without re-validating.
 * Tests run it on every adapter output; it is cheap enough for a debug assertion too.
 */
export function checkAdapterResult(result: AdapterResult): string[] {
  const problems: string[] = [];
  if (!result.ok) {
    if (!ERROR_CODES.includes(result.error.code))
      problems.push(`error.code ${String(result.error.code)} is not allowed`);
    if (!isNonEmptyString(result.error.message)) problems.push('error.message is empty');
    if (result.error.path !== undefined && !isNonEmptyString(result.error.path))
      problems.push('error.path is empty');
    return problems;
  }
  result.signals.forEach((signal, index) => {
    const { acknowledged, raw: _raw, ...fields } = signal;
    const at = `signals[${index}]`;
    if (!isNonEmptyString(fields.fingerprint)) problems.push(`${at}.fingerprint is empty`);
    if (!Number.isSafeInteger(fields.startsAt)) problems.push(`${at}.startsAt is not epoch milliseconds`);
    for (const key of [
      'labels',
      'annotations',
      'links',
      'environment',
      'severity',
      'status',
      'source',
    ] as const) {
      if (fields[key] === undefined) problems.push(`${at}.${key} is missing`);
    }
    if (acknowledged !== undefined && typeof acknowledged !== 'boolean')
      problems.push(`${at}.acknowledged is not a boolean`);
    const parsed = signalInputSchema.safeParse(fields);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push(`${at}.${formatPath(issue.path)}: ${issue.message}`);
    } else if (!isDeepStrictEqual(parsed.data, fields)) {
      problems.push(`${at} is not in normalized form (validation changed it)`);
    }
  });
  result.changes.forEach((change, index) => {
    const parsed = changeInputSchema.safeParse(change);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push(`changes[${index}].${formatPath(issue.path)}: ${issue.message}`);
    } else if (!isDeepStrictEqual(parsed.data, change)) {
      problems.push(`changes[${index}] is not in normalized form (validation changed it)`);
    }
  });
  result.confirmations.forEach((confirmation, index) => {
    for (const key of ['topicArn', 'subscribeUrl', 'token', 'messageId'] as const) {
      if (!isNonEmptyString(confirmation[key])) problems.push(`confirmations[${index}].${key} is empty`);
    }
    if (!Number.isFinite(confirmation.receivedAt))
      problems.push(`confirmations[${index}].receivedAt is not a number`);
  });
  result.dedupKeys.forEach((key, index) => {
    if (!isNonEmptyString(key)) problems.push(`dedupKeys[${index}] is empty`);
  });
  return problems;
}
