/**
 * Running the incident from its page: the lifecycle moves, severity with a reason, and notes. Each
 * control is disabled, with a title saying why, when the lifecycle (src/domain/lifecycle.ts, the table
 * the server checks) forbids the move or the token lacks `respond`; the API's refusal, if it still
 * comes, is shown in words next to the control that sent it.
 */
import { type ReactNode, useEffect, useState } from 'react';
import { canTransition } from '../../../src/domain/lifecycle';
import { call } from '../api';
import { cannotRespond, type SessionState } from '../session';
import { type Incident, type IncidentSeverity, type IncidentStatus, SEVERITIES } from '../types';
import { ErrorBox, once, useAction } from '../ui';

type Verb = 'acknowledge' | 'mitigate' | 'resolve' | 'close' | 'reopen';

const MOVES: { verb: Verb; to: IncidentStatus; label: string }[] = [
  { verb: 'acknowledge', to: 'ACKNOWLEDGED', label: 'Acknowledge' },
  { verb: 'mitigate', to: 'MITIGATED', label: 'Mitigate' },
  { verb: 'close', to: 'CLOSED', label: 'Close' },
  { verb: 'reopen', to: 'OPEN', label: 'Reopen' },
];

/** Why `incident` cannot make the move to `to` now; undefined when it can. */
export function lifecycleForbids(incident: Incident, verb: Verb, to: IncidentStatus): string | undefined {
  const from = incident.status;
  if (from === 'CLOSED') return 'a CLOSED incident is final';
  // The lifecycle also lets the investigation put an INVESTIGATING incident back to OPEN; by hand,
  // re-opening is for a resolved incident.
  if (verb === 'reopen' && from !== 'RESOLVED')
    return `only a RESOLVED incident re-opens; this one is ${from}`;
  if (from === to) return `the incident is ${from} already`;
  if (!canTransition(from, to)) return `the lifecycle does not allow ${from} → ${to}`;
  return undefined;
}

export function Field({ id, label, children }: { id: string; label: string; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
    </div>
  );
}

export function RespondPanel({
  incident,
  session,
  onChanged,
}: {
  incident: Incident;
  session: SessionState;
  /** Called after a write with the incident as the API answered it (null when the answer has none). */
  onChanged(incident: Incident | null): void;
}) {
  const denied = cannotRespond(session);
  const id = incident.id;

  const moves = useAction();
  const resolve = useAction();
  const severity = useAction();
  const note = useAction();
  const [rootCause, setRootCause] = useState('');
  const [resolution, setResolution] = useState('');
  const [newSeverity, setNewSeverity] = useState<IncidentSeverity>(incident.severity);
  const [severityReason, setSeverityReason] = useState('');
  const [noteText, setNoteText] = useState('');
  // A change made elsewhere (another console, the CLI) moves the picker to the new severity.
  useEffect(() => setNewSeverity(incident.severity), [incident.severity]);

  const why = (verb: Verb, to: IncidentStatus) => denied ?? lifecycleForbids(incident, verb, to);
  const resolveWhy = why('resolve', 'RESOLVED');
  const severityWhy =
    denied ?? (incident.status === 'CLOSED' ? "a CLOSED incident's severity is final" : undefined);
  const allowed = MOVES.filter((move) => !why(move.verb, move.to)).map((move) => move.label.toLowerCase());
  if (!resolveWhy) allowed.push('resolve');

  return (
    <section aria-labelledby="respond-title" className="panel respond">
      <h2 id="respond-title">Run the incident</h2>
      <p className="muted small" id="respond-help">
        {denied
          ? `Read only: ${denied}.`
          : incident.status === 'CLOSED'
            ? 'CLOSED is final: only notes can still be added.'
            : `${incident.status}: you can ${allowed.join(', ') || 'add notes'}. Every move goes on the timeline with your token's name.`}
      </p>

      <fieldset className="respond-moves">
        <legend className="visually-hidden">Status</legend>
        {MOVES.map((move) => {
          const reason = why(move.verb, move.to);
          return (
            <button
              key={move.verb}
              type="button"
              className={move.verb === 'close' || move.verb === 'reopen' ? 'secondary' : undefined}
              disabled={Boolean(reason) || moves.busy}
              title={reason ?? `${move.label}: ${incident.status} → ${move.to}`}
              onClick={() =>
                void moves.run(async () => {
                  const answer = await call((opx) => opx.transition(id, move.verb, {}, once()));
                  onChanged(answer.incident);
                })
              }
            >
              {move.label}
            </button>
          );
        })}
      </fieldset>
      {moves.error ? <ErrorBox error={moves.error} /> : null}

      <div className="respond-grid">
        <form
          className="respond-form"
          aria-labelledby="resolve-title"
          onSubmit={(event) => {
            event.preventDefault();
            void resolve
              .run(async () => {
                const body = {
                  ...(rootCause.trim() ? { rootCause: rootCause.trim() } : {}),
                  ...(resolution.trim() ? { resolution: resolution.trim() } : {}),
                };
                const answer = await call((opx) => opx.transition(id, 'resolve', body, once()));
                onChanged(answer.incident);
              })
              .then((done) => {
                if (done) {
                  setRootCause('');
                  setResolution('');
                }
              });
          }}
        >
          <h3 id="resolve-title">Resolve</h3>
          <Field id="resolve-root-cause" label="Root cause">
            <textarea
              id="resolve-root-cause"
              rows={2}
              maxLength={5000}
              value={rootCause}
              onChange={(event) => setRootCause(event.target.value)}
            />
          </Field>
          <Field id="resolve-resolution" label="Resolution">
            <textarea
              id="resolve-resolution"
              rows={2}
              maxLength={5000}
              value={resolution}
              onChange={(event) => setResolution(event.target.value)}
            />
          </Field>
          <div>
            <button
              type="submit"
              disabled={Boolean(resolveWhy) || resolve.busy}
              title={
                resolveWhy ?? `Resolve: ${incident.status} → RESOLVED, with the root cause and resolution`
              }
            >
              Resolve
            </button>
          </div>
          {resolve.error ? <ErrorBox error={resolve.error} /> : null}
        </form>

        <form
          className="respond-form"
          aria-labelledby="severity-title"
          onSubmit={(event) => {
            event.preventDefault();
            if (newSeverity === incident.severity) {
              severity.setError(
                new Error(`the incident is ${incident.severity} already; pick another severity`),
              );
              return;
            }
            if (!severityReason.trim()) {
              severity.setError(new Error("write a reason: it is recorded on the incident's timeline"));
              document.getElementById('severity-reason')?.focus();
              return;
            }
            void severity
              .run(async () => {
                const answer = await call((opx) =>
                  opx.setSeverity(id, newSeverity, severityReason.trim(), once()),
                );
                onChanged(answer.incident);
              })
              .then((done) => {
                if (done) setSeverityReason('');
              });
          }}
        >
          <h3 id="severity-title">Severity</h3>
          <div className="respond-row">
            <Field id="severity-new" label="New severity">
              <select
                id="severity-new"
                value={newSeverity}
                onChange={(event) => setNewSeverity(event.target.value as IncidentSeverity)}
              >
                {SEVERITIES.map((item) => (
                  <option key={item} value={item}>
                    {item}
                    {item === incident.severity ? ' (now)' : ''}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="severity-reason" label="Reason (required)">
              <input
                id="severity-reason"
                type="text"
                maxLength={2000}
                autoComplete="off"
                value={severityReason}
                onChange={(event) => setSeverityReason(event.target.value)}
              />
            </Field>
          </div>
          <div>
            <button
              type="submit"
              disabled={Boolean(severityWhy) || severity.busy}
              title={severityWhy ?? 'Change the severity; the reason goes on the timeline'}
            >
              Change severity
            </button>
          </div>
          {severity.error ? <ErrorBox error={severity.error} /> : null}
        </form>

        <form
          className="respond-form"
          aria-labelledby="note-title"
          onSubmit={(event) => {
            event.preventDefault();
            if (!noteText.trim()) {
              note.setError(new Error('write the note first'));
              document.getElementById('note-text')?.focus();
              return;
            }
            void note
              .run(async () => {
                await call((opx) => opx.addNote(id, noteText.trim(), once()));
                onChanged(null);
              })
              .then((done) => {
                if (done) setNoteText('');
              });
          }}
        >
          <h3 id="note-title">Note</h3>
          <Field id="note-text" label="Note for the timeline">
            <textarea
              id="note-text"
              rows={2}
              maxLength={10000}
              value={noteText}
              onChange={(event) => setNoteText(event.target.value)}
            />
          </Field>
          <div>
            <button
              type="submit"
              disabled={Boolean(denied) || note.busy}
              title={denied ?? 'Add the note to the timeline (stored encrypted)'}
            >
              Add note
            </button>
          </div>
          {note.error ? <ErrorBox error={note.error} /> : null}
        </form>
      </div>
    </section>
  );
}
