import { useState } from 'react';
import type { TokenReport, Usage } from '../types';
import { CodeBlock, ErrorBox, formatCount, formatTime, formatUsd, Loading, useApi } from '../ui';

/** A share as a percentage; a spend too small to show at two decimals still reads as more than nothing. */
function percentOf(fraction: number): string {
  if (fraction > 0 && fraction < 0.0001) return '<0.01%';
  return `${(fraction * 100).toFixed(fraction < 0.1 ? 2 : 0)}%`;
}

/** A half-circle gauge of the month's spend against the budget; the numbers beside it say the same. */
function BudgetGauge({ budget }: { budget: TokenReport['budget'] }) {
  const fraction = Math.max(0, Math.min(1, budget.fraction));
  // The arc runs from 180° (left) to 0° (right) on a circle of radius 80 centred at (100, 100).
  const angle = Math.PI * (1 - fraction);
  const x = 100 + 80 * Math.cos(angle);
  const y = 100 - 80 * Math.sin(angle);
  const level = budget.fraction >= 0.95 ? 'critical' : budget.fraction >= 0.8 ? 'warning' : 'ok';
  return (
    <figure className="gauge">
      {/* The meter is what assistive technology reads; the drawing is for the eye. */}
      <meter
        className="visually-hidden"
        min={0}
        max={budget.budgetUsd}
        low={budget.budgetUsd * 0.8}
        high={budget.budgetUsd * 0.95}
        optimum={0}
        value={budget.spentUsd}
        aria-label={`Spent ${formatUsd(budget.spentUsd)} of the ${formatUsd(budget.budgetUsd)} monthly budget`}
      />
      <svg viewBox="0 0 200 120" aria-hidden="true">
        <path d="M 20 100 A 80 80 0 0 1 180 100" className="gauge-track" />
        {fraction > 0 ? (
          <path
            d={`M 20 100 A 80 80 0 0 1 ${x.toFixed(2)} ${y.toFixed(2)}`}
            className={`gauge-fill gauge-${level}`}
          />
        ) : null}
        <text x="100" y="92" textAnchor="middle" className="gauge-text">
          {percentOf(budget.fraction)}
        </text>
      </svg>
      <figcaption>
        {formatUsd(budget.spentUsd)} of {formatUsd(budget.budgetUsd)} this month (since{' '}
        {formatTime(budget.monthStart).slice(0, 10)}). Alarms at 80% and 95%
        {budget.hardCap ? '; model calls stop at 100% (hard cap)' : ''}.
      </figcaption>
    </figure>
  );
}

const DAY_MS = 86_400_000;

/**
 * Cost per UTC day over the whole period, days without model calls drawn as empty slots, so the
 * bars keep their place in time.
 */
function DayChart({ report }: { report: TokenReport }) {
  const costs = new Map(report.byDay.map((row) => [row.day, row.costUsd]));
  const first = Math.floor(Date.parse(report.since) / DAY_MS);
  const last = Math.floor((Date.parse(report.until) - 1) / DAY_MS);
  const days: { day: string; costUsd: number }[] = [];
  for (let day = first; day <= last; day += 1) {
    const name = new Date(day * DAY_MS).toISOString().slice(0, 10);
    days.push({ day: name, costUsd: costs.get(name) ?? 0 });
  }
  const max = Math.max(...days.map((day) => day.costUsd), 0);
  if (days.length === 0 || max === 0) return null;
  const width = 640;
  const height = 140;
  const slot = width / days.length;
  const labelEvery = Math.ceil(days.length / 10);
  return (
    <svg className="chart" viewBox={`0 -16 ${width} ${height + 34}`} aria-hidden="true">
      <line x1={0} x2={width} y1={height} y2={height} className="chart-axis" />
      {days.map((day, index) => {
        const barHeight = (day.costUsd / max) * height;
        const x = index * slot + slot * 0.15;
        return (
          <g key={day.day}>
            {day.costUsd > 0 ? (
              <>
                <rect
                  x={x}
                  y={height - barHeight}
                  width={slot * 0.7}
                  height={barHeight}
                  className="chart-bar"
                />
                <text
                  x={x + slot * 0.35}
                  y={height - barHeight - 4}
                  textAnchor="middle"
                  className="chart-label"
                >
                  {formatUsd(day.costUsd)}
                </text>
              </>
            ) : null}
            {index % labelEvery === 0 || index === days.length - 1 ? (
              <text x={x + slot * 0.35} y={height + 14} textAnchor="middle" className="chart-label">
                {day.day.slice(5)}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}

function UsageTable({ rows, label, keyOf }: { rows: Usage[]; label: string; keyOf(row: Usage): string }) {
  return (
    <table className="table">
      <thead>
        <tr>
          <th scope="col">{label}</th>
          <th scope="col" className="number">
            Calls
          </th>
          <th scope="col" className="number">
            Input tokens
          </th>
          <th scope="col" className="number">
            Cached input
          </th>
          <th scope="col" className="number">
            Output tokens
          </th>
          <th scope="col" className="number">
            Cost (USD)
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={keyOf(row)}>
            <th scope="row">{keyOf(row)}</th>
            <td className="number">{formatCount(row.calls)}</td>
            <td className="number">{formatCount(row.inputTokens)}</td>
            <td className="number">{formatCount(row.cacheReadTokens)}</td>
            <td className="number">{formatCount(row.outputTokens)}</td>
            <td className="number">{formatUsd(row.costUsd)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function CostsPage() {
  const [days, setDays] = useState(30);
  const [report, reload] = useApi<TokenReport>(`/v1/analytics/tokens?days=${days}`);
  return (
    <section aria-labelledby="costs-title">
      <h1 id="costs-title">Model cost</h1>
      <p>
        <label>
          Period{' '}
          <select value={days} onChange={(event) => setDays(Number(event.target.value))}>
            <option value={1}>today</option>
            <option value={7}>last 7 days</option>
            <option value={30}>last 30 days</option>
            <option value={90}>last 90 days</option>
          </select>
        </label>
      </p>
      {report.state === 'loading' ? <Loading what="costs" /> : null}
      {report.state === 'error' ? <ErrorBox error={report.error} retry={reload} /> : null}
      {report.state === 'ok' ? (
        <>
          <div className="columns">
            <section className="panel" aria-labelledby="budget-title">
              <h2 id="budget-title">Monthly budget</h2>
              <BudgetGauge budget={report.value.budget} />
            </section>
            <section className="panel" aria-labelledby="total-title">
              <h2 id="total-title">
                {formatTime(report.value.since).slice(0, 10)} to {formatTime(report.value.until).slice(0, 10)}
              </h2>
              <dl className="facts">
                <dt>Cost</dt>
                <dd>{formatUsd(report.value.total.costUsd)}</dd>
                <dt>Model calls</dt>
                <dd>{formatCount(report.value.total.calls)}</dd>
                <dt>Tokens in / out</dt>
                <dd>
                  {formatCount(report.value.total.inputTokens)} /{' '}
                  {formatCount(report.value.total.outputTokens)}
                </dd>
                <dt>Investigations that called a model</dt>
                <dd>
                  {formatCount(report.value.investigations.count)}
                  {report.value.investigations.count > 0
                    ? ` (mean ${formatUsd(report.value.investigations.meanUsd)}, max ${formatUsd(report.value.investigations.maxUsd)})`
                    : ''}
                </dd>
                {report.value.total.unknownTokenCalls + report.value.total.unpricedCalls > 0 ? (
                  <>
                    <dt>Not counted</dt>
                    <dd>
                      {report.value.total.unknownTokenCalls} calls without token counts,{' '}
                      {report.value.total.unpricedCalls} without a price (OPX_LLM_PRICES)
                    </dd>
                  </>
                ) : null}
              </dl>
            </section>
          </div>
          {report.value.total.calls === 0 ? (
            <div className="empty">
              <h2>No model calls in this period</h2>
              <p>
                The agents run on the deterministic engine unless a language model is configured, and that
                costs nothing. Set <code>OPX_LLM_PROVIDER</code> (<code>anthropic</code>, <code>bedrock</code>{' '}
                or <code>openai-compatible</code>) to have them refine their findings; every call is then
                counted here. To try it with no key:
              </p>
              <CodeBlock label="try LLM mode with the stand-in model">
                {`npx opx fake-llm &
OPX_LLM_PROVIDER=openai-compatible OPX_LLM_BASE_URL=http://127.0.0.1:8765/v1 OPX_LLM_MODEL=gpt-4.1-mini npx opx serve`}
              </CodeBlock>
            </div>
          ) : (
            <>
              <section aria-labelledby="day-title">
                <h2 id="day-title">Cost per day</h2>
                <DayChart report={report.value} />
                <UsageTable rows={report.value.byDay} label="Day (UTC)" keyOf={(row) => row.day ?? '?'} />
              </section>
              <div className="columns">
                <section aria-labelledby="agent-title">
                  <h2 id="agent-title">Per agent</h2>
                  <UsageTable
                    rows={report.value.byAgent}
                    label="Agent"
                    keyOf={(row) => row.agent ?? '(no agent)'}
                  />
                </section>
                <section aria-labelledby="model-title">
                  <h2 id="model-title">Per model</h2>
                  <UsageTable rows={report.value.byModel} label="Model" keyOf={(row) => row.model ?? '?'} />
                </section>
              </div>
            </>
          )}
        </>
      ) : null}
    </section>
  );
}
