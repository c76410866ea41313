/**
 * Storage redaction without a second scan of a repeat. Prometheus and Alertmanager re-send every firing
 * alert on each evaluation, so most of a real stream repeats a signal that is already open; of a repeat
 * OPX stores only a counter, a last-seen time, the severity and the title. Scanning all its text again
 * (labels, annotations, the raw payload) was about a fifth of the ingest path's time.
 *
 * The first time an alert is redacted, its redacted fingerprint and title are remembered against its
 * fingerprint and title as received. A later copy whose signal is open (read in the writing
 * transaction) and whose title is unchanged is handed on as a stand-in: the redacted fingerprint and
 * title, the received severity, status and times, and none of its other text. So is a resolve of a
 * remembered alert: it closes the open signal, or (Prometheus re-sends a resolve for 15 minutes)
 * counts on the resolve already stored. Anything else is redacted in full, as before: an alert seen
 * for the first time, a changed title, a firing copy whose signal is no longer open. ingestSignals
 * restores a stand-in that would have to be stored as a new row: a firing one whose signal closed
 * after that read (resolved by another process, or earlier in the same batch), a resolve that finds
 * neither an open signal nor its stored resolve. A repeat that stores no new text records no new
 * redaction.
 */
import type { SignalDraft } from '../domain/signal.js';
import type { StorageRedactor, StoredRedaction } from '../guardrails/stored.js';
import type { StoreScope } from '../store/store.js';
import { dedupKey } from './pipeline.js';

export type RedactedSignal = { draft: SignalDraft; redactions: StoredRedaction[] };

interface Redacted {
  /** The fingerprint and title as stored. */
  fingerprint: string;
  storedTitle: string;
  /** The title as received. */
  title: string;
}

/** Alerts remembered; past this, the oldest is forgotten (and redacted in full when it repeats). */
export const REMEMBERED_ALERTS = 20_000;

const STAND_INS = new WeakSet<SignalDraft>();

/** Whether `draft` is a repeat's stand-in, which carries no text but its fingerprint and title. */
export function isStandIn(draft: SignalDraft): boolean {
  return STAND_INS.has(draft);
}

export class RepeatRedaction {
  readonly #redactor: StorageRedactor;
  readonly #capacity: number;
  readonly #known = new Map<string, Redacted>();

  constructor(redactor: StorageRedactor, capacity = REMEMBERED_ALERTS) {
    this.#redactor = redactor;
    this.#capacity = capacity;
  }

  /**
   * The drafts redacted for storage, repeats of signals open now as stand-ins. In the writing
   * transaction; the read takes no lock, so ingestSignals checks each stand-in against the firing rows it
   * locks and asks `restore` for the whole draft when its signal is no longer open.
   */
  async redact(scope: StoreScope, drafts: readonly SignalDraft[]): Promise<RedactedSignal[]> {
    const known = drafts.map((draft) => this.#known.get(dedupKey(draft.source, draft.fingerprint)));
    // A resolve needs no open signal: it closes one, or counts on the resolve already stored.
    const keys = known.flatMap((entry, index) =>
      entry && drafts[index]!.status === 'firing' ? [dedupKey(drafts[index]!.source, entry.fingerprint)] : [],
    );
    const open = keys.length > 0 ? await scope.signals.openKeys(keys) : new Set<string>();
    return drafts.map((draft, index) => {
      const entry = known[index];
      if (
        entry &&
        (draft.status === 'resolved' ||
          (open.has(dedupKey(draft.source, entry.fingerprint)) &&
            (draft.acknowledged || draft.title === entry.title)))
      )
        return { draft: standIn(draft, entry), redactions: [] };
      return this.#full(draft);
    });
  }

  /**
   * The whole draft behind `standIn`, which must be stored as a new row after all, redacted in full. It
   * keeps the stand-in's fingerprint, the one its signal was stored under, so that the dedup key
   * ingestSignals computed from the stand-in still holds.
   */
  restore(draft: SignalDraft, standIn: SignalDraft): RedactedSignal {
    const redacted = this.#full(draft);
    if (redacted.draft.fingerprint !== standIn.fingerprint)
      redacted.draft = { ...redacted.draft, fingerprint: standIn.fingerprint };
    return redacted;
  }

  #full(draft: SignalDraft): RedactedSignal {
    const redacted = this.#redactor.signal(draft);
    this.#remember(draft, redacted.draft);
    return redacted;
  }

  #remember(received: SignalDraft, stored: SignalDraft): void {
    const key = dedupKey(received.source, received.fingerprint);
    this.#known.delete(key);
    this.#known.set(key, {
      fingerprint: stored.fingerprint,
      storedTitle: stored.title,
      title: received.title,
    });
    if (this.#known.size > this.#capacity) this.#known.delete(this.#known.keys().next().value!);
  }
}

function standIn(draft: SignalDraft, entry: Redacted): SignalDraft {
  const out: SignalDraft = {
    source: draft.source,
    fingerprint: entry.fingerprint,
    status: draft.status,
    severity: draft.severity,
    title: entry.storedTitle,
    // Never stored: a stand-in only updates a signal that is open (ingestSignals refuses to insert one).
    service: '',
    environment: '',
    labels: {},
    annotations: {},
    links: [],
  };
  if (draft.acknowledged !== undefined) out.acknowledged = draft.acknowledged;
  if (draft.startsAt !== undefined) out.startsAt = draft.startsAt;
  if (draft.endsAt !== undefined) out.endsAt = draft.endsAt;
  STAND_INS.add(out);
  return out;
}
