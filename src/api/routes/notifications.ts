import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toIso } from '../../domain/common.js';
import { OpxError } from '../../domain/errors.js';
import {
  type ChannelView,
  channelInputSchema,
  DELIVERY_STATUSES,
  type DeliveryView,
  type Route,
  routeInputSchema,
} from '../../domain/notification.js';
import { testRoute } from '../../notify/admin.js';
import { notifyContext } from '../../notify/worker.js';
import type { Runtime } from '../../runtime.js';
import type { Delivery } from '../../store/repositories/notifications.js';
import { nameParams, parseInput, sendWrite, writeOf } from '../http.js';

export const deliveriesQuery = z.strictObject({
  status: z.enum(DELIVERY_STATUSES).optional(),
  incidentId: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function presentChannel(channel: ChannelView) {
  return { ...channel, createdAt: toIso(channel.createdAt), updatedAt: toIso(channel.updatedAt) };
}

export function presentRoute(route: Route) {
  return { ...route, createdAt: toIso(route.createdAt), updatedAt: toIso(route.updatedAt) };
}

/** A delivery as listed: its state and the receiver's answer; the message itself only in `GET …/:id`. */
export function presentDelivery(delivery: Delivery, withNotice = false) {
  const { notice, key: _key, ...rest } = delivery;
  const view: DeliveryView = {
    ...rest,
    title: notice.incident?.title ?? null,
    severity: notice.incident?.severity ?? null,
    nextAttemptAt: toIso(delivery.nextAttemptAt),
    createdAt: toIso(delivery.createdAt),
    finishedAt: toIso(delivery.finishedAt),
  };
  return { ...view, ...(withNotice ? { notice } : {}) };
}

/** Channels, routes and deliveries (docs/notifications.md). Secrets go in, never out. */
export function registerNotificationRoutes(app: FastifyInstance, runtime: Runtime): void {
  const { store, writes } = runtime;
  const read = { config: { scope: 'read' as const } };
  const admin = { config: { scope: 'admin' as const } };

  app.get('/v1/notifications/channels', read, async () => ({
    items: (await store.notifications.listChannels()).map(presentChannel),
  }));
  app.get('/v1/notifications/channels/:id', read, async (request) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const channel = await store.notifications.channelView(id);
    if (!channel) throw new OpxError('not_found', `no notification channel ${id}`, { path: 'id' });
    return presentChannel(channel);
  });
  app.post('/v1/notifications/channels', admin, async (request, reply) => {
    const input = parseInput(channelInputSchema, request.body);
    const response = await writes.write(async (scope) => {
      const channel = await scope.notifications.saveChannel(input);
      return {
        statusCode: 201,
        body: presentChannel(channel),
        audit: {
          target: channel.id,
          detail: { event: 'channel.create', name: channel.name, type: channel.type },
        },
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });
  app.put('/v1/notifications/channels/:id', admin, async (request, reply) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const input = parseInput(channelInputSchema, request.body);
    const response = await writes.write(async (scope) => {
      const channel = await scope.notifications.saveChannel(input, { replace: id });
      return {
        statusCode: 200,
        body: presentChannel(channel),
        audit: { target: channel.id, detail: { event: 'channel.update', name: channel.name } },
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });
  app.delete('/v1/notifications/channels/:id', admin, async (request, reply) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const response = await writes.write(async (scope) => {
      if (!(await scope.notifications.deleteChannel(id)))
        throw new OpxError('not_found', `no notification channel ${id}`, { path: 'id' });
      return {
        statusCode: 200,
        body: { deleted: id },
        audit: { target: id, detail: { event: 'channel.delete' } },
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });

  app.get('/v1/notifications/routes', read, async () => ({
    items: (await store.notifications.listRoutes()).map(presentRoute),
  }));
  app.get('/v1/notifications/routes/:id', read, async (request) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const route = await store.notifications.route(id);
    if (!route) throw new OpxError('not_found', `no notification route ${id}`, { path: 'id' });
    return presentRoute(route);
  });
  app.post('/v1/notifications/routes', admin, async (request, reply) => {
    const input = parseInput(routeInputSchema, request.body);
    const response = await writes.write(async (scope) => {
      const route = await scope.notifications.saveRoute(input);
      return {
        statusCode: 201,
        body: presentRoute(route),
        audit: { target: route.id, detail: { event: 'route.create', name: route.name } },
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });
  app.put('/v1/notifications/routes/:id', admin, async (request, reply) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const input = parseInput(routeInputSchema, request.body);
    const response = await writes.write(async (scope) => {
      const route = await scope.notifications.saveRoute(input, { replace: id });
      return {
        statusCode: 200,
        body: presentRoute(route),
        audit: { target: route.id, detail: { event: 'route.update', name: route.name } },
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });
  app.delete('/v1/notifications/routes/:id', admin, async (request, reply) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const response = await writes.write(async (scope) => {
      if (!(await scope.notifications.deleteRoute(id)))
        throw new OpxError('not_found', `no notification route ${id}`, { path: 'id' });
      return {
        statusCode: 200,
        body: { deleted: id },
        audit: { target: id, detail: { event: 'route.delete' } },
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });
  // Sends a sample message through each channel now (not through the outbox: the answer is the test).
  // Recorded in the audit log after the sends, so no write is held open while receivers answer.
  app.post('/v1/notifications/routes/:id/test', admin, async (request, reply) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const result = await testRoute(notifyContext(runtime), id);
    const response = await writes.write(
      async () => ({
        statusCode: 200,
        body: result,
        audit: {
          target: id,
          detail: { event: 'route.test', sent: result.results.filter((item) => item.ok).length },
        },
      }),
      writeOf(request),
    );
    return sendWrite(reply, response);
  });

  app.get('/v1/notifications/deliveries', read, async (request) => {
    const query = parseInput(deliveriesQuery, request.query ?? {}, 'query');
    const items = await store.notifications.deliveries({
      ...(query.status ? { status: query.status } : {}),
      ...(query.incidentId ? { incidentId: query.incidentId } : {}),
      limit: query.limit,
    });
    return { items: items.map((item) => presentDelivery(item)) };
  });
  app.get('/v1/notifications/deliveries/:id', read, async (request) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const delivery = await store.notifications.delivery(id);
    if (!delivery) throw new OpxError('not_found', `no delivery ${id}`, { path: 'id' });
    return presentDelivery(delivery, true);
  });
  app.post('/v1/notifications/deliveries/:id/redrive', admin, async (request, reply) => {
    const { id } = parseInput(nameParams, request.params, 'params');
    const response = await writes.write(async (scope) => {
      await scope.notifications.redrive(id);
      return {
        statusCode: 200,
        body: { redriven: id },
        audit: { target: id, detail: { event: 'delivery.redrive' } },
      };
    }, writeOf(request));
    return sendWrite(reply, response);
  });
}
