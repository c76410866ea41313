/**
 * The recognizer table: one row per pattern. Adding a recognizer is adding a row; the engine has no
 * per-type code.
 *
 * Rules for a row's regex (log lines are attacker-controlled text):
 * - every quantifier is bounded, and no quantified group can match the same text two ways, so a
 *   match attempt costs at most a bounded amount per start position (no catastrophic backtracking);
 * - flags include `g` (the engine walks all matches) and `d` when `group` names a capture group
 *   whose span is the entity (the password in a URL, not the whole URL).
 *
 * Scores: `baseScore` is the confidence of a bare match; a context word within `window` characters
 * before or after adds `context.boost`, a negative word subtracts `negative.penalty`. The policy
 * keeps matches scoring at least its `minScore` (0.5 by default), so a row with a base below 0.5
 * only fires next to one of its context words.
 *
 * Entity types follow the Amazon Bedrock Guardrails PII list where one applies to free text, plus
 * credential types. Not covered, on purpose:
 * - NAME: person names need a language model or a named-entity recognizer; a regex over log text
 *   would either miss nearly all names or flag every capitalised word.
 * - ADDRESS: street addresses have no stable shape across countries; same reason.
 * - AGE, USERNAME, PIN, LICENSE_PLATE, CREDIT_DEBIT_CARD_CVV/EXPIRY, US_BANK_ACCOUNT_NUMBER,
 *   UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER, CA_HEALTH_NUMBER: plain short numbers that only context
 *   distinguishes; they would be noise in logs.
 */

import * as validators from './validators.js';

export const PII_TYPES = [
  'EMAIL',
  'PHONE',
  'CREDIT_DEBIT_CARD_NUMBER',
  'US_SOCIAL_SECURITY_NUMBER',
  'US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER',
  'US_BANK_ROUTING_NUMBER',
  'US_PASSPORT_NUMBER',
  'DRIVER_ID',
  'INTERNATIONAL_BANK_ACCOUNT_NUMBER',
  'SWIFT_CODE',
  'IP_ADDRESS',
  'MAC_ADDRESS',
  'URL',
  'VEHICLE_IDENTIFICATION_NUMBER',
  'UK_NATIONAL_HEALTH_SERVICE_NUMBER',
  'UK_NATIONAL_INSURANCE_NUMBER',
  'CA_SOCIAL_INSURANCE_NUMBER',
] as const;

export const SECRET_TYPES = [
  'AWS_ACCESS_KEY',
  'AWS_SECRET_KEY',
  'GITHUB_TOKEN',
  'SLACK_TOKEN',
  'SLACK_WEBHOOK',
  'ANTHROPIC_API_KEY',
  'OPENAI_API_KEY',
  'PRIVATE_KEY',
  'JWT',
  'PASSWORD',
  'AUTHORIZATION_HEADER',
  'GENERIC_SECRET',
  /** A vendor token format from secretlint's preset with no type of its own here (vendor.ts). */
  'API_TOKEN',
] as const;

export type PiiType = (typeof PII_TYPES)[number];
export type SecretType = (typeof SECRET_TYPES)[number];
export type EntityType = PiiType | SecretType;

export const ENTITY_TYPES: readonly EntityType[] = [...PII_TYPES, ...SECRET_TYPES];

export function isSecretType(type: string): type is SecretType {
  return (SECRET_TYPES as readonly string[]).includes(type);
}

export interface ContextRule {
  words: readonly string[];
  /** Added (boost) or subtracted (penalty) when a word occurs within the window. */
  amount: number;
}

export interface Recognizer {
  /** Unique row id, shown in findings (`type` may have several rows). */
  id: string;
  type: EntityType;
  pattern: RegExp;
  /** Named capture group whose span is the entity; the whole match when absent. */
  group?: string;
  /** Checksum or structure check on the entity text; a failing match is dropped. */
  validate?: (value: string) => boolean;
  /** Extra score when this holds (e.g. a known card issuer prefix). */
  bonus?: { test: (value: string) => boolean; amount: number };
  baseScore: number;
  /**
   * A cheap test that every match needs somewhere in the text (a literal it contains); when the text
   * fails it the row's pattern is not run. It must be a necessary condition, never a heuristic.
   */
  anchor?: RegExp;
  context?: ContextRule;
  negative?: ContextRule;
  /** Characters before and after the match searched for context words (default 48). */
  window?: number;
}

const NEG_IDENTIFIER: ContextRule = {
  words: ['id', 'uuid', 'trace', 'span', 'timestamp', 'ts', 'epoch', 'version', 'build', 'sha'],
  amount: 0.3,
};

/**
 * Long counters that pass the Luhn check one time in ten: a Kafka offset, a byte count. Enough to drop
 * a bare Visa-prefixed number (0.85) under the threshold; "card" nearby (+0.2) still wins.
 */
const NEG_COUNTER: ContextRule = {
  words: [
    ...NEG_IDENTIFIER.words,
    'offset',
    'partition',
    'lag',
    'seq',
    'sequence',
    'counter',
    'count',
    'messages',
    'records',
    'bytes',
    'total',
  ],
  amount: 0.45,
};

export const RECOGNIZERS: readonly Recognizer[] = [
  // ---------------------------------------------------------------- PII
  {
    // Letters of any script (jürgen.müller@beispiel.de), and `%40` for the at sign in URL-encoded text.
    id: 'email',
    type: 'EMAIL',
    anchor: /@|%40/,
    pattern:
      /(?<![\p{L}\p{N}_.%+-])[\p{L}\p{N}][\p{L}\p{N}._%+-]{0,63}(?:@|%40)(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.){1,8}\p{L}{2,24}(?![\p{L}\p{N}_-])/gu,
    baseScore: 0.9,
  },
  {
    // Spelled out to dodge scrapers: `jane [at] example [dot] com`, `jane(at)example.com`.
    id: 'email-obfuscated',
    type: 'EMAIL',
    anchor: /[[(] ?at ?[\])]/i,
    pattern:
      /(?<![\p{L}\p{N}_.+-])[\p{L}\p{N}][\p{L}\p{N}._+-]{0,63} ?[[(] ?at ?[\])] ?[\p{L}\p{N}-]{1,63}(?: ?[[(] ?dot ?[\])] ?[\p{L}\p{N}-]{1,63}| ?\. ?[\p{L}\p{N}-]{1,63}){1,8}/giu,
    baseScore: 0.85,
  },
  {
    id: 'phone',
    type: 'PHONE',
    anchor: /\d/,
    // Optional +country code, then digits with single separators ( space . - ) and parentheses.
    pattern:
      /(?<![\w+.\-/])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d[\d ().-]{5,20}\d(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?!\w|[.-]\d)/gi,
    validate: validators.phone,
    bonus: {
      // International prefix, or the North American shape (NXX) NXX-XXXX.
      test: (value) =>
        value.startsWith('+') || /^(?:1[ .-])?\(?[2-9]\d\d\)?[ .-]?\d{3}[ .-]\d{4}\b/.test(value),
      amount: 0.15,
    },
    baseScore: 0.45,
    context: {
      words: [
        'phone',
        'tel',
        'telephone',
        'mobile',
        'cell',
        'fax',
        'call',
        'desk',
        'office',
        'contact',
        'sms',
        'text me',
        'message',
        'whatsapp',
        'reach',
        'answering',
        'dial',
      ],
      amount: 0.3,
    },
    negative: {
      words: ['port', 'pid', 'version', 'build', 'bytes', 'took', 'size', 'offset'],
      amount: 0.3,
    },
  },
  {
    id: 'credit-card',
    type: 'CREDIT_DEBIT_CARD_NUMBER',
    anchor: /\d/,
    // Not the account id of an ARN (arn:partition:service:region:account-id:...): twelve digits, and one
    // in ten of them passes Luhn with a Maestro prefix.
    pattern:
      /(?<![\w-])(?<!\barn:[a-z-]{1,20}:[a-z0-9-]{1,40}:[a-z0-9-]{0,30}:)\d(?:[ -]?\d){11,18}(?![\w-])/g,
    validate: validators.creditCard,
    bonus: { test: validators.knownCardPrefix, amount: 0.4 },
    baseScore: 0.45,
    context: {
      words: ['card', 'credit', 'debit', 'visa', 'mastercard', 'amex', 'pan', 'cc', 'payment'],
      amount: 0.2,
    },
    negative: NEG_COUNTER,
  },
  {
    // Written with dots, in groups of four only (a dotted run of other lengths is a version or an address).
    id: 'credit-card-dotted',
    type: 'CREDIT_DEBIT_CARD_NUMBER',
    anchor: /\d{4}\./,
    pattern: /(?<![\w.-])\d{4}\.\d{4}\.\d{4}\.\d{4}(?![\w.-])/g,
    validate: validators.creditCard,
    bonus: { test: validators.knownCardPrefix, amount: 0.4 },
    baseScore: 0.45,
    context: {
      words: ['card', 'credit', 'debit', 'visa', 'mastercard', 'amex', 'pan', 'cc', 'payment'],
      amount: 0.2,
    },
    negative: NEG_COUNTER,
  },
  {
    id: 'us-ssn',
    type: 'US_SOCIAL_SECURITY_NUMBER',
    anchor: /\d{3}/,
    pattern: /(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w-])/g,
    validate: validators.usSsn,
    baseScore: 0.75,
    context: { words: ['ssn', 'social security', 'social sec', 'ss#', 'ss #'], amount: 0.2 },
    negative: { words: ['phone', 'tel', 'fax', 'mobile', 'call'], amount: 0.3 },
  },
  {
    id: 'us-ssn-bare',
    type: 'US_SOCIAL_SECURITY_NUMBER',
    pattern: /(?<![\w-])\d{9}(?![\w-])/g,
    validate: validators.usSsn,
    baseScore: 0.2,
    context: { words: ['ssn', 'social security', 'ss#'], amount: 0.6 },
  },
  {
    id: 'us-itin',
    type: 'US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER',
    // 9XX-(50–65 | 70–88 | 90–92 | 94–99)-XXXX
    pattern: /(?<![\w-])9\d\d([- ]?)(?:5\d|6[0-5]|7\d|8[0-8]|9[0-24-9])\1\d{4}(?![\w-])/g,
    baseScore: 0.35,
    context: { words: ['itin', 'tax', 'taxpayer', 'tin'], amount: 0.5 },
  },
  {
    id: 'us-routing',
    type: 'US_BANK_ROUTING_NUMBER',
    pattern: /(?<![\w-])\d{9}(?![\w-])/g,
    validate: validators.abaRouting,
    baseScore: 0.2,
    context: { words: ['routing', 'aba', 'rtn', 'transit', 'bank'], amount: 0.6 },
  },
  {
    id: 'us-passport',
    type: 'US_PASSPORT_NUMBER',
    pattern: /(?<![\w-])[A-Z]?\d{8,9}(?![\w-])/g,
    baseScore: 0.1,
    context: { words: ['passport'], amount: 0.7 },
  },
  {
    id: 'driver-id',
    type: 'DRIVER_ID',
    pattern: /(?<![\w-])[A-Z]{0,2}\d[\d-]{4,15}\d(?![\w-])/g,
    baseScore: 0.1,
    context: {
      words: ['driver', 'driving licen', "driver's licen", 'dl#', 'dl no', 'licence', 'license'],
      amount: 0.7,
    },
  },
  {
    id: 'iban',
    type: 'INTERNATIONAL_BANK_ACCOUNT_NUMBER',
    anchor: /\d\d/,
    pattern: /(?<![\w-])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?(?![\w-])/gi,
    validate: validators.iban,
    baseScore: 0.9,
  },
  {
    id: 'swift',
    type: 'SWIFT_CODE',
    pattern: /(?<![\w-])[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?(?![\w-])/g,
    baseScore: 0.1,
    context: { words: ['swift', 'bic'], amount: 0.7 },
  },
  {
    id: 'ipv4',
    type: 'IP_ADDRESS',
    anchor: /\d\.\d{1,3}\.\d/,
    pattern:
      /(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w]|\.\d)/g,
    validate: validators.ipv4,
    baseScore: 0.85,
    negative: { words: ['version', 'release', 'oid'], amount: 0.4 },
    window: 16,
  },
  {
    id: 'ipv6',
    type: 'IP_ADDRESS',
    anchor: /:/,
    // The dotted tail of an IPv4-mapped address (::ffff:192.0.2.1) is part of it: a match may not stop
    // before ".<digit>", so the whole address is one entity.
    pattern:
      /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\d)/g,
    validate: validators.ipv6,
    baseScore: 0.85,
  },
  {
    id: 'mac',
    type: 'MAC_ADDRESS',
    pattern:
      /(?<![\w:-])[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}(?![\w:-])|(?<![\w.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![\w.])/g,
    baseScore: 0.8,
  },
  {
    id: 'url',
    type: 'URL',
    anchor: /:\/\/|www\./i,
    // A trailing sentence punctuation mark or closing bracket is not part of the URL.
    pattern: /\b(?:(?:https?|ftp|wss?):\/\/|www\.)[^\s<>"'`]{0,2047}[^\s<>"'`.,;:!?)\]]/gi,
    baseScore: 0.6,
  },
  {
    id: 'vin',
    type: 'VEHICLE_IDENTIFICATION_NUMBER',
    pattern: /(?<![\w-])[A-HJ-NPR-Z0-9]{17}(?![\w-])/gi,
    validate: validators.vin,
    // Context only: 17-character ids are common in logs and one in eleven passes the check digit.
    baseScore: 0.3,
    context: { words: ['vin', 'vehicle', 'chassis'], amount: 0.4 },
    negative: NEG_IDENTIFIER,
  },
  {
    id: 'uk-nhs',
    type: 'UK_NATIONAL_HEALTH_SERVICE_NUMBER',
    pattern: /(?<![\w-])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\w-])/g,
    validate: validators.nhsNumber,
    baseScore: 0.15,
    context: { words: ['nhs', 'health service', 'patient'], amount: 0.6 },
  },
  {
    id: 'uk-nino',
    type: 'UK_NATIONAL_INSURANCE_NUMBER',
    anchor: /\d/,
    // Two prefix letters (not D, F, I, Q, U, V; second not O), six digits, suffix A–D.
    pattern:
      /(?<![\w-])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w-])/g,
    baseScore: 0.55,
    context: { words: ['national insurance', 'nino', 'ni number', 'nin'], amount: 0.3 },
  },
  {
    id: 'ca-sin',
    type: 'CA_SOCIAL_INSURANCE_NUMBER',
    pattern: /(?<![\w-])\d{3}[ -]?\d{3}[ -]?\d{3}(?![\w-])/g,
    validate: validators.caSin,
    baseScore: 0.15,
    context: { words: ['sin', 'social insurance'], amount: 0.6 },
  },

  // ---------------------------------------------------------------- secrets
  {
    id: 'aws-access-key',
    type: 'AWS_ACCESS_KEY',
    anchor: /A(?:KIA|SIA|BIA|CCA)/,
    pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    baseScore: 0.95,
  },
  {
    id: 'aws-secret-key-assigned',
    type: 'AWS_SECRET_KEY',
    anchor: /secret/i,
    group: 'secret',
    pattern:
      /(?:aws_?)?secret_?(?:access_?)?key["']?\s{0,4}[:=]\s{0,4}["']?(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/dgi,
    validate: validators.awsSecret,
    baseScore: 0.95,
  },
  {
    id: 'aws-secret-key-near',
    type: 'AWS_SECRET_KEY',
    pattern: /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g,
    validate: validators.awsSecret,
    baseScore: 0.3,
    context: { words: ['aws', 'secret', 'akia', 'asia', 'credential'], amount: 0.5 },
    window: 80,
  },
  {
    id: 'github-token',
    type: 'GITHUB_TOKEN',
    anchor: /gh[pousr]_|github_pat_/,
    pattern:
      /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{50,255})(?![A-Za-z0-9_])/g,
    baseScore: 0.98,
  },
  {
    id: 'slack-token',
    type: 'SLACK_TOKEN',
    anchor: /xox/,
    pattern: /(?<![A-Za-z0-9])xox(?:[abposr]|e(?:\.xox[bp])?)-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])/g,
    baseScore: 0.95,
  },
  {
    id: 'slack-webhook',
    type: 'SLACK_WEBHOOK',
    anchor: /hooks\.slack\.com/,
    pattern: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/+-]{20,200}/g,
    baseScore: 0.98,
  },
  {
    id: 'anthropic-key',
    type: 'ANTHROPIC_API_KEY',
    anchor: /sk-ant-/,
    pattern: /(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])/g,
    baseScore: 0.98,
  },
  {
    id: 'openai-key',
    type: 'OPENAI_API_KEY',
    anchor: /sk-/,
    pattern: /(?<![A-Za-z0-9_-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])/g,
    validate: validators.openAiKey,
    baseScore: 0.9,
  },
  {
    id: 'private-key-block',
    type: 'PRIVATE_KEY',
    anchor: /PRIVATE KEY/,
    pattern:
      /-----BEGIN (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----[\s\S]{1,16384}?-----END (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----/g,
    baseScore: 1,
  },
  {
    id: 'private-key-header',
    type: 'PRIVATE_KEY',
    anchor: /PRIVATE KEY/,
    // A key cut off in a log line: the header and whatever base64 (or escaped newlines) follows.
    pattern:
      /-----BEGIN (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=\s]|\\n){0,16384}/g,
    baseScore: 0.95,
  },
  {
    id: 'jwt',
    type: 'JWT',
    anchor: /eyJ/,
    pattern:
      /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,2000}\.[A-Za-z0-9_-]{2,8000}\.[A-Za-z0-9_-]{0,2000}(?![A-Za-z0-9_-])/g,
    validate: validators.jwt,
    baseScore: 0.95,
  },
  {
    id: 'url-password',
    type: 'PASSWORD',
    // "://", then user and password (no whitespace, slash or @) up to the @: at most 64 + 1 + 128.
    anchor: /:\/\/[^\s/@]{2,193}@/,
    group: 'secret',
    // scheme://user:password@host — the password is the entity.
    pattern: /\b[A-Za-z][A-Za-z0-9+.-]{1,15}:\/\/[^\s:/@]{0,64}:(?<secret>[^\s/@]{1,128})@[A-Za-z0-9[]/dg,
    validate: validators.secretValue,
    baseScore: 0.95,
  },
  {
    id: 'assigned-password',
    type: 'PASSWORD',
    anchor: /pass|pwd/i,
    group: 'secret',
    // password=…, pwd: …, "password": "…" (connection strings, config dumps, JSON). An unquoted value
    // runs to whitespace, `;` or `,`; `&` ends it only where a query string's next `name=` follows.
    pattern:
      /(?<![A-Za-z0-9])(?:password|passwd|passphrase|pwd|pass)["']?\s{0,4}[:=]\s{0,4}(?<secret>"[^"\r\n]{1,256}"|'[^'\r\n]{1,256}'|(?:[^\s;,&'"]|&(?![A-Za-z_][\w.-]{0,40}=)){1,256})/dgi,
    validate: validators.secretValue,
    baseScore: 0.9,
  },
  {
    id: 'authorization-header',
    type: 'AUTHORIZATION_HEADER',
    anchor: /authorization/i,
    group: 'secret',
    pattern:
      /(?:authorization|proxy-authorization)["']?\s{0,4}[:=]\s{0,4}["']?(?:bearer|basic|token|digest|apikey)\s{1,4}(?<secret>[A-Za-z0-9._~+/=-]{8,4096})/dgi,
    validate: validators.secretValue,
    baseScore: 0.9,
  },
  {
    // curl -u user:password, wget --user=... --password handled by assigned-password.
    id: 'curl-user',
    type: 'PASSWORD',
    anchor: /(?:^|\s)(?:-u|--user)[\s=]/,
    group: 'secret',
    pattern: /(?<=^|\s)(?:-u|--user)(?:\s{1,4}|=)["']?[^\s:"']{1,64}:(?<secret>[^\s"']{1,128})/dg,
    validate: validators.secretValue,
    baseScore: 0.9,
  },
  {
    // "basic <base64>" away from an Authorization key (a header dumped by name, a config value): the
    // value must decode to printable user:password.
    id: 'basic-credentials',
    type: 'AUTHORIZATION_HEADER',
    anchor: /basic/i,
    group: 'secret',
    pattern: /\bbasic\s{1,4}(?<secret>[A-Za-z0-9+/]{6,512}={0,2})(?![A-Za-z0-9+/=])/dgi,
    validate: validators.basicCredentials,
    baseScore: 0.9,
  },
  {
    // Google API keys (Maps, Firebase, Gemini): AIza and 35 URL-safe characters. Not in secretlint's preset.
    id: 'google-api-key',
    type: 'API_TOKEN',
    anchor: /AIza/,
    pattern: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/g,
    baseScore: 0.95,
  },
  {
    // Azure Storage connection strings: AccountKey is 64 bytes, 88 base64 characters. Not in the preset.
    id: 'azure-storage-key',
    type: 'API_TOKEN',
    anchor: /AccountKey=/i,
    group: 'secret',
    pattern: /AccountKey=(?<secret>[A-Za-z0-9+/]{86}==)/dgi,
    baseScore: 0.95,
  },
  {
    id: 'assigned-secret',
    type: 'GENERIC_SECRET',
    anchor:
      /api[_-]?key|apikey|secret|token|access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?key|credential/i,
    group: 'secret',
    // NAME_TOKEN=…, api_key: …, "client_secret": "…" (env dumps, config). The value must look random.
    pattern:
      /(?<![A-Za-z0-9])[A-Za-z0-9_.-]{0,40}(?:api[_-]?key|apikey|secret|token|access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?key|credential)s?["']?\s{0,4}[:=]\s{0,4}["']?(?<secret>[A-Za-z0-9._~+/=-]{12,512})/dgi,
    validate: validators.tokenValue,
    baseScore: 0.8,
  },
];
