import type { Alarm, AlarmTransition } from '../types';
import { Badge, ErrorBox, formatTime, Loading, useApi } from '../ui';

/** Values are rates (0–1) or dollars depending on the alarm; the reason text names the unit. */
function formatValue(value: number | null): string {
  if (value === null) return '–';
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}

export function AlarmsPage() {
  const [alarms, reload] = useApi<{ alarms: Alarm[]; history: AlarmTransition[] }>('/v1/alarms?history=50');
  return (
    <section aria-labelledby="alarms-title">
      <h1 id="alarms-title">Alarms</h1>
      <p className="muted">
        OPX evaluates these on a schedule: guardrail violation rates, budget use, cost spikes and model-answer
        validation. Set <code>OPX_ALARM_WEBHOOK_URL</code> to be notified when one changes state
        (docs/operating.md).
      </p>
      {alarms.state === 'loading' ? <Loading what="alarms" /> : null}
      {alarms.state === 'error' ? <ErrorBox error={alarms.error} retry={reload} /> : null}
      {alarms.state === 'ok' ? (
        <>
          {alarms.value.alarms.length === 0 ? (
            <div className="empty">
              <h2>No alarm evaluated yet</h2>
              <p>
                <code>opx serve</code> evaluates the alarms shortly after it starts;{' '}
                <code>npx opx alarms</code> or <code>POST /v1/alarms/evaluate</code> (admin) evaluates them
                now.
              </p>
            </div>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Alarm</th>
                  <th scope="col">State</th>
                  <th scope="col">Reason</th>
                  <th scope="col" className="number">
                    Value
                  </th>
                  <th scope="col">Since</th>
                </tr>
              </thead>
              <tbody>
                {alarms.value.alarms.map((alarm) => (
                  <tr key={alarm.name}>
                    <th scope="row">{alarm.name}</th>
                    <td>
                      <Badge kind={`alarm-${alarm.state}`}>{alarm.state.replace(/_/g, ' ')}</Badge>
                    </td>
                    <td>{alarm.reason}</td>
                    <td className="number">{formatValue(alarm.value)}</td>
                    <td>{formatTime(alarm.updatedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>State changes</h2>
          {alarms.value.history.length === 0 ? (
            <p className="muted">No alarm has changed state yet.</p>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Alarm</th>
                  <th scope="col">Change</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {alarms.value.history.map((change) => (
                  <tr key={change.id}>
                    <td>{formatTime(change.at)}</td>
                    <td>{change.alarm}</td>
                    <td>
                      {change.from.replace(/_/g, ' ')} →{' '}
                      <Badge kind={`alarm-${change.to}`}>{change.to.replace(/_/g, ' ')}</Badge>
                    </td>
                    <td>{change.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      ) : null}
    </section>
  );
}
