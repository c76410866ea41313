import type { Selectable } from 'kysely';
import { INCIDENT_SEVERITIES, type IncidentSeverity, newId } from '../../domain/common.js';
import { OpxError } from '../../domain/errors.js';
import type { IncidentEvent } from '../../domain/incident.js';
import { NOTIFY_DELIVER_JOB, NOTIFY_DISPATCH_JOB } from '../../domain/jobs.js';
import type {
  Channel,
  ChannelInput,
  ChannelType,
  ChannelView,
  DeliveryRecord,
  DeliveryStatus,
  Notice,
  NoticeEvent,
  NotifyEvent,
  Route,
  RouteInput,
} from '../../domain/notification.js';
import type { NotificationChannelsTable, NotificationRoutesTable } from '../schema.js';
import { fromJson, type RepositoryContext, seal, toJson, unseal } from './base.js';
import { jobRepository } from './jobs.js';

export type { DeliveryStatus } from '../../domain/notification.js';

export interface Delivery extends DeliveryRecord<number> {
  key: string;
  notice: Notice;
}

/** The dispatch job's dedup key for an incident's first message: the investigation's answer pulls it forward. */
export function openedDispatchKey(incidentId: string): string {
  return `notify:${incidentId}:opened`;
}

const SEVERITY_ORDER = (severity: unknown): number =>
  INCIDENT_SEVERITIES.indexOf(severity as IncidentSeverity);

/**
 * What an incident event means for notifications: the event receivers are told of, `pull` for an
 * investigation's answer (the first message need not wait longer), or nothing.
 */
export function notifiable(event: Pick<IncidentEvent, 'type' | 'data'>): NotifyEvent | 'pull' | undefined {
  switch (event.type) {
    case 'created':
    case 'reopened':
      return 'opened';
    case 'status_changed': {
      const to = event.data.to;
      if (to === 'RESOLVED' || to === 'CLOSED') return 'resolved';
      if (to === 'OPEN' && event.data.from === 'RESOLVED') return 'opened';
      return undefined;
    }
    case 'merged_into':
      return 'resolved';
    case 'severity_changed':
      return SEVERITY_ORDER(event.data.to) < SEVERITY_ORDER(event.data.from) ? 'severity_raised' : undefined;
    case 'origin_moved':
      return 'origin_moved';
    case 'investigation_completed':
      return 'pull';
    default:
      return undefined;
  }
}

function channelFromRow(context: RepositoryContext, row: Selectable<NotificationChannelsTable>): Channel {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    settings: fromJson(row.settings, {}),
    secret: fromJson(unseal(context, row.secret, 'notification_channels.secret'), {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  } as Channel;
}

function channelView(row: Selectable<NotificationChannelsTable>): ChannelView {
  return {
    id: row.id,
    name: row.name,
    type: row.type as ChannelView['type'],
    settings: fromJson(row.settings, {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function routeFromRow(row: Selectable<NotificationRoutesTable>): Route {
  return {
    id: row.id,
    name: row.name,
    match: fromJson(row.match, {}),
    channels: fromJson(row.channels, []),
    events: fromJson(row.events, []),
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function nameTaken(kind: string, name: string): OpxError {
  return new OpxError('conflict', `a notification ${kind} named ${JSON.stringify(name)} already exists`, {
    path: 'name',
  });
}

export function notificationRepository(context: RepositoryContext) {
  const { db } = context;
  const jobs = jobRepository(context);

  const channelRow = (idOrName: string) =>
    db
      .selectFrom('notification_channels')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .executeTakeFirst();
  const routeRow = (idOrName: string) =>
    db
      .selectFrom('notification_routes')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .executeTakeFirst();

  return {
    async listChannels(): Promise<ChannelView[]> {
      const rows = await db.selectFrom('notification_channels').selectAll().orderBy('name').execute();
      return rows.map(channelView);
    },

    /** A channel with its secret, by id or name: for sending, never for showing. */
    async channel(idOrName: string): Promise<Channel | undefined> {
      const row = await channelRow(idOrName);
      return row && channelFromRow(context, row);
    },

    async channelView(idOrName: string): Promise<ChannelView | undefined> {
      const row = await channelRow(idOrName);
      return row && channelView(row);
    },

    /** Creates the channel, or replaces the one with that id or name (`replace`). */
    async saveChannel(input: ChannelInput, options: { replace?: string } = {}, now = Date.now()) {
      const values = {
        name: input.name,
        type: input.type,
        settings: toJson(input.settings),
        secret: seal(context, toJson(input.secret), 'notification_channels.secret'),
        updated_at: now,
      };
      const current = options.replace ? await channelRow(options.replace) : undefined;
      if (options.replace && !current)
        throw new OpxError('not_found', `no notification channel ${options.replace}`, { path: 'id' });
      const clash = await channelRow(input.name);
      if (clash && clash.id !== current?.id) throw nameTaken('channel', input.name);
      if (current) {
        await db.updateTable('notification_channels').set(values).where('id', '=', current.id).execute();
        return channelView({ ...current, ...values });
      }
      const row = { id: newId('channel', now), ...values, created_at: now };
      await db.insertInto('notification_channels').values(row).execute();
      return channelView(row);
    },

    async deleteChannel(idOrName: string): Promise<boolean> {
      const row = await channelRow(idOrName);
      if (!row) return false;
      const users = (await this.listRoutes()).filter((route) => route.channels.includes(row.name));
      if (users.length > 0)
        throw new OpxError(
          'conflict',
          `channel ${row.name} is used by route${users.length === 1 ? '' : 's'} ${users.map((route) => route.name).join(', ')}; change or delete ${users.length === 1 ? 'it' : 'them'} first`,
        );
      await db.deleteFrom('notification_channels').where('id', '=', row.id).execute();
      return true;
    },

    async listRoutes(): Promise<Route[]> {
      const rows = await db.selectFrom('notification_routes').selectAll().orderBy('name').execute();
      return rows.map(routeFromRow);
    },

    async route(idOrName: string): Promise<Route | undefined> {
      const row = await routeRow(idOrName);
      return row && routeFromRow(row);
    },

    /** Creates the route, or replaces the one with that id or name (`replace`). Its channels must exist. */
    async saveRoute(input: RouteInput, options: { replace?: string } = {}, now = Date.now()): Promise<Route> {
      const known = new Set((await this.listChannels()).map((channel) => channel.name));
      const missing = input.channels.filter((name) => !known.has(name));
      if (missing.length > 0)
        throw new OpxError(
          'invalid_request',
          `no notification channel ${missing.join(', ')}; create ${missing.length === 1 ? 'it' : 'them'} first`,
          { path: 'channels' },
        );
      const values = {
        name: input.name,
        match: toJson(input.match),
        channels: toJson([...new Set(input.channels)]),
        events: toJson([...new Set(input.events)]),
        enabled: input.enabled ? 1 : 0,
        updated_at: now,
      };
      const current = options.replace ? await routeRow(options.replace) : undefined;
      if (options.replace && !current)
        throw new OpxError('not_found', `no notification route ${options.replace}`, { path: 'id' });
      const clash = await routeRow(input.name);
      if (clash && clash.id !== current?.id) throw nameTaken('route', input.name);
      if (current) {
        await db.updateTable('notification_routes').set(values).where('id', '=', current.id).execute();
        return routeFromRow({ ...current, ...values });
      }
      const row = { id: newId('route', now), ...values, created_at: now };
      await db.insertInto('notification_routes').values(row).execute();
      return routeFromRow(row);
    },

    async deleteRoute(idOrName: string): Promise<boolean> {
      const row = await routeRow(idOrName);
      if (!row) return false;
      await db.deleteFrom('notification_routes').where('id', '=', row.id).execute();
      return true;
    },

    /**
     * The outbox: called with every batch of incident events, in the transaction that writes them. Each
     * event a receiver may hear of queues a dispatch job, which the worker turns into deliveries; an
     * investigation's answer makes a waiting first message due now. Nothing is queued while no route
     * is enabled, so a store without notifications pays one indexed read per batch of such events.
     */
    async queueDispatch(events: readonly IncidentEvent[], now: number = Date.now()): Promise<void> {
      const marked = events.flatMap((event) => {
        const kind = notifiable(event);
        return kind ? [{ event, kind }] : [];
      });
      if (marked.length === 0) return;
      const anyRoute = await db
        .selectFrom('notification_routes')
        .select('id')
        .where('enabled', '=', 1)
        .limit(1)
        .executeTakeFirst();
      if (!anyRoute) return;
      for (const { event, kind } of marked) {
        if (kind === 'pull') continue;
        await jobs.enqueue(
          NOTIFY_DISPATCH_JOB,
          { incidentId: event.incidentId, event: kind, seq: event.seq },
          {
            maxAttempts: 10,
            ...(kind === 'opened' ? { dedupKey: openedDispatchKey(event.incidentId) } : {}),
          },
          now,
        );
      }
      const pulled = [
        ...new Set(marked.filter((item) => item.kind === 'pull').map((item) => item.event.incidentId)),
      ];
      if (pulled.length > 0)
        await db
          .updateTable('jobs')
          .set({ run_at: now, updated_at: now })
          .where(
            'dedup_key',
            'in',
            pulled.map((id) => openedDispatchKey(id)),
          )
          .where('status', '=', 'pending')
          .where('run_at', '>', now)
          .execute();
    },

    /**
     * Records a delivery and queues the job that sends it, once per key: a second call with the same
     * key (a dispatcher run again after a crash) returns undefined and queues nothing.
     */
    async createDelivery(
      delivery: {
        key: string;
        incidentId: string | null;
        channelId: string;
        routeId: string | null;
        event: NoticeEvent;
        notice: Omit<Notice, 'deliveryId'>;
        maxAttempts: number;
      },
      now: number = Date.now(),
    ): Promise<string | undefined> {
      const id = newId('delivery', now);
      const job = await jobs.enqueue(
        NOTIFY_DELIVER_JOB,
        { deliveryId: id },
        { maxAttempts: delivery.maxAttempts, dedupKey: `deliver:${delivery.key}` },
        now,
      );
      if (!job.created) return undefined;
      const inserted = await db
        .insertInto('notification_deliveries')
        .values({
          id,
          key: delivery.key,
          job_id: job.job.id,
          incident_id: delivery.incidentId,
          channel_id: delivery.channelId,
          route_id: delivery.routeId,
          event: delivery.event,
          notice: seal(
            context,
            toJson({ ...delivery.notice, deliveryId: id }),
            'notification_deliveries.notice',
          ),
          outcome: null,
          detail: null,
          created_at: now,
          finished_at: null,
        })
        .onConflict((conflict) => conflict.column('key').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
        await db.deleteFrom('jobs').where('id', '=', job.job.id).execute();
        return undefined;
      }
      return id;
    },

    /** Marks a delivery sent or skipped. */
    async finishDelivery(
      id: string,
      outcome: 'sent' | 'skipped',
      detail: string,
      now: number = Date.now(),
    ): Promise<void> {
      await db
        .updateTable('notification_deliveries')
        .set({ outcome, detail: detail.slice(0, 1000), finished_at: now })
        .where('id', '=', id)
        .execute();
    },

    async delivery(id: string): Promise<Delivery | undefined> {
      const [found] = await this.deliveries({ id, limit: 1 });
      return found;
    },

    /** Deliveries, newest first, with their job's state. */
    async deliveries(
      filter: {
        id?: string;
        incidentId?: string;
        channelId?: string;
        status?: DeliveryStatus;
        limit?: number;
        /** Oldest first (the dispatcher reads an incident's history in order). */
        ascending?: boolean;
      } = {},
    ): Promise<Delivery[]> {
      let query = db
        .selectFrom('notification_deliveries as d')
        .leftJoin('jobs as j', 'j.id', 'd.job_id')
        .leftJoin('notification_channels as c', 'c.id', 'd.channel_id')
        .selectAll('d')
        .select([
          'j.status as job_status',
          'j.attempts as job_attempts',
          'j.run_at as job_run_at',
          'j.last_error as job_error',
          'c.name as channel_name',
          'c.type as channel_type',
        ]);
      if (filter.id) query = query.where('d.id', '=', filter.id);
      if (filter.incidentId) query = query.where('d.incident_id', '=', filter.incidentId);
      if (filter.channelId) query = query.where('d.channel_id', '=', filter.channelId);
      if (filter.status === 'sent' || filter.status === 'skipped')
        query = query.where('d.outcome', '=', filter.status);
      else if (filter.status === 'dead')
        query = query.where('d.outcome', 'is', null).where('j.status', '=', 'dead');
      else if (filter.status === 'pending')
        query = query.where('d.outcome', 'is', null).where('j.status', 'in', ['pending', 'running']);
      const order = filter.ascending ? 'asc' : 'desc';
      const rows = await query
        .orderBy('d.created_at', order)
        .orderBy('d.id', order)
        .limit(filter.limit ?? 100)
        .execute();
      return rows.map((row) => {
        const status: DeliveryStatus =
          (row.outcome as DeliveryStatus | null) ?? (row.job_status === 'dead' ? 'dead' : 'pending');
        return {
          id: row.id,
          key: row.key,
          jobId: row.job_id,
          incidentId: row.incident_id,
          channelId: row.channel_id,
          channelName: row.channel_name,
          channelType: (row.channel_type as ChannelType | null) ?? null,
          routeId: row.route_id,
          event: row.event as NoticeEvent,
          status,
          attempts: row.job_attempts ?? 0,
          nextAttemptAt: status === 'pending' ? (row.job_run_at ?? null) : null,
          lastError: row.job_error ?? null,
          detail: row.detail,
          createdAt: row.created_at,
          finishedAt: row.finished_at,
          notice: fromJson(unseal(context, row.notice, 'notification_deliveries.notice'), {} as Notice),
        };
      });
    },

    /** Sends a dead delivery again with a fresh set of attempts. */
    async redrive(id: string, now: number = Date.now()): Promise<boolean> {
      const found = await this.delivery(id);
      if (!found) throw new OpxError('not_found', `no delivery ${id}`, { path: 'id' });
      if (found.status !== 'dead')
        throw new OpxError('conflict', `delivery ${id} is ${found.status}; only a dead delivery is redriven`);
      return jobs.redrive(found.jobId, now);
    },
  };
}
export type NotificationRepository = ReturnType<typeof notificationRepository>;
