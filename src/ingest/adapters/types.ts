import type { NormalizedChangeInput } from '../../domain/change.js';
import type { PayloadError } from '../../domain/payload.js';
import type { SignalDraft } from '../../domain/signal.js';
import type { SubscriptionConfirmation } from '../../domain/sns.js';

export type { SubscriptionConfirmation };

/** What an adapter reports about a body it refuses (domain/payload.ts). */
export type AdapterError = PayloadError;

export type AdapterResult =
  | {
      ok: true;
      signals: SignalDraft[];
      changes: NormalizedChangeInput[];
      confirmations: SubscriptionConfirmation[];
      dedupKeys: string[];
    }
  | { ok: false; error: AdapterError };

/** Pure: never throws and never does I/O, so it can be called on untrusted bodies directly. */
export type Adapter = (body: unknown, context: { now: number }) => AdapterResult;
