import type { NormalizedChangeInput, SignalDraft } from '../../domain/index.js';

export interface AdapterError {
  code: 'invalid_request' | 'unsupported_payload';
  /** Says what the sender should fix, naming the offending field. */
  message: string;
  /** Where in the body the problem is, e.g. `alerts[0].labels`. */
  path?: string;
}

/**
 * An SNS subscription waiting to be confirmed. Adapters never fetch `subscribeUrl`: confirming is a
 * deliberate step taken elsewhere, so a forged body cannot make OPX issue requests.
 */
export interface SubscriptionConfirmation {
  topicArn: string;
  subscribeUrl: string;
  token: string;
  messageId: string;
  receivedAt: number;
}

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
