import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serviceInputSchema } from '../domain/service.js';
import { entityRefName, parseBackstageCatalog } from './backstage.js';

const catalog = `
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: commerce
spec:
  owner: team-commerce
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  description: Takes card payments for checkout.
  annotations:
    opx.dev/tier: "1"
    opx.dev/customer-facing: "true"
    opx.dev/runbook: https://runbooks.example.com/payments
  links:
    - url: https://runbooks.example.com/payments/declines
      title: Card declines Runbook
    - url: https://grafana.example.com/d/payments
      title: Dashboard
    - url: https://wiki.example.com/payments/oncall
      title: On-call guide
      type: runbook
spec:
  type: service
  lifecycle: production
  owner: team-payments
  system: commerce
  dependsOn:
    - component:default/payments-db
    - resource:ledger-queue
    - fraud-scoring
    - component:fraud-scoring
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: payments-db
spec:
  type: database
  owner: team-payments
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: payments-api
spec:
  type: openapi
---
# a trailing empty document
`;

describe('parseBackstageCatalog', () => {
  it('turns components and resources into services and lists what it skipped', () => {
    const result = parseBackstageCatalog(catalog);
    if (!result.ok) throw new Error(result.error.message);
    expect(result.services).toEqual([
      {
        name: 'payments',
        kind: 'component',
        type: 'service',
        tier: 1,
        owner: 'team-payments',
        lifecycle: 'production',
        customerFacing: true,
        description: 'Takes card payments for checkout.',
        dependsOn: ['payments-db', 'ledger-queue', 'fraud-scoring'],
        runbooks: [
          { href: 'https://runbooks.example.com/payments/declines', text: 'Card declines Runbook' },
          { href: 'https://wiki.example.com/payments/oncall', text: 'On-call guide' },
          { href: 'https://runbooks.example.com/payments', text: 'runbook' },
        ],
      },
      {
        name: 'payments-db',
        kind: 'resource',
        type: 'database',
        tier: 3,
        owner: 'team-payments',
        customerFacing: false,
        dependsOn: [],
        runbooks: [],
      },
    ]);
    expect(result.skipped).toEqual([
      { kind: 'System', name: 'commerce', reason: expect.any(String) },
      { kind: 'API', name: 'payments-api', reason: expect.any(String) },
    ]);
    for (const service of result.services) expect(serviceInputSchema.parse(service)).toEqual(service);
  });

  it('reads an unquoted tier and boolean annotation as YAML gives them', () => {
    const result = parseBackstageCatalog(
      'kind: Component\nmetadata:\n  name: a\n  annotations:\n    opx.dev/tier: 2\n    opx.dev/customer-facing: false\n',
    );
    expect(result.ok && result.services[0]).toMatchObject({ tier: 2, customerFacing: false });
  });

  it('accepts an empty file', () => {
    expect(parseBackstageCatalog('')).toEqual({ ok: true, services: [], skipped: [] });
    expect(parseBackstageCatalog('---\n# nothing\n')).toEqual({ ok: true, services: [], skipped: [] });
  });

  it('reports a YAML syntax error with its line', () => {
    const result = parseBackstageCatalog(
      'kind: Component\nmetadata:\n  name: a\n---\nkind: [Component\nmetadata: {}\n',
    );
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_request', path: 'documents[1]' } });
    expect(!result.ok && result.error.message).toMatch(/line \d+/);
  });

  it.each([
    ['opx.dev/tier: "5"', 'documents[0].metadata.annotations["opx.dev/tier"]'],
    ['opx.dev/tier: gold', 'documents[0].metadata.annotations["opx.dev/tier"]'],
    ['opx.dev/customer-facing: "yes"', 'documents[0].metadata.annotations["opx.dev/customer-facing"]'],
  ])('rejects the annotation %s', (annotation, path) => {
    const result = parseBackstageCatalog(
      `kind: Component\nmetadata:\n  name: a\n  annotations:\n    ${annotation}\n`,
    );
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_request', path } });
  });

  it.each([
    ['- just a list', 'documents[0]'],
    ['metadata:\n  name: a', 'documents[0].kind'],
    ['kind: Component', 'documents[0].metadata'],
    ['kind: Component\nmetadata:\n  title: no name', 'documents[0].metadata.name'],
    ['kind: Component\nmetadata:\n  name: "bad name!"', 'documents[0].metadata.name'],
    ['kind: Component\nmetadata:\n  name: a\nspec:\n  dependsOn: b', 'documents[0].spec.dependsOn'],
    ['kind: Component\nmetadata:\n  name: a\nspec:\n  dependsOn: [7]', 'documents[0].spec.dependsOn[0]'],
    ['kind: Component\nmetadata:\n  name: a\nspec:\n  owner: [x]', 'documents[0].spec.owner'],
    [
      'kind: Component\nmetadata:\n  name: a\n---\nkind: Resource\nmetadata:\n  name: a',
      'documents[1].metadata.name',
    ],
  ])('rejects %j at %s', (yamlText, path) => {
    const result = parseBackstageCatalog(yamlText);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_request', path } });
  });

  it('strips kind and namespace from entity refs', () => {
    expect(entityRefName('component:default/payments-db')).toBe('payments-db');
    expect(entityRefName('resource:orders-db')).toBe('orders-db');
    expect(entityRefName('payments')).toBe('payments');
  });

  it('never throws on arbitrary text and only returns valid services', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.anything()), (text) => {
        const result = parseBackstageCatalog(text as string);
        if (result.ok) for (const service of result.services) serviceInputSchema.parse(service);
        else expect(['invalid_request', 'unsupported_payload']).toContain(result.error.code);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on mutated catalogs', () => {
    const lines = catalog.split('\n');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('delete', 'replace', 'insert'), fc.string()), {
          maxLength: 4,
        }),
        (edits) => {
          const edited = [...lines];
          for (const [at, operation, text] of edits) {
            const index = at % edited.length;
            if (operation === 'delete') edited.splice(index, 1);
            else if (operation === 'replace') edited[index] = text;
            else edited.splice(index, 0, text);
          }
          const result = parseBackstageCatalog(edited.join('\n'));
          if (result.ok) for (const service of result.services) serviceInputSchema.parse(service);
          else expect(result.error.message.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
