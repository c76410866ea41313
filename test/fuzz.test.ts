import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otherMethodsByUrl, requestArbitrary } from '../bench/support/fuzz/generators.js';
import { checkIncidentChains, runCase } from '../bench/support/fuzz/properties.js';
import { routeSpecs } from '../bench/support/fuzz/routes.js';
import { type FuzzTarget, startFuzzTarget } from '../bench/support/fuzz/target.js';
import { type CliScratch, cliCaseArbitrary, cliScratch, runCliCase } from '../bench/support/fuzz-cli.js';
import { BACKENDS } from './support.js';

// The CI run of `npm run bench -- fuzz`: the same generators and properties, a few cases per route.
// Every case runs alone with the write counter read around it, so a 4xx that wrote is caught here too.
const CASES = { sqlite: 20, postgres: 8 } as const;

describe.each(BACKENDS)('every HTTP route under fast-check (%s)', (backend) => {
  let target: FuzzTarget;
  beforeAll(async () => {
    target = await startFuzzTarget(backend);
  });
  afterAll(async () => {
    await target?.close();
  });

  it('has a generator for every route the server registers, and none for a route it lacks', () => {
    const specs = routeSpecs().map((spec) => spec.route);
    expect(target.routes.length).toBeGreaterThan(40);
    expect(target.routes.filter((route) => !specs.includes(route))).toEqual([]);
    expect(specs.filter((route) => !target.routes.includes(route))).toEqual([]);
  });

  // Found by the fuzzer: JSON may hold a lone surrogate, the store keeps it as U+FFFD, and a key built
  // from the raw text never matched its stored self, so the repeat hit a UNIQUE constraint (a 500 for
  // every later alert of that service).
  it('repeats a signal whose fingerprint or grouped label holds a lone surrogate instead of failing', async () => {
    const send = async (body: Record<string, unknown>) => {
      const response = await target.client.send({
        route: 'POST /v1/signals',
        variant: 'regression',
        method: 'POST',
        path: '/v1/signals',
        headers: {
          authorization: `Bearer ${target.context.tokens.ingest}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          source: 'generic',
          environment: 'prod',
          severity: 'critical',
          title: 't',
          ...body,
        }),
      });
      expect(response.status, response.text).toBe(200);
      return JSON.parse(response.text).signals[0].action as string;
    };
    expect(await send({ service: 'lone', fingerprint: 'fp\ud800' })).toBe('created');
    expect(await send({ service: 'lone', fingerprint: 'fp\ud800' })).toBe('repeated');
    for (const fingerprint of ['a', 'b']) await send({ service: 'lone\udc00', fingerprint });
  });

  for (const spec of routeSpecs()) {
    it(`${spec.route}: no 5xx, no write from a 4xx, a 2xx reads back`, async () => {
      const others = otherMethodsByUrl(target.routes);
      const arbitrary = requestArbitrary(spec, target.context, others.get(spec.route.split(' ')[1]!) ?? []);
      await fc.assert(
        fc.asyncProperty(arbitrary, async (request) => {
          const failure = await runCase(target.client, spec, request, target.context, target.writes);
          expect(failure).toBeUndefined();
        }),
        { numRuns: CASES[backend] },
      );
      if (!spec.route.startsWith('GET ')) expect(await checkIncidentChains(target.client)).toBeUndefined();
    });
  }
});

describe('CLI parsers under fast-check', () => {
  let scratch: CliScratch;
  beforeAll(async () => {
    scratch = await cliScratch();
  });
  afterAll(() => {
    scratch?.cleanup();
  });

  it('argv, ingest payloads, history, kb, Backstage and config files: a usage error or OpxError, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(cliCaseArbitrary(scratch), async (input) => {
        expect(await runCliCase(scratch, input)).toBeTypeOf('string');
      }),
      { numRuns: 150 },
    );
  });
});
