import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SignalDraft } from '../domain/signal.js';
import { keyedHash } from './engine.js';
import { guardrailKey, StorageRedactor } from './stored.js';

const KEY = 'k'.repeat(32);
const EMAIL = 'ana.silva@example.com';
const PLACEHOLDER = /^<EMAIL_[0-9a-f]{10}>$/;

function draft(overrides: Partial<SignalDraft> = {}): SignalDraft {
  return {
    source: 'generic',
    fingerprint: 'fp-1',
    status: 'firing',
    severity: 'critical',
    service: 'checkout',
    environment: 'production',
    title: 'HighErrorRate',
    labels: { alertname: 'HighErrorRate' },
    annotations: {},
    links: [],
    ...overrides,
  };
}

describe('StorageRedactor', () => {
  it('replaces PII and secrets in every text field with keyed placeholders and lists what it replaced', () => {
    const redactor = new StorageRedactor(KEY);
    const { draft: out, redactions } = redactor.signal(
      draft({
        title: `Checkout failing for ${EMAIL}`,
        description: `card 4111 1111 1111 1111 declined; db postgres://app:s3cr3t-Pass@db:5432/shop`,
        labels: { alertname: 'HighErrorRate', customer: EMAIL, ssn: '536220145' },
        annotations: { runbook: 'https://runbooks.example.com/checkout' },
        links: [{ href: 'https://grafana.example.com/d/1?token=ghp_R8mQ2vX9kLp4Tz7Wb3Nc6Yd1Hf5Gj0Ks2Ae8U' }],
        raw: { alerts: [{ labels: { user: EMAIL }, value: 3, nested: [`to ${EMAIL}`] }] },
      }),
    );
    const placeholder = out.labels.customer!;
    expect(placeholder).toMatch(PLACEHOLDER);
    expect(out.title).toBe(`Checkout failing for ${placeholder}`);
    expect(out.description).toMatch(/card <CREDIT_DEBIT_CARD_NUMBER_[0-9a-f]{10}> declined/);
    expect(out.description).toMatch(/postgres:\/\/app:<PASSWORD_[0-9a-f]{10}>@db:5432\/shop/);
    // The key is context: a bare nine-digit number is an SSN when the label says so.
    expect(out.labels.ssn).toMatch(/^<US_SOCIAL_SECURITY_NUMBER_[0-9a-f]{10}>$/);
    expect(out.labels.alertname).toBe('HighErrorRate');
    // URLs are evidence and stay; a token inside one does not.
    expect(out.annotations.runbook).toBe('https://runbooks.example.com/checkout');
    expect(out.links[0]!.href).not.toContain('ghp_');
    expect(out.raw).toEqual({
      alerts: [{ labels: { user: placeholder }, value: 3, nested: [`to ${placeholder}`] }],
    });
    expect(JSON.stringify(out)).not.toContain(EMAIL);
    expect(redactions.map((redaction) => redaction.field)).toEqual(
      expect.arrayContaining([
        'title',
        'description',
        'labels.customer',
        'labels.ssn',
        'links[0].href',
        'raw.alerts[0].labels.user',
        'raw.alerts[0].nested[0]',
      ]),
    );
    const title = redactions.find((redaction) => redaction.field === 'title')!;
    expect(title).toEqual({
      field: 'title',
      type: 'EMAIL',
      start: 21,
      end: 21 + EMAIL.length,
      hash: keyedHash(EMAIL, KEY),
    });
    expect(JSON.stringify(redactions)).not.toContain(EMAIL);
  });

  it('returns a clean draft as the same object and redacts a change summary and author', () => {
    const redactor = new StorageRedactor(KEY);
    const clean = draft({ description: 'p99 latency 2.3s on 10.0.4.17:9100', raw: { a: 'b' } });
    expect(redactor.signal(clean)).toEqual({ draft: clean, redactions: [] });
    expect(redactor.signal(clean).draft).toBe(clean);
    const { change, redactions } = redactor.change({
      kind: 'deploy',
      service: 'checkout',
      environment: 'production',
      author: EMAIL,
      summary: `rolled out by ${EMAIL}`,
      startedAt: 1,
      links: [],
      source: 'api',
    });
    expect(change.author).toMatch(PLACEHOLDER);
    expect(change.summary).toBe(`rolled out by ${change.author}`);
    expect(redactions.map((redaction) => redaction.field)).toEqual(['summary', 'author']);
  });

  it('gives the same value the same placeholder across signals and redactors sharing a key', () => {
    const a = new StorageRedactor(KEY).signal(draft({ title: `for ${EMAIL}` })).draft.title;
    const b = new StorageRedactor(KEY).signal(draft({ title: `again ${EMAIL}` })).draft.title;
    expect(a.slice(4)).toBe(b.slice(6));
    const other = new StorageRedactor('z'.repeat(32)).signal(draft({ title: `for ${EMAIL}` })).draft.title;
    expect(other).not.toBe(a);
  });

  it('redacts the identifiers a sender chooses too: fingerprint, label keys, metric names, raw keys, versions', () => {
    const redactor = new StorageRedactor(KEY);
    const sent = draft({
      fingerprint: `pd/${EMAIL}`,
      labels: { [`team/${EMAIL}`]: 'payments', alertname: 'HighErrorRate' },
      metric: { name: `latency_for_${EMAIL}`, namespace: `ns ${EMAIL}` },
      raw: { [EMAIL]: 1 },
    });
    const once = redactor.signal(sent).draft;
    const twice = redactor.signal(sent).draft;
    expect(JSON.stringify(once)).not.toContain(EMAIL);
    expect(once.fingerprint).toMatch(/^pd\/<EMAIL_[0-9a-f]{10}>$/);
    // The same sender id becomes the same placeholder each time, so deduplication still matches.
    expect(twice.fingerprint).toBe(once.fingerprint);
    expect(Object.keys(once.labels)).toEqual([expect.stringMatching(/^team\/<EMAIL_/), 'alertname']);
    expect(once.metric?.name).not.toContain(EMAIL);

    const change = redactor.change({
      kind: 'deploy',
      service: 'checkout',
      environment: 'production',
      summary: 'deploy',
      startedAt: 1,
      links: [],
      versionTo: `build-for-${EMAIL}`,
      externalId: `deploy/${EMAIL}`,
      source: 'api',
    } as Parameters<StorageRedactor['change']>[0]).change;
    expect(JSON.stringify(change)).not.toContain(EMAIL);

    const silence = redactor.silence({
      comment: `ask ${EMAIL}`,
      matchers: [
        { field: 'customer', op: '=', value: EMAIL },
        { field: 'service', op: '=~', value: 'check.*' },
      ],
    });
    expect(JSON.stringify(silence)).not.toContain(EMAIL);
    // An equality matcher's value is the placeholder the stored label value became.
    const stored = redactor.signal(draft({ labels: { customer: EMAIL } })).draft;
    expect(silence.matchers[0]).toEqual({ field: 'customer', op: '=', value: stored.labels.customer });
    expect(silence.matchers[1]).toEqual({ field: 'service', op: '=~', value: 'check.*' });
  });

  it('walks a raw payload of any depth without exhausting the stack, and keeps its shape and key order', () => {
    const redactor = new StorageRedactor(KEY);
    let deep: unknown = { user: EMAIL, z: 1, a: [EMAIL] };
    for (let level = 0; level < 20_000; level += 1) deep = level % 2 === 0 ? [deep] : { level: deep };
    const { draft: out, redactions } = redactor.signal(draft({ raw: { detail: deep } }));
    let inner: unknown = (out.raw as { detail: unknown }).detail;
    for (let level = 19_999; level >= 0; level -= 1)
      inner = level % 2 === 0 ? (inner as unknown[])[0] : (inner as { level: unknown }).level;
    expect(Object.keys(inner as object)).toEqual(['user', 'z', 'a']);
    expect(inner).toMatchObject({ z: 1 });
    expect((inner as { user: string }).user).toMatch(PLACEHOLDER);
    expect((inner as { a: string[] }).a[0]).toBe((inner as { user: string }).user);
    expect(redactions).toHaveLength(2);
  });

  it('fails closed: a value the scanner cannot take is replaced, never stored as received', () => {
    const redactor = new StorageRedactor(KEY, { entities: { EMAIL: 'ANONYMIZE' }, maxLength: 10 });
    const { draft: out, redactions } = redactor.signal(draft({ title: `for ${EMAIL}` }));
    expect(out.title).toMatch(/^\[not stored: the guardrail could not scan this value: .*exceeds the limit/);
    expect(redactions.find((redaction) => redaction.field === 'title')).toMatchObject({
      type: 'GUARDRAIL_ERROR',
    });
    // Identifiers stay distinct: two fingerprints never become the same text.
    const other = redactor.signal(draft({ title: `for ${EMAIL}`, fingerprint: 'another-alert' })).draft;
    expect(other.fingerprint).not.toBe(out.fingerprint);
  });
});

describe('guardrailKey', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('uses the configured key, else creates one file (mode 0600) and keeps using it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'opx-key-'));
    dirs.push(dir);
    expect(guardrailKey('c'.repeat(20), dir)).toBe('c'.repeat(20));
    const created = guardrailKey(undefined, path.join(dir, 'data'));
    expect(created).toMatch(/^[0-9a-f]{64}$/);
    const file = path.join(dir, 'data', 'guardrail.key');
    expect(readFileSync(file, 'utf8').trim()).toBe(created);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(guardrailKey(undefined, path.join(dir, 'data'))).toBe(created);
  });
});
