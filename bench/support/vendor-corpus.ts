/**
 * The vendor-token corpus for `npm run bench -- pii`, generated from a seed rather than stored: stored,
 * it would be a file of live-looking credentials that every secret scanner flags.
 *
 * Positives: one generator per credential format, written from the vendor's published format (prefix,
 * length, alphabet, checksum where one is documented), each value placed in several log-line shapes.
 * The formats cover what OPX claims to block: secretlint's recommended preset (the rule set vendor.ts
 * runs) and the table's own credential rows. A positive is found when the secret value no longer occurs
 * in the redacted text and the scan's action is `block`.
 *
 * Negatives: identifiers a log line is full of and that are not secrets: UUIDs, hashes, git SHAs, ULIDs,
 * pod names, trace ids, Kafka offsets, image digests, request ids, ARNs. A negative line is a false
 * positive when the scan finds any entity in it at all.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

export interface VendorSample {
  format: string;
  text: string;
  /** The value that must not survive redaction. */
  secret: string;
}

export interface NegativeSample {
  kind: string;
  text: string;
}

/** mulberry32: a small seeded generator, so the corpus is the same on every run. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const chars = (alphabet: string, length: number) => {
    let out = '';
    for (let index = 0; index < length; index += 1) out += alphabet[Math.floor(next() * alphabet.length)];
    return out;
  };
  const between = (low: number, high: number) => low + Math.floor(next() * (high - low + 1));
  return { next, pick, chars, between };
}
type Rng = ReturnType<typeof generator>;

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const HEX = '0123456789abcdef';
const B64 = `${ALNUM}+/`;
const URLSAFE = `${ALNUM}_-`;
const BASE32 = `${UPPER}234567`;

/** A base64 JSON payload: starts `eyJ`, and with `pad` the encoding ends `fQ==` (a lone closing brace). */
function base64Json(rng: Rng, minLength: number): string {
  for (;;) {
    const body = JSON.stringify({
      aud: rng.pick(['production', 'staging']),
      email: `${rng.chars(LOWER, 8)}@example.com`,
      u: rng.chars(ALNUM, 26),
      k: rng.chars(ALNUM, rng.between(20, 60)),
      srp: rng.chars(HEX, rng.between(20, 40)),
    });
    const encoded = Buffer.from(body).toString('base64');
    if (encoded.endsWith('fQ==') && encoded.length >= minLength) return encoded;
  }
}

function base64url(value: string): string {
  return Buffer.from(value).toString('base64url');
}

/** One generator per format: the value, and for URL-shaped credentials the part that is the secret. */
const FORMATS: Record<string, (rng: Rng) => { value: string; secret?: string }> = {
  // The table's own credential rows.
  'aws access key id': (rng) => ({ value: `${rng.pick(['AKIA', 'ASIA'])}${rng.chars(BASE32, 16)}` }),
  'github classic token': (rng) => ({
    value: `${rng.pick(['ghp', 'gho', 'ghu', 'ghs', 'ghr'])}_${rng.chars(ALNUM, 36)}`,
  }),
  'github fine-grained token': (rng) => ({
    value: `github_pat_${rng.chars(UPPER + DIGITS, 22)}_${rng.chars(ALNUM, 59)}`,
  }),
  'slack bot token': (rng) => ({
    value: `xoxb-${rng.chars(DIGITS, 12)}-${rng.chars(DIGITS, 13)}-${rng.chars(ALNUM, 24)}`,
  }),
  'slack user token': (rng) => ({
    value: `xoxp-${rng.chars(DIGITS, 12)}-${rng.chars(DIGITS, 12)}-${rng.chars(DIGITS, 13)}-${rng.chars(HEX, 32)}`,
  }),
  'slack incoming webhook': (rng) => ({
    value: `https://hooks.slack.com/services/T${rng.chars(UPPER + DIGITS, 8)}/B${rng.chars(UPPER + DIGITS, 10)}/${rng.chars(ALNUM, 24)}`,
  }),
  'openai project key': (rng) => ({
    value: `sk-proj-${rng.chars(URLSAFE, 74)}T3BlbkFJ${rng.chars(URLSAFE, 74)}`,
  }),
  'openai legacy key': (rng) => ({ value: `sk-${rng.chars(ALNUM, 20)}T3BlbkFJ${rng.chars(ALNUM, 20)}` }),
  'anthropic api key': (rng) => ({ value: `sk-ant-api03-${rng.chars(URLSAFE, 93)}AA` }),
  jwt: (rng) => ({
    value: `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(
      JSON.stringify({ sub: rng.chars(DIGITS, 8), iat: 1_700_000_000 + rng.between(0, 9_999_999) }),
    )}.${rng.chars(URLSAFE, 43)}`,
  }),
  'private key (PEM)': (rng) => {
    const kind = rng.pick(['RSA ', 'EC ', 'OPENSSH ', '']);
    const lines = Array.from({ length: rng.between(4, 8) }, () => rng.chars(B64, 64)).join('\n');
    return { value: `-----BEGIN ${kind}PRIVATE KEY-----\nMII${lines}\n-----END ${kind}PRIVATE KEY-----` };
  },
  'password in a URL': (rng) => {
    const password = `${rng.chars(ALNUM, rng.between(10, 20))}`;
    return {
      value: `https://${rng.pick(['deploy', 'svc-ci', 'admin'])}:${password}@${rng.pick(['registry', 'nexus', 'git'])}.internal.example.net/v2/`,
      secret: password,
    };
  },
  'postgres connection string': (rng) => {
    const password = rng.chars(ALNUM, rng.between(12, 24));
    return {
      value: `postgres://orders_app:${password}@pg-${rng.chars(LOWER, 5)}.db.internal:5432/orders`,
      secret: password,
    };
  },
  'mongodb connection string': (rng) => {
    const password = rng.chars(ALNUM, rng.between(12, 24));
    return {
      value: `mongodb+srv://catalog:${password}@cluster0.${rng.chars(LOWER, 5)}.mongodb.net/catalog?retryWrites=true`,
      secret: password,
    };
  },
  'mysql connection string': (rng) => {
    const password = rng.chars(ALNUM, rng.between(12, 24));
    return { value: `mysql://billing:${password}@mysql-primary:3306/billing`, secret: password };
  },
  // secretlint's recommended preset.
  'stripe secret key': (rng) => ({
    value: `${rng.pick(['sk_live', 'sk_test'])}_${rng.chars(ALNUM, rng.between(24, 99))}`,
  }),
  'stripe restricted key': (rng) => ({
    value: `${rng.pick(['rk_live', 'rk_test'])}_${rng.chars(ALNUM, rng.between(24, 99))}`,
  }),
  'npm access token': (rng) => ({ value: `npm_${rng.chars(ALNUM, 36)}` }),
  'gitlab personal access token': (rng) => ({ value: `glpat-${rng.chars(ALNUM, 20)}` }),
  'grafana cloud token': (rng) => ({ value: `glc_${base64Json(rng, 60).replace(/=+$/, '')}` }),
  'grafana service account token': (rng) => ({ value: `glsa_${rng.chars(ALNUM, 32)}_${rng.chars(HEX, 8)}` }),
  'sendgrid api key': (rng) => ({ value: `SG.${rng.chars(URLSAFE, 22)}.${rng.chars(URLSAFE, 43)}` }),
  'shopify access token': (rng) => ({
    value: `${rng.pick(['shpat', 'shpca', 'shppa', 'shpss'])}_${rng.chars(HEX, 32)}`,
  }),
  'groq api key': (rng) => ({ value: `gsk_${rng.chars(ALNUM, 52)}` }),
  'hugging face token': (rng) => ({ value: `hf_${rng.chars(UPPER + LOWER, 34)}` }),
  'linear api key': (rng) => ({ value: `lin_api_${rng.chars(ALNUM, 40)}` }),
  'notion integration token': (rng) => ({ value: `ntn_${rng.chars(DIGITS, 11)}${rng.chars(ALNUM, 35)}` }),
  '1password service account token': (rng) => ({ value: `ops_${base64Json(rng, 120)}` }),
  'vault service token': (rng) => ({ value: `hvs.${rng.chars(URLSAFE, rng.between(90, 120))}` }),
  'vault batch token': (rng) => ({ value: `hvb.${rng.chars(URLSAFE, rng.between(138, 200))}` }),
  'vercel token': (rng) => ({
    value: `${rng.pick(['vcp', 'vci', 'vca', 'vcr', 'vck'])}_${rng.chars(ALNUM, rng.between(24, 56))}`,
  }),
  'databricks token': (rng) => ({ value: `dapi${rng.chars(HEX, 32)}` }),
  'docker personal access token': (rng) => ({ value: `dckr_pat_${rng.chars(URLSAFE, 27)}` }),
  'figma personal access token': (rng) => ({ value: `figd_${rng.chars(URLSAFE, 40)}` }),
  'cloudflare api token': (rng) => {
    const body = rng.chars(ALNUM, 40);
    const checksum = (crc32(body) >>> 0).toString(16).padStart(8, '0');
    return { value: `${rng.pick(['cfk', 'cfut', 'cfat'])}_${body}${checksum}` };
  },
  'tailscale key': (rng) => ({
    value: `tskey-${rng.pick(['api', 'auth', 'client', 'scim', 'webhook'])}-k${rng.chars(ALNUM, 10)}CNTRL-${rng.chars(ALNUM, 30)}`,
  }),
};

/** Log-line shapes a credential turns up in. */
const PLACEMENTS: readonly ((value: string) => string)[] = [
  (value) => `2026-11-30T08:14:02.114Z ERROR auth failed for credential ${value} (401 Unauthorized)`,
  (value) => `export DEPLOY_CREDENTIAL="${value}"`,
  (value) => `{"level":"warn","msg":"retrying upstream","config":{"token":"${value}","timeout_ms":3000}}`,
  (value) => `curl -sS -H 'X-Api-Key: ${value}' https://api.example.com/v1/status`,
  (value) => `worker-3 | using ${value}; next retry in 30s`,
];

/** Values per format: every placement once. */
export function vendorPositives(seed = 20261205): VendorSample[] {
  const rng = generator(seed);
  const out: VendorSample[] = [];
  for (const [format, make] of Object.entries(FORMATS))
    for (const place of PLACEMENTS) {
      const { value, secret } = make(rng);
      out.push({ format, text: place(value), secret: secret ?? value });
    }
  return out;
}

export const VENDOR_FORMATS: readonly string[] = Object.keys(FORMATS);

const uuid = (rng: Rng) => {
  const hex = rng.chars(HEX, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${rng.pick(['8', '9', 'a', 'b'])}${hex.slice(17, 20)}-${hex.slice(20)}`;
};
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

const NEGATIVES: Record<string, (rng: Rng) => string> = {
  uuid: (rng) => `request ${uuid(rng)} completed in ${rng.between(2, 900)}ms`,
  'sha-256': (rng) =>
    `verified artifact sha256=${createHash('sha256').update(rng.chars(ALNUM, 16)).digest('hex')}`,
  'sha-1 / git sha': (rng) =>
    `deployed commit ${createHash('sha1').update(rng.chars(ALNUM, 16)).digest('hex')} to production`,
  'md5 etag': (rng) =>
    `GET /static/app.js 200 etag="${createHash('md5').update(rng.chars(ALNUM, 8)).digest('hex')}"`,
  ulid: (rng) => `order ${rng.pick(['01J', '01H'])}${rng.chars(CROCKFORD, 23)} accepted`,
  'pod name': (rng) =>
    `Back-off restarting failed container in pod ${rng.pick(['checkout', 'payments-api', 'cart'])}-${rng.chars('bcdfghjklmnpqrstvwxz2456789', 10)}-${rng.chars('bcdfghjklmnpqrstvwxz2456789', 5)}`,
  'w3c traceparent': (rng) => `traceparent: 00-${rng.chars(HEX, 32)}-${rng.chars(HEX, 16)}-01`,
  'x-ray trace id': (rng) =>
    `X-Amzn-Trace-Id: Root=1-${rng.chars(HEX, 8)}-${rng.chars(HEX, 24)};Parent=${rng.chars(HEX, 16)};Sampled=1`,
  'kafka offset': (rng) =>
    `consumer lag topic=orders partition=${rng.between(0, 63)} offset=${rng.between(1_000_000_000, 9_999_999_999)} lag=${rng.between(0, 50_000)}`,
  'image digest': (rng) => `pulled registry.example.com/shop/api@sha256:${rng.chars(HEX, 64)}`,
  'base64 request id': (rng) => `x-request-id: ${rng.chars(B64, 22)}==`,
  'aws arn': (rng) =>
    `assumed arn:aws:iam::${rng.chars(DIGITS, 12)}:role/${rng.pick(['deployer', 'reader'])}-${rng.chars(LOWER, 6)}`,
  'cloudwatch log stream': (rng) =>
    `stream 2026/11/30/[$LATEST]${rng.chars(HEX, 32)} ended with ${rng.between(0, 9)} errors`,
  'epoch and duration': (rng) =>
    `ts=${1_700_000_000_000 + rng.between(0, 99_999_999)} dur_ns=${rng.between(1_000_000, 999_999_999)}`,
  'kubernetes uid and resource version': (rng) =>
    `pod uid=${uuid(rng)} resourceVersion=${rng.between(100_000_000, 999_999_999)}`,
};

/** `perKind` lines of each negative kind. */
export function vendorNegatives(perKind = 80, seed = 20261206): NegativeSample[] {
  const rng = generator(seed);
  const out: NegativeSample[] = [];
  for (const [kind, make] of Object.entries(NEGATIVES))
    for (let index = 0; index < perKind; index += 1) out.push({ kind, text: make(rng) });
  return out;
}
