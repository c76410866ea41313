/**
 * Where messages about incidents went (docs/notifications.md): the deliveries with their state and the
 * receiver's last answer, a redrive for a dead one (admin tokens only), and the channels and routes
 * that decide where messages go. Nothing here shows a channel's secret: the API never returns one.
 */
import { type ReactNode, useEffect, useState } from 'react';
import { call } from '../api';
import { cannotAdminister, type SessionState, useSession } from '../session';
import type { Channel, Delivery, DeliveryStatus, NotifyRoute } from '../types';
import {
  Badge,
  Chip,
  ErrorBox,
  formatTime,
  Link,
  Loading,
  navigate,
  once,
  useAction,
  useApi,
  useLocationSearch,
} from '../ui';

/** The status filter's choices, in the order shown; `all` is no filter. */
const STATUS_FILTERS = ['pending', 'dead', 'sent', 'skipped'] as const satisfies readonly DeliveryStatus[];
type StatusFilter = (typeof STATUS_FILTERS)[number];

const FILTER_LABELS: Record<StatusFilter, string> = {
  pending: 'pending (retrying)',
  dead: 'dead (failed)',
  sent: 'sent',
  skipped: 'skipped',
};

const PAGE = 100;
/** The most the API lists at once. */
const MOST = 1000;

/** The page's filters, as the address holds them: `?status=dead&limit=200`. */
export function deliveryFiltersOf(search: string): { status: StatusFilter | null; limit: number } {
  const params = new URLSearchParams(search);
  const status = STATUS_FILTERS.find((item) => item === params.get('status')) ?? null;
  const limit = Number(params.get('limit'));
  return {
    status,
    limit: Number.isInteger(limit) && limit >= PAGE ? Math.min(limit, MOST) : PAGE,
  };
}

function deliverySearchOf(filters: { status: StatusFilter | null; limit: number }): string {
  const parts: string[] = [];
  if (filters.status) parts.push(`status=${filters.status}`);
  if (filters.limit !== PAGE) parts.push(`limit=${filters.limit}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/** A pending delivery that has failed before is being retried; the badge says so. */
function statusText(delivery: Delivery): string {
  if (delivery.status === 'pending' && delivery.attempts > 0) return 'pending (retrying)';
  return delivery.status;
}

/** The redrive control of one row, with the API's refusal kept beside it. */
function Redrive({
  delivery,
  denied,
  onRefreshed,
}: {
  delivery: Delivery;
  denied: string | undefined;
  onRefreshed(delivery: Delivery): void;
}) {
  const action = useAction();
  const refresh = async () => {
    const { notice: _notice, ...fresh } = await call((opx) => opx.delivery(delivery.id));
    onRefreshed(fresh);
  };
  return (
    <>
      {delivery.status === 'dead' ? (
        <button
          type="button"
          disabled={Boolean(denied) || action.busy}
          title={denied ?? 'Send this delivery again with a fresh set of attempts'}
          onClick={() =>
            void action
              .run(() => call((opx) => opx.redrive(delivery.id, once())).then(() => undefined))
              // Refused or not, the row shows the delivery as it is now.
              .then(() => refresh().catch(() => undefined))
          }
        >
          Redrive
        </button>
      ) : null}
      {action.error ? <ErrorBox error={action.error} /> : null}
    </>
  );
}

/** How often the list is read again while a delivery on it is still pending. */
const PENDING_REFRESH_MS = 5000;

/**
 * Deliveries as a table, newest first; dead ones marked and their last error shown. A row redriven
 * here is fetched again at once; while any row is pending the list is read again (`reload`) every
 * few seconds, so a retry's outcome shows without a click.
 */
export function DeliveryTable({
  items,
  reload,
  session,
  showIncident,
  caption,
}: {
  items: Delivery[];
  reload(): void;
  session: SessionState;
  showIncident: boolean;
  caption: string;
}) {
  const denied = cannotAdminister(session);
  // Rows fetched again after a redrive, until the next load of the list brings fresher ones.
  const [refreshed, setRefreshed] = useState<Record<string, Delivery>>({});
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new list is the trigger.
  useEffect(() => setRefreshed({}), [items]);
  const rows = items.map((item) => refreshed[item.id] ?? item);
  const pending = rows.some((row) => row.status === 'pending');
  useEffect(() => {
    if (!pending) return;
    const timer = setInterval(reload, PENDING_REFRESH_MS);
    return () => clearInterval(timer);
  }, [pending, reload]);
  return (
    // Scrolls sideways on its own on a phone; focusable, so the keyboard can scroll it too.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard.
    <section className="table-scroll" aria-label={`${caption} table`} tabIndex={0}>
      <table className="table deliveries">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            {showIncident ? <th scope="col">Incident</th> : null}
            <th scope="col">Event</th>
            <th scope="col">Channel</th>
            <th scope="col">Status</th>
            <th scope="col" className="number">
              Attempts
            </th>
            <th scope="col">Last error</th>
            <th scope="col">Next attempt</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((delivery) => {
            return (
              <tr
                key={delivery.id}
                className={`delivery delivery-${delivery.status}`}
                data-delivery={delivery.id}
              >
                <td>
                  {formatTime(delivery.createdAt)}
                  <div className="muted small">{delivery.id}</div>
                </td>
                {showIncident ? (
                  <td>
                    {delivery.incidentId ? (
                      <Link to={`/incidents/${encodeURIComponent(delivery.incidentId)}`}>
                        {delivery.title ?? delivery.incidentId}
                      </Link>
                    ) : (
                      <span className="muted">a test message</span>
                    )}
                  </td>
                ) : null}
                <td>{delivery.event.replace(/_/g, ' ')}</td>
                <td>
                  {delivery.channelName ? (
                    <span>{delivery.channelName}</span>
                  ) : (
                    <span className="muted">deleted channel</span>
                  )}
                  {delivery.channelType ? <div className="muted small">{delivery.channelType}</div> : null}
                </td>
                <td>
                  <Badge kind={`delivery-${delivery.status}`}>{statusText(delivery)}</Badge>
                  {delivery.finishedAt ? (
                    <div className="muted small">{formatTime(delivery.finishedAt)}</div>
                  ) : null}
                </td>
                <td className="number">{delivery.attempts}</td>
                <td className="delivery-error">
                  {delivery.lastError ?? (delivery.detail ? delivery.detail : '–')}
                </td>
                <td>{delivery.status === 'pending' ? formatTime(delivery.nextAttemptAt) : '–'}</td>
                <td>
                  <Redrive
                    delivery={delivery}
                    denied={denied}
                    onRefreshed={(fresh) => setRefreshed((rows) => ({ ...rows, [fresh.id]: fresh }))}
                  />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

function matchText(route: NotifyRoute): string {
  const { services, severities, environments, labels } = route.match;
  const parts = [
    services?.length ? `services ${services.join(', ')}` : '',
    severities?.length ? `severities ${severities.join(', ')}` : '',
    environments?.length ? `environments ${environments.join(', ')}` : '',
    labels && Object.keys(labels).length
      ? `labels ${Object.entries(labels)
          .map(([key, value]) => `${key}=${value}`)
          .join(', ')}`
      : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'every incident';
}

function settingsText(channel: Channel): string {
  const parts = Object.entries(channel.settings)
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(', ') : String(value)}`);
  return parts.length ? parts.join(' · ') : '–';
}

/** A read-only list from the API as a panel: its heading, a line of help, and a table or an empty note. */
function ListPanel<T extends { id: string }>({
  id,
  title,
  help,
  route,
  empty,
  columns,
  row,
}: {
  id: string;
  title: string;
  help: string;
  route: string;
  empty: ReactNode;
  columns: string[];
  row(item: T): ReactNode;
}) {
  const [list, reload] = useApi<{ items: T[] }>(route);
  return (
    <section aria-labelledby={id} className="panel">
      <h2 id={id}>{title}</h2>
      <p className="muted small">{help}</p>
      {list.state === 'loading' ? <Loading what={`the ${title.toLowerCase()}`} /> : null}
      {list.state === 'error' ? <ErrorBox error={list.error} retry={reload} /> : null}
      {list.state === 'ok' && list.value.items.length === 0 ? <p className="muted">{empty}</p> : null}
      {list.state === 'ok' && list.value.items.length > 0 ? (
        <table className="table">
          <caption className="visually-hidden">Notification {title.toLowerCase()}</caption>
          <thead>
            <tr>
              {columns.map((column) => (
                <th key={column} scope="col">
                  {column}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {list.value.items.map((item) => (
              <tr key={item.id}>{row(item)}</tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function Channels() {
  return (
    <ListPanel<Channel>
      id="channels-title"
      title="Channels"
      help="Where messages can go. Secrets (webhook URLs, keys) are never shown."
      route="/v1/notifications/channels"
      empty={
        <>
          No channels yet: add one with <code>opx notify import</code> (docs/notifications.md).
        </>
      }
      columns={['Name', 'Type', 'Settings']}
      row={(channel) => (
        <>
          <th scope="row">{channel.name}</th>
          <td>{channel.type}</td>
          <td className="small">{settingsText(channel)}</td>
        </>
      )}
    />
  );
}

function Routes() {
  return (
    <ListPanel<NotifyRoute>
      id="routes-title"
      title="Routes"
      help="Which incidents go to which channels; a channel named twice hears once."
      route="/v1/notifications/routes"
      empty="No routes yet: no incident is sent anywhere."
      columns={['Name', 'Enabled', 'Matches', 'Events', 'Channels']}
      row={(route) => (
        <>
          <th scope="row">{route.name}</th>
          <td>{route.enabled ? 'yes' : 'no'}</td>
          <td className="small">{matchText(route)}</td>
          <td className="small">{route.events.map((event) => event.replace(/_/g, ' ')).join(', ')}</td>
          <td>{route.channels.join(', ')}</td>
        </>
      )}
    />
  );
}

export function NotificationsPage() {
  const search = useLocationSearch();
  const filters = deliveryFiltersOf(search);
  const session = useSession();
  const query = new URLSearchParams({ limit: String(filters.limit) });
  if (filters.status) query.set('status', filters.status);
  const [deliveries, reload] = useApi<{ items: Delivery[] }>(`/v1/notifications/deliveries?${query}`);
  const items = deliveries.state === 'ok' ? deliveries.value.items : [];
  const apply = (next: Partial<typeof filters>) => {
    const target = `${window.location.pathname}${deliverySearchOf({ ...filters, ...next })}`;
    if (target !== `${window.location.pathname}${window.location.search}`) navigate(target);
  };
  const denied = cannotAdminister(session);

  return (
    <section aria-labelledby="notifications-title">
      <h1 id="notifications-title">Notifications</h1>
      <p className="muted">
        Every message OPX sent or is sending about an incident, newest first. A delivery that failed on every
        attempt (or was refused for good) is dead: the receiver's last answer is beside it.{' '}
        {denied
          ? `Redrive is disabled: ${denied}.`
          : 'Redrive sends a dead delivery again with fresh attempts.'}
      </p>
      <div className="filters">
        <fieldset className="chips">
          <legend>Status</legend>
          <Chip pressed={filters.status === null} onClick={() => apply({ status: null, limit: PAGE })}>
            all
          </Chip>
          {STATUS_FILTERS.map((status) => (
            <Chip
              key={status}
              pressed={filters.status === status}
              onClick={() => apply({ status, limit: PAGE })}
            >
              {FILTER_LABELS[status]}
            </Chip>
          ))}
        </fieldset>
        <button type="button" className="secondary" onClick={reload}>
          Refresh
        </button>
      </div>
      {deliveries.state === 'loading' ? <Loading what="the deliveries" /> : null}
      {deliveries.state === 'error' ? <ErrorBox error={deliveries.error} retry={reload} /> : null}
      {deliveries.state === 'ok' && items.length === 0 ? (
        <div className="empty">
          <h2>{filters.status ? `No ${filters.status} deliveries` : 'No deliveries yet'}</h2>
          <p>
            {filters.status
              ? 'Pick another status to see more.'
              : 'A delivery is made when an incident matches a route below.'}
          </p>
        </div>
      ) : null}
      {items.length > 0 ? (
        <>
          <output className="visually-hidden">
            {items.length} deliver{items.length === 1 ? 'y' : 'ies'} shown
          </output>
          <DeliveryTable
            items={items}
            reload={reload}
            session={session}
            showIncident
            caption="Deliveries, newest first"
          />
        </>
      ) : null}
      {items.length === filters.limit ? (
        <p className="muted">
          Showing the newest {filters.limit}.{' '}
          {filters.limit < MOST ? (
            <button
              type="button"
              className="link-button"
              onClick={() => apply({ limit: Math.min(filters.limit + PAGE, MOST) })}
            >
              Show {Math.min(PAGE, MOST - filters.limit)} more
            </button>
          ) : (
            <>
              For older ones, filter by status or use <code>opx notify deliveries</code>.
            </>
          )}
        </p>
      ) : null}
      <div className="columns">
        <Channels />
        <Routes />
      </div>
    </section>
  );
}

/** The incident page's list of its own deliveries. */
export function IncidentNotifications({ incidentId, version }: { incidentId: string; version: number }) {
  const session = useSession();
  const [deliveries, reload] = useApi<{ items: Delivery[] }>(
    `/v1/notifications/deliveries?incidentId=${encodeURIComponent(incidentId)}&limit=${PAGE}`,
    version,
  );
  const items = deliveries.state === 'ok' ? deliveries.value.items : [];
  return (
    <section aria-labelledby="incident-notifications-title" className="panel">
      <h2 id="incident-notifications-title">Notifications</h2>
      {deliveries.state === 'error' ? <ErrorBox error={deliveries.error} retry={reload} /> : null}
      {deliveries.state === 'ok' && items.length === 0 ? (
        <p className="muted">
          No messages about this incident: no route selects it, or its first message is not due yet.
        </p>
      ) : null}
      {items.length > 0 ? (
        <DeliveryTable
          items={items}
          reload={reload}
          session={session}
          showIncident={false}
          caption="Notifications about this incident"
        />
      ) : null}
      <p className="small">
        <Link to="/notifications">All notifications, channels and routes</Link>
      </p>
    </section>
  );
}
