import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vendorNegatives, vendorPositives } from '../../bench/support/vendor-corpus.js';
import {
  Anonymizer,
  candidates,
  DEFAULT_POLICY,
  guard,
  HashedPlaceholders,
  keyedHash,
  type Policy,
  resolveOverlaps,
  scan,
  violations,
} from './engine.js';
import { ENTITY_TYPES, type EntityType } from './recognizers.js';
import { VENDOR_RULES, vendorMatches } from './vendor.js';

const ALL_ON: Policy = {
  entities: Object.fromEntries(ENTITY_TYPES.map((type) => [type, 'ANONYMIZE'])),
};

function typesIn(text: string, policy: Policy = DEFAULT_POLICY): EntityType[] {
  return scan(text, policy).entities.map((entity) => entity.type);
}

// Fake, format-valid values (documented examples or random).
const FAKE = {
  awsId: 'AKIAIOSFODNN7EXAMPLE',
  awsSecret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  github: 'ghp_R8mQ2vX9kLp4Tz7Wb3Nc6Yd1Hf5Gj0Ks2Ae8U',
  slack: 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
  anthropic: `sk-ant-api03-${'a1B2c3D4e5'.repeat(9)}AA`,
  openai: 'sk-proj-Ab3De5Gh7Jk9Mn2Pq4St6Vw8Yz0Bc1Df',
  jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLWZha2U',
};

describe('recognizers: true and near-miss examples', () => {
  const cases: [EntityType, string, string][] = [
    ['EMAIL', 'mail ops.fake@example.com now', 'mail ops.fake@ now'],
    ['EMAIL', 'mail jürgen.müller@beispiel.de now', 'mail jürgen.müller@ now'],
    ['EMAIL', 'contact=jane.doe%40example.com', 'discount=40%40off'],
    ['EMAIL', 'write to jane [at] example [dot] com', 'meet at the example dot com'],
    ['AWS_ACCESS_KEY', 'key AKIA\u200BIOSFODNN7EXAMPLE', 'key AKIA\u200BIOSFODNN7EXAMPL'],
    ['CREDIT_DEBIT_CARD_NUMBER', 'card 4111 1111 1111 1111', 'card 4111 1111 1111 1112'],
    // Dotted groups are a card; a Luhn-valid counter beside "offset" is not.
    ['CREDIT_DEBIT_CARD_NUMBER', 'card 4111.1111.1111.1111', 'kafka partition 3 offset=4111111111111111'],
    ['CREDIT_DEBIT_CARD_NUMBER', 'paid with 4111111111111111', 'committed 4532015112830366 records'],
    ['US_SOCIAL_SECURITY_NUMBER', 'ssn 123-45-6780', 'ssn 666-45-6780'],
    ['US_BANK_ROUTING_NUMBER', 'routing number 021000021', 'routing number 021000022'],
    [
      'INTERNATIONAL_BANK_ACCOUNT_NUMBER',
      'iban GB82 WEST 1234 5698 7654 32',
      'iban GB82 WEST 1234 5698 7654 33',
    ],
    ['IP_ADDRESS', 'from 203.0.113.45 ok', 'from 203.0.113.456 ok'],
    ['IP_ADDRESS', 'to 2001:db8::8a2e:370:7334 ok', 'at 10:11:12 ok'],
    ['MAC_ADDRESS', 'mac 00:1A:2B:3C:4D:5E', 'mac 00:1A:2B:3C:4D'],
    ['PHONE', 'call me on +1 (415) 555-0100', 'took 2024-01-31 10'],
    ['AWS_ACCESS_KEY', `key ${FAKE.awsId}`, 'key AKIAIOSFODNN7EXAMPL'],
    [
      'AWS_SECRET_KEY',
      `aws_secret_access_key=${FAKE.awsSecret}`,
      `commit ${'3f786850e387550fdab836ed7e6dc881de23001b'}`,
    ],
    ['GITHUB_TOKEN', `token ${FAKE.github}`, 'token ghp_short'],
    ['SLACK_TOKEN', `t=${FAKE.slack}`, 't=xoxz-123'],
    [
      'SLACK_WEBHOOK',
      'https://hooks.slack.com/services/T0000FAKE/B0000FAKE/XXXXfakeXXXXfakeXXXX',
      'https://hooks.slack.com/',
    ],
    ['ANTHROPIC_API_KEY', `key ${FAKE.anthropic}`, 'key sk-ant-'],
    ['OPENAI_API_KEY', `key ${FAKE.openai}`, 'sk-learn-model-loaded-from-cache'],
    ['JWT', `Bearer ${FAKE.jwt}`, 'eyJub3RhbGciOjF9.eyJzdWIiOiIxIn0.sig'],
    [
      'PRIVATE_KEY',
      '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----',
      'BEGIN PRIVATE KEY',
    ],
    ['PASSWORD', 'postgres://app:s3cr3tP4ss@db:5432/x', 'postgres://app@db:5432/x'],
    ['PASSWORD', 'Server=db;Password=Fake_pw_123;', 'password=********'],
    ['AUTHORIZATION_HEADER', 'Authorization: Bearer abcDEF123456789xyz', 'Authorization: Bearer'],
    // HTTP Basic credentials away from an Authorization key: the value must decode to user:password.
    ['AUTHORIZATION_HEADER', 'auth header basic YWRtaW46aHVudGVyMg==', 'basic YWRtaW5pc3RyYXRvcg== enabled'],
    ['PASSWORD', 'curl -u admin:hunter2 https://x', 'curl -u admin https://x'],
    ['API_TOKEN', 'key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY', 'key=AIzaSyD-9tSrke72Pou'],
    [
      'API_TOKEN',
      `AccountName=a;AccountKey=${'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='}`,
      'AccountName=a;AccountKey=short==',
    ],
    // From secretlint's preset (vendor.ts).
    ['API_TOKEN', `stripe ${'sk_live_'}${'4eC39HqLyjWDarjtT1zdp7dc'}`, 'stripe sk_live_short'],
    ['API_TOKEN', `npm ${'npm_'}${'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'}`, 'npm npm_install'],
  ];
  for (const [type, positive, negative] of cases) {
    it(`${type}: ${JSON.stringify(positive)}`, () => {
      expect(typesIn(positive, ALL_ON)).toContain(type);
      expect(typesIn(negative, ALL_ON)).not.toContain(type);
    });
  }

  it('leaves look-alike log noise alone under the default policy', () => {
    const noise = [
      'commit 3f786850e387550fdab836ed7e6dc881de23001b merged',
      'request_id=0b9a3e1c-8f0e-4c55-9a8f-2b7d1c3e4f5a',
      '2024-05-02 10:11:12.345 INFO took 1234 ms pid 40213',
      'token_ttl_seconds=3600 refresh_token_rotation=true',
      ['DB_PASSWORD=$', '{DB_PASSWORD}'].join(''),
      'build 20240502.1 version 3.12.4',
    ];
    for (const line of noise) expect(scan(line).entities, line).toEqual([]);
  });
});

describe('findings fixed after review', () => {
  it('redacts a whole unquoted password, & included, and still ends one at a query string', () => {
    expect(scan('login passwd: Tr0ub4dor&3 ok').redacted).toBe('login passwd: <PASSWORD_1> ok');
    expect(scan('password=Tr0ub4dor&3&user=x').redacted).toBe('password=<PASSWORD_1>&user=x');
  });

  it('takes an IPv4-mapped IPv6 address whole, and a sentence-ending dot stays outside', () => {
    expect(scan('client ::ffff:192.0.2.1 connected').redacted).toBe('client <IP_ADDRESS_1> connected');
    expect(scan('from [::ffff:10.1.2.3]:443').redacted).toBe('from [<IP_ADDRESS_1>]:443');
    expect(scan('addr fe80::1. next').redacted).toBe('addr <IP_ADDRESS_1>. next');
  });

  it('does not read the account id of an ARN as a card number', () => {
    // Luhn-valid, twelve digits with a Maestro prefix.
    expect(typesIn('assumed arn:aws:iam::602774911674:role/reader', ALL_ON)).toEqual([]);
    expect(typesIn('queue arn:aws:sqs:us-east-1:602774911674:orders', ALL_ON)).toEqual([]);
    expect(typesIn('paid with 602774911674', ALL_ON)).toContain('CREDIT_DEBIT_CARD_NUMBER');
  });
});

describe('engine', () => {
  it('offsets index the original text', () => {
    const text = `user bob@example.com key ${FAKE.awsId} from 10.0.0.12`;
    const result = scan(text);
    expect(result.entities.map((entity) => text.slice(entity.start, entity.end))).toEqual([
      'bob@example.com',
      FAKE.awsId,
      '10.0.0.12',
    ]);
    expect(result.action).toBe('block');
    expect(result.redacted).toBe('user <EMAIL_1> key <AWS_ACCESS_KEY_1> from <IP_ADDRESS_1>');
  });

  it('PII alone anonymizes, nothing allows', () => {
    expect(scan('mail bob@example.com').action).toBe('anonymize');
    expect(scan('all good').action).toBe('allow');
    expect(scan('all good').redacted).toBe('all good');
  });

  it('resolves overlaps: higher score, then longer, then earlier', () => {
    const kept = resolveOverlaps([
      { start: 0, end: 10, score: 0.5 },
      { start: 2, end: 6, score: 0.9 },
      { start: 5, end: 12, score: 0.9 },
      { start: 20, end: 25, score: 0.6 },
      { start: 20, end: 28, score: 0.6 },
    ]);
    expect(kept).toEqual([
      { start: 5, end: 12, score: 0.9 },
      { start: 20, end: 28, score: 0.6 },
    ]);
  });

  it('a password inside a URL beats the URL around it', () => {
    const text = 'https://app:s3cr3tP4ss@db.example.com/x';
    const result = scan(text, ALL_ON);
    expect(result.entities.map((entity) => entity.type)).toEqual(['PASSWORD']);
    expect(result.redacted).toBe('https://app:<PASSWORD_1>@db.example.com/x');
  });

  it('keeps placeholders stable per value within a call and across a session', () => {
    const one = scan('a@example.com b@example.com a@example.com');
    expect(one.redacted).toBe('<EMAIL_1> <EMAIL_2> <EMAIL_1>');
    const session = new Anonymizer();
    expect(session.scan('from b@example.com').redacted).toBe('from <EMAIL_1>');
    expect(session.scan('to a@example.com, cc b@example.com').redacted).toBe('to <EMAIL_2>, cc <EMAIL_1>');
    expect(session.size).toBe(2);
  });

  it('respects OFF and minScore', () => {
    expect(scan('mail bob@example.com', { entities: { EMAIL: 'OFF' } }).action).toBe('allow');
    expect(scan('mail bob@example.com', { entities: { EMAIL: 'ANONYMIZE' }, minScore: 0.95 }).action).toBe(
      'allow',
    );
  });

  it('fails closed', () => {
    const bad = guard('x', { entities: { NOT_A_TYPE: 'BLOCK' } as unknown as Policy['entities'] });
    expect(bad.action).toBe('block');
    expect(bad.redacted).toBe('');
    expect(bad.reason).toMatch(/unknown entity type/);
    const broken = guard('hello', DEFAULT_POLICY, undefined, () => {
      throw new Error('boom');
    });
    expect(broken).toMatchObject({ action: 'block', reason: 'guardrail error: boom' });
    expect(guard('x'.repeat(20), { ...DEFAULT_POLICY, maxLength: 10 }).action).toBe('block');
    expect(guard('hello').action).toBe('allow');
  });

  it('records violations with a keyed hash, never the raw value', () => {
    const text = `key ${FAKE.awsId}`;
    const recorded = violations(text, scan(text), 'k1');
    expect(recorded).toEqual([
      { type: 'AWS_ACCESS_KEY', mode: 'BLOCK', start: 4, end: 24, hash: keyedHash(FAKE.awsId, 'k1') },
    ]);
    expect(JSON.stringify(recorded)).not.toContain(FAKE.awsId);
    expect(keyedHash(FAKE.awsId, 'k1')).not.toBe(keyedHash(FAKE.awsId, 'k2'));
    expect(keyedHash('x', 'k')).toMatch(/^[0-9a-f]{64}$/);
    expect(() => keyedHash('x', '')).toThrow();
  });

  it('stays fast on adversarial input (no catastrophic backtracking)', () => {
    const nasty = [
      'a'.repeat(50_000),
      '1 '.repeat(25_000),
      `${'a.'.repeat(20_000)}@`,
      `password=${'x'.repeat(50_000)}`,
      `-----BEGIN PRIVATE KEY-----${'A'.repeat(50_000)}`,
      ':'.repeat(50_000),
      'eyJ'.repeat(20_000),
    ];
    for (const text of nasty) {
      const started = performance.now();
      guard(text, ALL_ON);
      expect(performance.now() - started, text.slice(0, 10)).toBeLessThan(2_000);
    }
  });
});

describe('properties', () => {
  const values = fc.constantFrom(
    'bob@example.com',
    'alice.fake@example.org',
    '4111 1111 1111 1111',
    '123-45-6780',
    '203.0.113.45',
    FAKE.awsId,
    FAKE.github,
    FAKE.jwt,
    FAKE.openai,
    'GB82WEST12345698765432',
  );
  const filler = fc.constantFrom('user', 'login', 'from', 'ERROR', 'key', 'at', 'ok', '->', '|', 'request');
  const texts = fc
    .array(fc.oneof(values, filler), { minLength: 1, maxLength: 12 })
    .map((parts) => parts.join(' '));

  it('offsets slice the original text to the matched value, and entities do not overlap', () => {
    fc.assert(
      fc.property(texts, (text) => {
        const { entities } = scan(text, ALL_ON);
        let previousEnd = 0;
        for (const entity of entities) {
          expect(entity.start).toBeGreaterThanOrEqual(previousEnd);
          expect(entity.end).toBeGreaterThan(entity.start);
          previousEnd = entity.end;
        }
      }),
    );
  });

  it('redacted text never contains a matched raw value, and every planted value is found', () => {
    fc.assert(
      fc.property(fc.array(values, { minLength: 1, maxLength: 6 }), filler, (planted, sep) => {
        const text = planted.join(` ${sep} `);
        const result = scan(text, ALL_ON);
        const matched = result.entities.map((entity) => text.slice(entity.start, entity.end));
        for (const value of matched) expect(result.redacted).not.toContain(value);
        for (const value of planted) expect(matched).toContain(value);
      }),
    );
  });
});

describe('prefilters', () => {
  const ROOT = path.resolve(import.meta.dirname, '..', '..');
  const corpus = readFileSync(path.join(ROOT, 'bench', 'data', 'secrets-corpus.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (JSON.parse(line) as { text: string }).text);
  const presidio = JSON.parse(
    readFileSync(path.join(ROOT, 'bench', 'data', 'pii', 'presidio_synth_dataset_v2.json'), 'utf8'),
  ) as { full_text: string }[];
  // The vendor-token corpus holds every format secretlint's anchors (vendor.ts) gate, and look-alikes.
  const vendor = [...vendorPositives(), ...vendorNegatives(10)].map((sample) => sample.text);
  const texts = [...corpus, ...presidio.map((record) => record.full_text), ...vendor];

  it('change no result: with and without them, every text yields the same candidates', () => {
    let found = 0;
    for (const text of texts) {
      const fast = candidates(text, ALL_ON);
      expect(fast).toEqual(candidates(text, ALL_ON, { prefilter: false }));
      found += fast.length;
    }
    expect(found).toBeGreaterThan(300);
  });

  it('change no result on generated text built from entity fragments and context words', () => {
    const fragment = fc.constantFrom(
      ...Object.values(FAKE),
      '4111 1111 1111 1111',
      '078-05-1120',
      '123456789',
      'GB82 WEST 1234 5698 7654 32',
      '+1 (415) 555-0132',
      'ssn',
      'passport',
      'routing',
      'driver',
      'xssn',
      'password=',
      'token: ',
      'postgres://app:',
      '@db.internal',
      ' ',
      '\n',
      'a@b.co',
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(fragment, fc.string({ maxLength: 6 })), { maxLength: 12 }), (parts) => {
        const text = parts.join('');
        expect(candidates(text, ALL_ON)).toEqual(candidates(text, ALL_ON, { prefilter: false }));
      }),
      { numRuns: 500 },
    );
  });
});

describe('HashedPlaceholders', () => {
  it('gives a value the same placeholder in every text under one key, and another under another key', () => {
    const a = new HashedPlaceholders('k'.repeat(32));
    const first = scan('mail jane@example.com now', DEFAULT_POLICY, a).redacted;
    const second = scan(
      'from jane@example.com',
      DEFAULT_POLICY,
      new HashedPlaceholders('k'.repeat(32)),
    ).redacted;
    const placeholder = /<EMAIL_[0-9a-f]{10}>/.exec(first)?.[0];
    expect(placeholder).toBeDefined();
    expect(second).toContain(placeholder);
    expect(
      scan('jane@example.com', DEFAULT_POLICY, new HashedPlaceholders('z'.repeat(32))).redacted,
    ).not.toBe(placeholder);
    expect(() => new HashedPlaceholders('')).toThrow(/key/);
  });
});

describe("secretlint's preset", () => {
  it('runs its text rules synchronously, with exact spans', () => {
    expect(VENDOR_RULES.length).toBeGreaterThanOrEqual(20);
    expect(VENDOR_RULES).not.toContain('aws');
    const token = `glpat-${'Ab3De5Gh7Jk9Mn2Pq4St'}`;
    const text = `push failed with ${token}: 401`;
    const matches = vendorMatches(text, () => true);
    expect(matches).toHaveLength(1);
    expect(text.slice(matches[0]!.start, matches[0]!.end)).toBe(token);
    expect(matches[0]!.recognizer).toBe('secretlint:gitlab/GITLAB_PERSONAL_ACCESS_TOKEN');
  });

  it('leaves a URL credential to the narrower table row, so the host stays', () => {
    const result = scan('connect postgres://app:s3cr3tP4ss@db.internal:5432/x');
    expect(result.redacted).toBe('connect postgres://app:<PASSWORD_1>@db.internal:5432/x');
  });

  it('respects a policy that turns a type off', () => {
    const text = `stripe ${'sk_live_'}${'4eC39HqLyjWDarjtT1zdp7dc'}`;
    const off: Policy = { entities: { ...DEFAULT_POLICY.entities, API_TOKEN: 'OFF' } };
    expect(scan(text, off).action).toBe('allow');
    expect(scan(text).action).toBe('block');
  });

  it('blocks every format of the vendor corpus but the ones the bench reports as misses', () => {
    const samples = vendorPositives();
    const missed = samples.filter((sample) => {
      const result = scan(sample.text);
      return result.action !== 'block' || result.redacted.includes(sample.secret);
    });
    // SendGrid keys whose first segment holds a '-' are outside secretlint's pattern (\w only).
    expect(missed.map((sample) => sample.format).filter((format) => format !== 'sendgrid api key')).toEqual(
      [],
    );
    expect(missed.length / samples.length).toBeLessThanOrEqual(0.02);
  });
});
