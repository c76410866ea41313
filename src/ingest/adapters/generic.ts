import { MAX_LABELS } from '../../domain/common.js';
import { type SignalDraft, signalInputSchema } from '../../domain/signal.js';
import { sha256 } from '../../util/hash.js';
import {
  clip,
  fromZodError,
  guard,
  invalid,
  isRecord,
  LIMITS,
  type Path,
  raise,
  readArray,
  readRecord,
  safeJson,
} from './normalize.js';

function clipValues(value: unknown, field: string): unknown {
  if (!isRecord(value)) return value;
  // Counted before anything else walks the map: validating 100,000 entries alone takes a third of a second.
  let count = 0;
  for (const _key in value) {
    count += 1;
    if (count > MAX_LABELS)
      invalid(`more than ${MAX_LABELS} ${field}; a signal carries at most ${MAX_LABELS}`, [field]);
  }
  return Object.fromEntries(
    Object.entries(value).map(([key, entry]) => [
      key,
      typeof entry === 'string' ? clip(entry, LIMITS.labelValue) : entry,
    ]),
  );
}

/**
 * Clips the free-text fields before validation, so an over-long title or label is trimmed instead of
 * rejected; everything else is left for the schema to judge.
 */
function clipLongText(item: unknown): unknown {
  if (!isRecord(item)) return item;
  const clipped: Record<string, unknown> = { ...item };
  if (typeof item.title === 'string') clipped.title = clip(item.title, LIMITS.title);
  if (typeof item.description === 'string') clipped.description = clip(item.description, LIMITS.description);
  if ('labels' in item) clipped.labels = clipValues(item.labels, 'labels');
  if ('annotations' in item) clipped.annotations = clipValues(item.annotations, 'annotations');
  return clipped;
}

/** A stable identity for senders that give none: the same alert re-sent maps to the same signal. */
export function genericFingerprint(signal: {
  source: string;
  service: string;
  environment: string;
  title: string;
  labels: Record<string, string>;
}): string {
  const labels = Object.entries(signal.labels).sort(([left], [right]) =>
    left < right ? -1 : left > right ? 1 : 0,
  );
  return sha256(safeJson([signal.source, signal.service, signal.environment, signal.title, labels])).slice(
    0,
    16,
  );
}

function parseSignal(item: unknown, path: Path, now: number): SignalDraft {
  const parsed = signalInputSchema.safeParse(clipLongText(item));
  if (!parsed.success) raise(fromZodError(parsed.error, path));
  const { fingerprint, startsAt, endsAt, ...fields } = parsed.data;
  const draft: SignalDraft = {
    ...fields,
    fingerprint: fingerprint ?? genericFingerprint(fields),
    startsAt: startsAt ?? now,
    raw: item,
  };
  if (endsAt !== undefined) draft.endsAt = endsAt;
  else if (fields.status === 'resolved') draft.endsAt = now;
  return draft;
}

/** OPX's own format: one signal, an array of them, or `{ signals: [...] }`, checked by signalInputSchema. */
export const parseGenericSignals = guard((body, context) => {
  if (Array.isArray(body)) {
    return { signals: readArray(body, []).map((item, index) => parseSignal(item, [index], context.now)) };
  }
  const record = readRecord(body, []);
  if ('signals' in record) {
    const items = readArray(record.signals, ['signals']);
    return { signals: items.map((item, index) => parseSignal(item, ['signals', index], context.now)) };
  }
  return { signals: [parseSignal(record, [], context.now)] };
});
