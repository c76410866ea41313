/** The properties every fuzz case must keep, and how a failure is reported. */
import type { Client } from './client.js';
import {
  consoleNotBuilt,
  type FuzzContext,
  type FuzzRequest,
  type FuzzResponse,
  json,
  type RouteSpec,
} from './routes.js';
import { type WriteCounts, writesBetween } from './writes.js';

export interface CaseFailure {
  route: string;
  variant: string;
  problem: string;
  request: { method: string; path: string; headers: Record<string, string>; body?: string };
  status?: number;
  response?: string;
}

const clip = (text: string, length = 400) =>
  text.length > length ? `${text.slice(0, length)}… (${text.length} chars)` : text;

function describeFailure(request: FuzzRequest, problem: string, response?: FuzzResponse): CaseFailure {
  return {
    route: request.route,
    variant: request.variant,
    problem,
    request: {
      method: request.method,
      path: clip(request.path, 200),
      headers: Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [name, clip(value, 120)]),
      ),
      ...(request.body === undefined ? {} : { body: clip(request.body) }),
    },
    ...(response ? { status: response.status, response: clip(response.text) } : {}),
  };
}

/**
 * Sends one request and checks what needs no isolation: an answer arrives, it is not a 5xx, and a
 * 4xx carries OPX's error shape. With `writes`, the counter read before and after (so the caller must
 * run nothing else at the same time) also proves a 4xx or a replay wrote nothing, and a 2xx is
 * checked by the route's own read-back.
 */
export async function runCase(
  client: Client,
  spec: RouteSpec,
  request: FuzzRequest,
  context: FuzzContext,
  writes?: () => Promise<WriteCounts>,
): Promise<CaseFailure | undefined> {
  const before = writes ? await writes() : {};
  let response: FuzzResponse;
  try {
    response = await client.send(request);
  } catch (error) {
    return describeFailure(request, `no answer: ${(error as Error).message}`);
  }
  // Any GET may fall through to the console's catch-all, so its not-built answer is allowed on every GET.
  const allowed =
    spec.allow?.(response) ||
    ((request.method === 'GET' || request.method === 'HEAD') && consoleNotBuilt(response));
  if ((response.status >= 500 && !allowed) || response.status < 100)
    return describeFailure(request, `answered ${response.status}`, response);
  const checkable = request.variant !== 'wrong-method' && request.method === spec.route.split(' ')[0];
  if (!writes) {
    if (response.status < 300 && checkable && spec.verify) {
      const problem = await spec.verify(response, client, context);
      if (problem) return describeFailure(request, problem, response);
    }
    return undefined;
  }
  if (response.status >= 400 && request.method !== 'HEAD') {
    // biome-ignore lint/suspicious/noExplicitAny: the error shape is checked field by field.
    const code = (json(response.text) as any)?.error?.code;
    if (typeof code !== 'string')
      return describeFailure(request, 'a 4xx without { error: { code } }', response);
  }
  const written = writesBetween(before, await writes());
  if (response.status >= 400 && written.length > 0)
    return describeFailure(request, `answered ${response.status} but wrote: ${written.join(', ')}`, response);
  const replayed = response.headers['idempotent-replayed'] === 'true';
  if (replayed && written.length > 0)
    return describeFailure(request, `a replay wrote: ${written.join(', ')}`, response);
  // A replay answers what the key's first request did; later writes may have moved that state on, so
  // it is not read back (that it wrote nothing is checked above).
  if (response.status < 300 && checkable && !replayed && spec.verify) {
    const problem = await spec.verify(response, client, context);
    if (problem) return describeFailure(request, problem, response);
  }
  // A write that breaks a later read (a stored value no list can render) fails here, not in production.
  if (written.length > 0) {
    const broken = await checkListReads(client);
    if (broken) return describeFailure(request, `after this write, ${broken}`, response);
  }
  return undefined;
}

/** The list routes, with their default filters: every one must still answer after any write. */
export const LIST_READS = [
  '/v1/incidents',
  '/v1/incidents?status=OPEN,INVESTIGATING,ADVISORY_READY,ACKNOWLEDGED,MITIGATED,RESOLVED,CLOSED',
  '/v1/signals',
  '/v1/changes',
  '/v1/services',
  '/v1/rules',
  '/v1/silences',
  '/v1/tokens',
  '/v1/audit',
  '/v1/traces',
  '/v1/alarms',
  '/v1/kb/documents',
  '/v1/notifications/channels',
  '/v1/notifications/routes',
  '/v1/notifications/deliveries',
] as const;

/** The first list route that does not answer 200, as a sentence; undefined when all do. */
export async function checkListReads(client: Client): Promise<string | undefined> {
  for (const path of LIST_READS) {
    const response = await client.get(path);
    if (response.status !== 200)
      return `GET ${path} answered ${response.status}: ${clip(response.text, 200)}`;
  }
  return undefined;
}

/** Every incident's event chain still verifies: no write left an incident half-updated. */
export async function checkIncidentChains(client: Client): Promise<string | undefined> {
  let cursor: string | null = null;
  do {
    const page = await client.get(
      `/v1/incidents?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
    const body = json(page.text) as any;
    if (page.status !== 200) return `GET /v1/incidents answered ${page.status}`;
    for (const incident of body.items) {
      const verify = await client.get(`/v1/incidents/${encodeURIComponent(incident.id)}/verify`);
      // biome-ignore lint/suspicious/noExplicitAny: a response body is checked field by field.
      const result = json(verify.text) as any;
      if (verify.status !== 200 || result?.valid !== true)
        return `incident ${incident.id} fails verification: ${clip(verify.text)}`;
    }
    cursor = body.nextCursor;
  } while (cursor);
  return undefined;
}
