/**
 * Managing notifications as data: a YAML file of channels and routes (imported by name, so importing the
 * same file twice changes nothing), and `opx notify test <route>`, which sends a sample message through
 * each of a route's channels and says how many recent incidents the route would have selected.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { formatPath, OpxError } from '../domain/errors.js';
import { channelInputSchema, type Notice, type Route, routeInputSchema } from '../domain/notification.js';
import type { StoreScope } from '../store/store.js';
import { sendNotice } from './channels.js';
import { consoleLink, matchingChannels, type NotifyContext } from './dispatch.js';

export const notificationFileSchema = z.strictObject({
  channels: z.array(channelInputSchema).max(200).default([]),
  routes: z.array(routeInputSchema).max(500).default([]),
});
export type NotificationFile = z.infer<typeof notificationFileSchema>;

/**
 * Replaces `${NAME}` in string values with the environment variable NAME, so a file can be committed
 * without its webhook URLs and keys. An unset variable is an error that names it and where it is used.
 */
export function expandEnvironment(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string')
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined)
        throw new OpxError(
          'invalid_request',
          `${formatPath(path)}: the environment variable ${name} is not set`,
          {
            path: formatPath(path),
          },
        );
      return found;
    });
  if (Array.isArray(value)) return value.map((item, index) => expandEnvironment(item, env, [...path, index]));
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, expandEnvironment(item, env, [...path, key])]),
    );
  return value;
}

/** Reads a notifications file: YAML (or JSON), environment references expanded, validated whole. */
export function parseNotificationFile(text: string, env: NodeJS.ProcessEnv = process.env): NotificationFile {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new OpxError('invalid_request', `not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = notificationFileSchema.safeParse(expandEnvironment(document ?? {}, env));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new OpxError('invalid_request', `${formatPath(issue.path) || 'the file'}: ${issue.message}`, {
      path: formatPath(issue.path),
    });
  }
  const names = (items: { name: string }[], kind: string) => {
    const seen = new Set<string>();
    for (const item of items) {
      if (seen.has(item.name)) throw new OpxError('invalid_request', `${kind} ${item.name} is listed twice`);
      seen.add(item.name);
    }
  };
  names(parsed.data.channels, 'channel');
  names(parsed.data.routes, 'route');
  return parsed.data;
}

export interface ImportResult {
  channels: { name: string; action: 'created' | 'updated' }[];
  routes: { name: string; action: 'created' | 'updated' }[];
}

/** Creates or updates, by name, every channel and then every route of the file, in one transaction. */
export async function importNotifications(scope: StoreScope, file: NotificationFile): Promise<ImportResult> {
  const result: ImportResult = { channels: [], routes: [] };
  for (const channel of file.channels) {
    const existing = await scope.notifications.channelView(channel.name);
    await scope.notifications.saveChannel(channel, existing ? { replace: existing.id } : {});
    result.channels.push({ name: channel.name, action: existing ? 'updated' : 'created' });
  }
  for (const route of file.routes) {
    const existing = await scope.notifications.route(route.name);
    await scope.notifications.saveRoute(route, existing ? { replace: existing.id } : {});
    result.routes.push({ name: route.name, action: existing ? 'updated' : 'created' });
  }
  return result;
}

export interface RouteTest {
  route: string;
  /** How many of the most recent incidents were looked at, and how many the route selects. */
  recentIncidents: number;
  matched: number;
  /** Set when the route would select none of them, or is disabled. */
  warning: string | null;
  results: { channel: string; ok: boolean; status: number | null; detail: string }[];
}

/** The sample a test sends: a made-up incident shaped by the route, plainly labelled as a test. */
function sampleNotice(context: NotifyContext, route: Route, now: number): Notice {
  const services = route.match.services?.slice(0, 3) ?? ['checkout-api'];
  return {
    deliveryId: `test-${now.toString(36)}`,
    event: 'test',
    at: now,
    incident: {
      id: 'test',
      title: `Test message from OPX route ${route.name}`,
      severity: route.match.severities?.[0] ?? 'SEV3',
      status: 'OPEN',
      environment: route.match.environments?.[0] ?? null,
      services,
      rootService: services[0] ?? null,
      startedAt: now,
      resolvedAt: null,
      mergedInto: null,
    },
    cause: { summary: 'This is a test message; no incident is open.', confidence: 1 },
    recommendation: null,
    url: consoleLink(context.config, 'test').replace(/\/incidents\/test$/, '/'),
  };
}

/** Sends a sample through each channel of a route and reports how many recent incidents it selects. */
export async function testRoute(
  context: NotifyContext,
  idOrName: string,
  options: { recent?: number; now?: number } = {},
): Promise<RouteTest> {
  const { store } = context;
  const now = options.now ?? Date.now();
  const route = await store.notifications.route(idOrName);
  if (!route) throw new OpxError('not_found', `no notification route ${idOrName}`, { path: 'id' });
  const recent = await store.incidents.list({ limit: options.recent ?? 200 });
  let matched = 0;
  for (const incident of recent)
    if ((await matchingChannels(store, incident, [{ ...route, enabled: true }], 'any')).size > 0)
      matched += 1;
  const warning = !route.enabled
    ? 'the route is disabled: it sends nothing until it is enabled'
    : recent.length > 0 && matched === 0
      ? `the route matches none of the last ${recent.length} incidents; check its services, severities, environments and labels`
      : null;
  const notice = sampleNotice(context, route, now);
  const results: RouteTest['results'] = [];
  for (const name of route.channels) {
    const channel = await store.notifications.channel(name);
    if (!channel) {
      results.push({ channel: name, ok: false, status: null, detail: 'no such channel' });
      continue;
    }
    try {
      const receipt = await sendNotice(channel, notice);
      results.push({ channel: name, ok: true, status: receipt.status, detail: receipt.detail });
    } catch (error) {
      const status = (error as { status?: number }).status;
      results.push({
        channel: name,
        ok: false,
        status: typeof status === 'number' ? status : null,
        detail: (error as Error).message,
      });
    }
  }
  return { route: route.name, recentIncidents: recent.length, matched, warning, results };
}
