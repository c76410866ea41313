/**
 * Merge and split by hand (docs/api.md, "One outage, one incident"): when correlation kept apart what
 * is one outage, or joined what is not. Each is recorded on both incidents' timelines with the
 * token's name and the reason, and a signal moved by hand stays where it was put.
 */
import { useState } from 'react';
import { call } from '../api';
import { cannotRespond, type SessionState } from '../session';
import type { Incident, Signal } from '../types';
import { ErrorBox, Fold, Link, useAction } from '../ui';
import { Field } from './respond';

/** A one-line text box with its label. */
function TextField({
  id,
  label,
  maxLength,
  value,
  onChange,
  placeholder,
}: {
  id: string;
  label: string;
  maxLength: number;
  value: string;
  onChange(value: string): void;
  placeholder?: string;
}) {
  return (
    <Field id={id} label={label}>
      <input
        id={id}
        type="text"
        autoComplete="off"
        placeholder={placeholder}
        maxLength={maxLength}
        value={value}
        onChange={(event) => onChange(event.target.value)}
      />
    </Field>
  );
}

/** Why this incident cannot be merged or split now; undefined when it can. */
function regroupForbids(incident: Incident, session: SessionState): string | undefined {
  if (incident.mergedInto) return `merged into ${incident.mergedInto} already`;
  if (incident.status === 'CLOSED') return 'a CLOSED incident is final';
  return cannotRespond(session);
}

export function RegroupPanel({
  incident,
  signals,
  session,
  onChanged,
}: {
  incident: Incident;
  signals: Signal[];
  session: SessionState;
  onChanged(incident: Incident | null): void;
}) {
  const forbids = regroupForbids(incident, session);
  const merge = useAction();
  const split = useAction();
  const [into, setInto] = useState('');
  const [mergeReason, setMergeReason] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [splitTitle, setSplitTitle] = useState('');
  const [splitReason, setSplitReason] = useState('');
  const [splitOff, setSplitOff] = useState<Incident | null>(null);
  const choose = (id: string, on: boolean) =>
    setChosen((current) => (on ? [...current, id] : current.filter((item) => item !== id)));
  // All of an incident's signals cannot leave it: that is a merge, not a split.
  const splitForbids =
    forbids ??
    (chosen.length === 0
      ? 'choose the signals that belong to another outage'
      : chosen.length >= signals.length
        ? 'leave at least one signal here; to move them all, merge instead'
        : undefined);

  return (
    <Fold
      id="regroup-title"
      title="Merge or split"
      note={forbids ? `not now: ${forbids}` : 'when correlation grouped this outage wrongly'}
    >
      <div className="respond-grid">
        <form
          className="respond-form"
          aria-labelledby="merge-title"
          onSubmit={(event) => {
            event.preventDefault();
            if (!into.trim() || !mergeReason.trim()) {
              merge.setError(
                new Error('name the incident to merge into and say why: both go on the timelines'),
              );
              return;
            }
            void merge
              .run(async () => {
                // A resent merge is refused (the incident is merged already), so no key is needed.
                const answer = await call((opx) =>
                  opx.merge(incident.id, { into: into.trim(), reason: mergeReason.trim() }),
                );
                onChanged(answer.merged);
              })
              .then((done) => {
                if (done) setMergeReason('');
              });
          }}
        >
          <h3 id="merge-title">Merge into another incident</h3>
          <p className="muted small">
            This incident's signals move there and it closes as merged, with a link to it.
          </p>
          <TextField
            id="merge-into"
            label="Incident id"
            maxLength={100}
            value={into}
            onChange={setInto}
            placeholder="inc_…"
          />
          <TextField
            id="merge-reason"
            label="Reason (required)"
            maxLength={2000}
            value={mergeReason}
            onChange={setMergeReason}
          />
          <div>
            <button
              type="submit"
              disabled={Boolean(forbids) || merge.busy}
              title={forbids ?? 'Merge: recorded on both timelines with your reason'}
            >
              Merge
            </button>
          </div>
          {merge.error ? <ErrorBox error={merge.error} /> : null}
        </form>

        <form
          className="respond-form"
          aria-labelledby="split-title"
          onSubmit={(event) => {
            event.preventDefault();
            if (!splitReason.trim()) {
              split.setError(new Error("say why: the reason goes on both incidents' timelines"));
              return;
            }
            void split
              .run(async () => {
                const answer = await call((opx) =>
                  opx.split(incident.id, {
                    signalIds: chosen,
                    reason: splitReason.trim(),
                    ...(splitTitle.trim() ? { title: splitTitle.trim() } : {}),
                  }),
                );
                setSplitOff(answer.split);
                onChanged(answer.incident);
              })
              .then((done) => {
                if (done) {
                  setChosen([]);
                  setSplitReason('');
                  setSplitTitle('');
                }
              });
          }}
        >
          <h3 id="split-title">Split signals off into a new incident</h3>
          <fieldset className="split-signals">
            <legend className="small">Signals that belong to another outage</legend>
            {signals.map((signal) => (
              <label key={signal.id} className="small">
                <input
                  type="checkbox"
                  checked={chosen.includes(signal.id)}
                  onChange={(event) => choose(signal.id, event.target.checked)}
                />{' '}
                {signal.service}: {signal.title}
              </label>
            ))}
          </fieldset>
          <TextField
            id="split-title-text"
            label="Title of the new incident (optional)"
            maxLength={500}
            value={splitTitle}
            onChange={setSplitTitle}
          />
          <TextField
            id="split-reason"
            label="Reason (required)"
            maxLength={2000}
            value={splitReason}
            onChange={setSplitReason}
          />
          <div>
            <button
              type="submit"
              disabled={Boolean(splitForbids) || split.busy}
              title={splitForbids ?? 'Split: the chosen signals open a new incident'}
            >
              Split
            </button>
          </div>
          {split.error ? <ErrorBox error={split.error} /> : null}
          {splitOff ? (
            <p role="status">
              Split off into{' '}
              <Link to={`/incidents/${encodeURIComponent(splitOff.id)}`}>{splitOff.title}</Link>.
            </p>
          ) : null}
        </form>
      </div>
    </Fold>
  );
}
