/** The request generators: a route's valid request as is, mutated, or replaced by garbage. */
import fc from 'fast-check';
import type { Scope } from '../../../src/store/repositories/access.js';
import {
  type FuzzContext,
  type FuzzRequest,
  METHODS,
  type Method,
  type RouteSpec,
  type ValidRequest,
} from './routes.js';

/** Header values Node can put on the wire: visible Latin-1 and spaces (CR, LF and NUL never leave a client). */
const headerText = (maxLength: number) =>
  fc.string({
    unit: fc
      .integer({ min: 0x20, max: 0xff })
      .filter((code) => code !== 0x7f)
      .map((code) => String.fromCharCode(code)),
    maxLength,
  });

/** Strings a careless parser trips over. */
const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '.',
    '..',
    '%',
    '%00',
    '\u0000',
    '\uFFFF',
    '\uD800',
    'null',
    'undefined',
    '__proto__',
    'constructor',
    'toString',
    '-1',
    '0',
    '1e309',
    'NaN',
    'Infinity',
    '0x10',
    '9007199254740993',
    "' OR 1=1 --",
    '$where',
    '{{7*7}}',
    '../../etc/passwd',
    'inc_',
    'inc_00000000000000000000000000',
    'rec_zzz',
    '2026-13-45T99:99:99Z',
    '🔥'.repeat(50),
  ),
  fc.integer({ min: 200, max: 70_000 }).map((length) => 'x'.repeat(length)),
);

/** A JSON text nested `depth` levels deep, arrays or objects. */
const deepJson = fc
  .tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  );

const arbitraryRawBody: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null'),
  deepJson,
  nastyString,
  fc.constantFrom(
    '{',
    '[1,',
    '{"a":1,}',
    'nul',
    '\ufeff{}',
    '{"__proto__":{"polluted":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
  ),
  fc.integer({ min: 100_000, max: 1_000_000 }).map((length) => JSON.stringify({ text: 'y'.repeat(length) })),
);

/** Replaces one value somewhere in a JSON tree with another, or deletes a key. */
export function mutate(value: unknown, choices: number[], replacement: unknown, depth = 0): unknown {
  const choice = choices[depth] ?? 0;
  if (Array.isArray(value)) {
    if (value.length === 0 || depth >= choices.length) return replacement;
    const copy = [...value];
    const index = choice % value.length;
    copy[index] = mutate(copy[index], choices, replacement, depth + 1);
    return copy;
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0 || depth >= choices.length) return replacement;
    const key = keys[choice % keys.length]!;
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    if (choice % 5 === 4) delete copy[key];
    else copy[key] = mutate(copy[key], choices, replacement, depth + 1);
    return copy;
  }
  return replacement;
}

const replacementValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  nastyString,
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -1e308, [], {}, ''),
);

/**
 * Values at and just past the edges the schemas draw: numbers a Date or a ULID cannot hold, times that
 * are not days, invisible and NUL characters, and maps wider than a signal's label cap.
 */
const boundaryValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    2 ** 53 - 1,
    -(2 ** 53 - 1),
    2 ** 48,
    8.64e15,
    8.64e15 + 1,
    -8.64e15,
    -1,
    1e21,
    0.5,
    '9999-12-31T23:59:59Z',
    '0001-01-01T00:00:00Z',
    '1969-12-31T23:59:59.999Z',
    '2026-02-30T00:00:00Z',
    '+275760-09-13T00:00:00.000Z',
    '2026-12-01T12:00:00+2400',
    '2026-12-01',
    'a\u0000b',
    '\u0000',
    '\u200B',
    'AKIA\u200BIOSFODNN7EXAMPLE',
    '\uFEFFtitle',
    'x\u202Ey',
  ),
  fc
    .integer({ min: 200, max: 3_000 })
    .map((count) =>
      Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, `v${index}`])),
    ),
);

interface Draft {
  method: string;
  params: Record<string, string>;
  /** Pairs, so a key may repeat. */
  query: [string, string][];
  /** Params already in path form (percent-encoded, or deliberately raw). */
  rawParams?: boolean;
  headers: Record<string, string>;
  body?: string;
}

function draftOf(valid: ValidRequest, method: string, context: FuzzContext): Draft {
  const headers: Record<string, string> = { authorization: `Bearer ${context.tokens[valid.scope]}` };
  let body: string | undefined;
  if (valid.rawBody !== undefined) body = valid.rawBody;
  else if (valid.body !== undefined) body = JSON.stringify(valid.body);
  if (body !== undefined) headers['content-type'] = valid.contentType ?? 'application/json';
  return { method, params: { ...valid.params }, query: Object.entries(valid.query ?? {}), headers, body };
}

/** encodeURIComponent, after replacing lone surrogates (which it refuses) with U+FFFD as a UTF-8 encoder would. */
const encode = (value: string) => encodeURIComponent(value.replace(/[\uD800-\uDFFF]/gu, '\uFFFD'));

function toRequest(spec: RouteSpec, variant: string, draft: Draft): FuzzRequest {
  const pattern = spec.route.slice(spec.route.indexOf(' ') + 1);
  const path = pattern.replace(/:([A-Za-z]+)|\*$/g, (whole, name: string | undefined) => {
    const value = draft.params[name ?? whole] ?? '';
    if (draft.rawParams) return value;
    // The wildcard spans segments: its slashes stay, so `../` reaches the server as written.
    return name ? encode(value) : value.split('/').map(encode).join('/');
  });
  const search = draft.query.length
    ? `?${draft.query.map(([key, value]) => `${encode(key)}=${encode(value)}`).join('&')}`
    : '';
  return {
    route: spec.route,
    variant,
    method: draft.method,
    path: `${path}${search}`,
    headers: draft.headers,
    ...(draft.body === undefined ? {} : { body: draft.body }),
  };
}

/** Shared pools, so keys repeat across cases and replays and key reuse both happen. */
const IDEMPOTENCY_KEYS = ['fuzz-key-1', 'fuzz-key-2', 'fuzz-key-3'];

/**
 * Requests for one route: the valid one, mutated bodies, arbitrary bodies, bad path params, bad
 * query values, bad headers, wrong methods and bad credentials. `otherMethods` are the methods the
 * route's URL does not serve (a wrong method must meet a 404, not another handler).
 */
export function requestArbitrary(
  spec: RouteSpec,
  context: FuzzContext,
  otherMethods: readonly string[],
): fc.Arbitrary<FuzzRequest> {
  const method = spec.route.slice(0, spec.route.indexOf(' '));
  const valid = () => spec.valid(context);
  const base = () => draftOf(valid(), method, context);
  const withHeader = (draft: Draft, name: string, value: string | undefined): Draft => {
    const headers = { ...draft.headers };
    if (value === undefined) delete headers[name];
    else headers[name] = value;
    return { ...draft, headers };
  };

  const variants: { weight: number; arbitrary: fc.Arbitrary<FuzzRequest> }[] = [
    { weight: 8, arbitrary: fc.constant(null).map(() => toRequest(spec, 'valid', base())) },
    {
      weight: 6,
      arbitrary: fc.tuple(fc.constantFrom(...IDEMPOTENCY_KEYS), fc.boolean()).map(([key, mutateBody]) => {
        const validRequest = valid();
        const body =
          mutateBody && validRequest.body !== undefined
            ? { ...validRequest, body: mutate(validRequest.body, [1], 'changed') }
            : validRequest;
        return toRequest(
          spec,
          'idempotency-replay',
          withHeader(draftOf(body, method, context), 'idempotency-key', key),
        );
      }),
    },
    {
      weight: 20,
      arbitrary: fc
        .tuple(fc.array(fc.nat(50), { minLength: 1, maxLength: 6 }), replacementValue)
        .map(([choices, replacement]) => {
          const draft = base();
          const body = valid().body ?? {};
          const mutated = JSON.stringify(mutate(body, choices, replacement)) ?? 'null';
          return toRequest(spec, 'mutated-body', {
            ...withHeader(draft, 'content-type', 'application/json'),
            body: mutated,
          });
        }),
    },
    {
      weight: 12,
      arbitrary: fc
        .tuple(fc.array(fc.nat(50), { minLength: 1, maxLength: 6 }), boundaryValue)
        .map(([choices, boundary]) =>
          toRequest(spec, 'boundary', {
            ...withHeader(base(), 'content-type', 'application/json'),
            body: JSON.stringify(mutate(valid().body ?? {}, choices, boundary)) ?? 'null',
          }),
        ),
    },
    {
      weight: 10,
      arbitrary: fc
        .tuple(
          arbitraryRawBody,
          fc.constantFrom('application/json', 'text/plain', 'application/yaml', undefined),
        )
        .map(([body, contentType]) =>
          toRequest(spec, 'arbitrary-body', {
            ...withHeader(base(), 'content-type', contentType ?? 'application/json'),
            body,
          }),
        ),
    },
    {
      weight: 10,
      arbitrary: fc.tuple(nastyString, fc.boolean()).map(([value, raw]) => {
        const draft = base();
        const names = Object.keys(draft.params);
        if (names.length === 0) {
          // No params: an extra path segment instead (a 404, or the console's catch-all for a GET).
          const request = toRequest(
            { ...spec, route: `${spec.route.replace(/\/$/, '')}/:extra` },
            'bad-path',
            {
              ...draft,
              params: { extra: value || 'x' },
            },
          );
          return { ...request, route: spec.route };
        }
        const params = {
          ...draft.params,
          [names[value.length % names.length]!]: raw ? rawPathText(value) : value,
        };
        if (raw)
          for (const name of names)
            if (name !== names[value.length % names.length]) params[name] = encode(params[name]!);
        return toRequest(spec, raw ? 'raw-path-param' : 'bad-path-param', {
          ...draft,
          params,
          rawParams: raw,
        });
      }),
    },
    {
      weight: 10,
      arbitrary: fc
        .tuple(fc.nat(), nastyString, fc.constantFrom('replace', 'add', 'repeat', 'unknown'))
        .map(([pick, value, how]) => {
          const draft = base();
          const query = [...draft.query];
          const known = [
            'limit',
            'since',
            'until',
            'status',
            'severity',
            'service',
            'cursor',
            'q',
            'days',
            'history',
            'alarm',
            'kind',
            'perDocument',
            'agent',
            'incidentId',
            'alert',
          ];
          if (how === 'replace' && query.length > 0)
            query[pick % query.length] = [query[pick % query.length]![0], value];
          else if (how === 'repeat' && query.length > 0) query.push([query[pick % query.length]![0], value]);
          else if (how === 'unknown') query.push([value || 'x', value]);
          else query.push([known[pick % known.length]!, value]);
          return toRequest(spec, 'bad-query', { ...draft, query });
        }),
    },
    {
      weight: 12,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            'idempotency-key',
            'content-type',
            'authorization',
            'content-encoding',
            'accept',
            'x-forwarded-for',
          ),
          fc.oneof(
            headerText(300),
            fc.constantFrom(
              'application/json; charset=utf-16',
              'application/json; charset=latin1',
              'application/x-www-form-urlencoded',
              'multipart/form-data; boundary=x',
              'application/yaml',
              'text/plain',
              'gzip',
              'Bearer',
              'Bearer ',
              'Basic ',
              'Basic Og==',
              'Basic !!!',
              `Basic ${Buffer.from(':'.repeat(300)).toString('base64')}`,
              'x'.repeat(300),
            ),
          ),
        )
        .map(([name, value]) => toRequest(spec, `bad-header:${name}`, withHeader(base(), name, value))),
    },
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          fc.constantFrom<Scope | 'none' | 'unknown'>(
            'none',
            'unknown',
            'read',
            'ingest',
            'respond',
            'admin',
          ),
        )
        .map(([who]) => {
          const draft = base();
          const value =
            who === 'none'
              ? undefined
              : who === 'unknown'
                ? 'Bearer opx_not_a_token'
                : `Bearer ${context.tokens[who]}`;
          return toRequest(spec, `auth:${who}`, withHeader(draft, 'authorization', value));
        }),
    },
  ];
  if (otherMethods.length > 0)
    variants.push({
      weight: 4,
      arbitrary: fc
        .constantFrom(...otherMethods)
        .map((other) => toRequest(spec, 'wrong-method', { ...base(), method: other })),
    });
  return fc.oneof(...variants);
}

/** Text a client can put in a path unencoded (Node refuses anything outside U+0021–U+00FF); no `/?#`. */
function rawPathText(value: string): string {
  return (
    [...value]
      .map((char) => (/^[\u0021-\u00ff]$/.test(char) && !'/?#'.includes(char) ? char : '%25'))
      .join('') || '%'
  );
}

/** Methods a URL does not serve, per URL pattern. */
export function otherMethodsByUrl(routes: readonly string[]): Map<string, Method[]> {
  const served = new Map<string, Set<string>>();
  for (const route of routes) {
    const [method, url] = route.split(' ') as [string, string];
    const set = served.get(url) ?? new Set<string>();
    set.add(method);
    if (method === 'GET') set.add('HEAD');
    served.set(url, set);
  }
  return new Map(
    [...served].map(([url, methods]) => [
      url,
      METHODS.filter((method) => !methods.has(method) && method !== 'OPTIONS'),
    ]),
  );
}
