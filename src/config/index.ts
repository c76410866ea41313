import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { z } from 'zod';
import { formatPath, OpxError } from '../domain/errors.js';
import { AGENTS } from '../domain/finding.js';
import { sourceAuthSettingsSchema } from '../domain/source-auth.js';
import {
  DEFAULT_MAX_TOKENS,
  DEFAULT_TIMEOUT_MS,
  languageModelFields as llm,
  MAX_TIMEOUT_MS,
  priceSchema,
} from '../llm/settings.js';

/** A setting that is structured: an object in the config file, JSON text in the environment. */
function jsonSetting<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value);
    } catch {
      return value; // reported by the schema as "expected record"
    }
  }, schema);
}

/**
 * One schema for every setting. Precedence: flag > environment (`OPX_*`) > file (`opx.config.yaml`) > default.
 * The `llm*` settings are the fields of src/llm/settings.ts, which owns their types, limits and defaults.
 */
const settingsSchema = z.strictObject({
  dataDir: z.string().min(1).default('./.opx'),
  /** `postgres://…` for PostgreSQL; empty means SQLite at `<dataDir>/opx.db`. */
  databaseUrl: z.string().optional(),
  host: z.string().default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65_535).default(8080),
  adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Largest accepted request body; a batch of 1,000 signals fits comfortably. */
  bodyLimitBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .default(5 * 1024 * 1024),
  /** When every signal of an incident has resolved, move the incident to RESOLVED. */
  autoResolve: z.coerce.boolean().default(false),
  /** A new firing signal re-opens a RESOLVED incident with the same correlation key within this window. */
  reopenGraceSeconds: z.coerce
    .number()
    .int()
    .min(0)
    .default(30 * 60),
  /** How far before an incident's start the evidence bundle looks for changes. */
  changeLookbackSeconds: z.coerce
    .number()
    .int()
    .min(60)
    .default(6 * 3600),
  /** Hops around the affected services that the evidence bundle includes. */
  topologyRadius: z.coerce.number().int().min(0).max(5).default(2),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** How long a stored Idempotency-Key answer is replayed; older keys are purged hourly by `opx serve`. */
  idempotencyRetentionHours: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 90)
    .default(72),
  /** Queue an investigation job when an incident is created or re-opened. */
  autoInvestigate: z.coerce.boolean().default(true),
  /**
   * How long after an incident opens its automatic investigation starts, so the rest of an alert storm
   * joins the incident before the evidence is frozen.
   */
  investigateDelaySeconds: z.coerce.number().int().min(0).max(3600).default(10),
  /**
   * An incident that materially changes (a service joins, its origin moves, its severity rises, an
   * incident merges into it) is investigated again, at most once per this many seconds.
   */
  reinvestigateDebounceSeconds: z.coerce.number().int().min(1).max(3600).default(30),
  /** Wall-clock limit for one investigation attempt. */
  investigationTimeoutSeconds: z.coerce.number().int().min(1).default(300),
  /** Wall-clock limit for one agent tool call (a read of the evidence). */
  toolTimeoutSeconds: z.coerce.number().int().min(1).default(30),
  /** Attempts an investigation job gets before it is dead-lettered (`opx jobs dead`). */
  investigationMaxAttempts: z.coerce.number().int().min(1).max(50).default(3),
  /** How long a worker's claim on a job lasts without a heartbeat; a crashed worker's job is retried after it. */
  jobLeaseSeconds: z.coerce.number().int().min(1).default(60),
  /** Live incident streams (`/v1/stream/incidents`) one process holds open at once, over all tokens. */
  streamMaxClients: z.coerce.number().int().min(1).max(100_000).default(200),
  /** Live incident streams one token holds open at once. */
  streamMaxPerToken: z.coerce.number().int().min(1).max(100_000).default(20),
  /** Jobs one worker runs at once. */
  workerConcurrency: z.coerce.number().int().min(1).max(64).default(4),
  /** The agents' reasoner: `deterministic` (no model, the default) or a language model provider. */
  llmProvider: llm.provider.default('deterministic'),
  llmModel: llm.model.optional(),
  /** Anthropic API root, Bedrock endpoint, or the OpenAI-compatible root ending in /v1. */
  llmBaseUrl: llm.baseUrl.optional(),
  /** For OpenAI-compatible servers; Anthropic reads ANTHROPIC_API_KEY, Bedrock the AWS chain. */
  llmApiKey: llm.apiKey.optional(),
  llmRegion: llm.region.optional(),
  llmMaxTokens: llm.maxTokens.default(DEFAULT_MAX_TOKENS),
  /** Limit for each attempt of a model call, in milliseconds; 60 s when neither this nor the next is set. */
  llmTimeoutMs: llm.timeoutMs.optional(),
  /** The same limit in whole seconds (the documented `OPX_LLM_TIMEOUT_SECONDS`), read into `llmTimeoutMs`. */
  llmTimeoutSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_TIMEOUT_MS / 1000)
    .optional(),
  /** Attempts at a valid answer per agent before the deterministic finding is kept, marked degraded. */
  llmValidationAttempts: z.coerce.number().int().min(1).max(10).default(3),
  /** After the last invalid answer: keep the deterministic finding (degraded) or fail the investigation. */
  llmOnInvalid: z.enum(['degrade', 'fail']).default('degrade'),
  /** Per-agent overrides of provider, model, maxTokens, baseUrl (JSON in the environment). */
  llmAgents: jsonSetting(
    z
      .partialRecord(
        z.enum(AGENTS),
        z.strictObject({
          provider: llm.provider.optional(),
          model: llm.model.optional(),
          maxTokens: llm.maxTokens.optional(),
          baseUrl: llm.baseUrl.optional(),
        }),
      )
      .default({}),
  ),
  /**
   * USD per million tokens by model name, added to or replacing the defaults in src/llm/pricing.ts
   * (JSON in the environment): `{"my-model": {"input": 1, "output": 2}}`.
   */
  llmPrices: jsonSetting(z.record(z.string().min(1), priceSchema).default({})),
  /**
   * Key for the hashes guardrail_violations keeps instead of values and for stored placeholders; when
   * unset, the one in `<dataDir>/guardrail.key` (created on first use). Set it on every host that
   * shares a PostgreSQL database.
   */
  guardrailHashKey: z.string().min(16).optional(),
  /** TLS for `opx serve`: PEM certificate (chain) and private key files; both or neither. */
  tlsCertFile: z.string().min(1).optional(),
  tlsKeyFile: z.string().min(1).optional(),
  /** Origins allowed to call the API from a browser (comma-separated); none by default (CORS off). */
  corsOrigins: z
    .union([z.string(), z.array(z.string())])
    .default('')
    .transform((value) =>
      (Array.isArray(value) ? value : value.split(','))
        .map((origin) => origin.trim())
        .filter((origin) => origin !== ''),
    ),
  /** Requests per minute per token (per address before authentication); 0 turns the limit off. */
  /** Failed authentications a minute from one address before it gets 429 for the rest of the minute; 0 is off. */
  authFailuresPerMinute: z.coerce.number().int().min(0).default(60),
  rateLimitPerMinute: z.coerce.number().int().min(0).default(6000),
  /** Time a client has to send a whole request (headers and body), against slow senders. */
  requestTimeoutSeconds: z.coerce.number().int().min(1).max(3600).default(30),
  /**
   * How long a write waits for a lock another writer holds (SQLite busy_timeout, PostgreSQL
   * lock_timeout) before it gives up and the request gets a 503 with Retry-After.
   */
  storeLockTimeoutMs: z.coerce.number().int().min(1).max(600_000).default(5000),
  /** Monthly budget for language model calls, in USD (calendar month, UTC). */
  budgetMonthlyUsd: z.coerce.number().positive().default(100),
  /** When the month's spend reaches the budget, agents use the deterministic engine (advisory when false). */
  budgetHardCap: z.coerce.boolean().default(false),
  /** How often `opx serve` evaluates the alarms. */
  alarmIntervalSeconds: z.coerce.number().int().min(1).default(60),
  /** Alarm windows and thresholds (JSON in the environment); see docs/operating.md. */
  alarmThresholds: jsonSetting(
    z
      .strictObject({
        /** Sliding window of the rate alarms. */
        windowSeconds: z.number().int().min(60).default(900),
        /** Fewer model calls than this in the window: INSUFFICIENT_DATA. */
        minCalls: z.number().int().min(1).default(10),
        /** Personal-data and credential matches per model call (prompts and answers). */
        piiViolationRate: z.number().min(0).default(0.1),
        /** Prompt-injection matches per model call. */
        contentViolationRate: z.number().min(0).default(0.05),
        /** Answers that failed validation, per model call. */
        validationFailureRate: z.number().min(0).max(1).default(0.2),
        /** Calls that were a retry, per model call. */
        validationRetryRate: z.number().min(0).max(1).default(0.3),
        /** Cost spike: the last hour's cost above this many times the median hour of the baseline… */
        costSpikeFactor: z.number().min(1).default(3),
        /** …and above this many USD. */
        costSpikeMinUsd: z.number().min(0).default(1),
        /** Hours before the last one that make the baseline. */
        costSpikeBaselineHours: z
          .number()
          .int()
          .min(1)
          .max(24 * 14)
          .default(24),
      })
      // Parsed through the schema, so each field takes its default.
      .prefault({}),
  ),
  /** Where people reach OPX (its console): the link in every notification. Default http://<host>:<port>. */
  publicUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /**
   * An incident's first notification waits for its investigation's first answer, so it already names the
   * probable origin and the first recommendation; it waits at most this long.
   */
  notifyFirstWaitSeconds: z.coerce.number().int().min(0).max(3600).default(60),
  /** Attempts per notification before it is dead-lettered (`opx notify deliveries --status dead`). */
  notifyMaxAttempts: z.coerce.number().int().min(1).max(100).default(8),
  /** Alarm state changes are POSTed here as JSON, signed with `alarmWebhookSecret` (HMAC-SHA256). */
  alarmWebhookUrl: z.url().optional(),
  alarmWebhookSecret: z.string().min(16).optional(),
  /** Claims the grounding check does not support: marked only, confidence halved (default), or dropped. */
  groundingMode: z.enum(['flag', 'downgrade', 'remove']).default('downgrade'),
  /** Prompt-injection patterns in evidence: recorded as violations (WARN) or also stop the model call (BLOCK). */
  contentFilterMode: z.enum(['WARN', 'BLOCK']).default('WARN'),
  /** Replace personal data and credentials in signals and changes before they are stored. */
  redactStoredText: z.coerce.boolean().default(true),
  /**
   * How each ingest source authenticates (JSON in the environment): `{"signals": {"mode": "hmac",
   * "secrets": ["…"]}, "cloudwatch": {"mode": "sns", "topicArns": ["arn:aws:sns:…"]}}`; a bearer token
   * when a source is not named. See docs/security.md.
   */
  sourceAuth: jsonSetting(sourceAuthSettingsSchema.default({})),
  /**
   * Keys for encrypting sensitive columns (raw payloads, notes, model prompts and answers,
   * recommendation reasons) with AES-256-GCM: `id:base64key` pairs, comma-separated, the first used
   * for new writes and every one for reading. When unset, `encryptionKeyFile`, else
   * `<dataDir>/encryption.keys` (created on first use).
   */
  encryptionKeys: z.string().min(1).optional(),
  encryptionKeyFile: z.string().min(1).optional(),
});

/** The settings after defaults; the timeout, written in either unit, is read in milliseconds only. */
export const configSchema = settingsSchema.transform(
  ({ llmTimeoutMs, llmTimeoutSeconds, ...config }, context) => {
    if (llmTimeoutMs !== undefined && llmTimeoutSeconds !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['llmTimeoutSeconds'],
        message: 'set llmTimeoutMs or llmTimeoutSeconds, not both',
      });
      return z.NEVER;
    }
    return {
      ...config,
      llmTimeoutMs:
        llmTimeoutMs ?? (llmTimeoutSeconds === undefined ? DEFAULT_TIMEOUT_MS : llmTimeoutSeconds * 1000),
    };
  },
);
export type Config = z.output<typeof configSchema>;
export type ConfigKey = keyof Config;
/** What a file, the environment or a flag can set: the settings of `Config`, and `llmTimeoutSeconds`. */
export type SettingKey = keyof z.input<typeof configSchema>;

/** The one table of environment variable names. */
export const ENV_NAMES: Record<SettingKey, string> = {
  dataDir: 'OPX_DATA_DIR',
  databaseUrl: 'OPX_DATABASE_URL',
  host: 'OPX_HOST',
  port: 'OPX_PORT',
  adminToken: 'OPX_ADMIN_TOKEN',
  bodyLimitBytes: 'OPX_BODY_LIMIT_BYTES',
  autoResolve: 'OPX_AUTO_RESOLVE',
  reopenGraceSeconds: 'OPX_REOPEN_GRACE_SECONDS',
  changeLookbackSeconds: 'OPX_CHANGE_LOOKBACK_SECONDS',
  topologyRadius: 'OPX_TOPOLOGY_RADIUS',
  logLevel: 'OPX_LOG_LEVEL',
  idempotencyRetentionHours: 'OPX_IDEMPOTENCY_RETENTION_HOURS',
  autoInvestigate: 'OPX_AUTO_INVESTIGATE',
  investigateDelaySeconds: 'OPX_INVESTIGATE_DELAY_SECONDS',
  reinvestigateDebounceSeconds: 'OPX_REINVESTIGATE_DEBOUNCE_SECONDS',
  investigationTimeoutSeconds: 'OPX_INVESTIGATION_TIMEOUT_SECONDS',
  toolTimeoutSeconds: 'OPX_TOOL_TIMEOUT_SECONDS',
  investigationMaxAttempts: 'OPX_INVESTIGATION_MAX_ATTEMPTS',
  jobLeaseSeconds: 'OPX_JOB_LEASE_SECONDS',
  workerConcurrency: 'OPX_WORKER_CONCURRENCY',
  streamMaxClients: 'OPX_STREAM_MAX_CLIENTS',
  streamMaxPerToken: 'OPX_STREAM_MAX_PER_TOKEN',
  llmProvider: 'OPX_LLM_PROVIDER',
  llmModel: 'OPX_LLM_MODEL',
  llmBaseUrl: 'OPX_LLM_BASE_URL',
  llmApiKey: 'OPX_LLM_API_KEY',
  llmRegion: 'OPX_LLM_REGION',
  llmMaxTokens: 'OPX_LLM_MAX_TOKENS',
  llmTimeoutMs: 'OPX_LLM_TIMEOUT_MS',
  llmTimeoutSeconds: 'OPX_LLM_TIMEOUT_SECONDS',
  llmValidationAttempts: 'OPX_LLM_VALIDATION_ATTEMPTS',
  llmOnInvalid: 'OPX_LLM_ON_INVALID',
  llmAgents: 'OPX_LLM_AGENTS',
  guardrailHashKey: 'OPX_GUARDRAIL_HASH_KEY',
  redactStoredText: 'OPX_REDACT_STORED_TEXT',
  llmPrices: 'OPX_LLM_PRICES',
  contentFilterMode: 'OPX_CONTENT_FILTER_MODE',
  groundingMode: 'OPX_GROUNDING_MODE',
  tlsCertFile: 'OPX_TLS_CERT_FILE',
  tlsKeyFile: 'OPX_TLS_KEY_FILE',
  corsOrigins: 'OPX_CORS_ORIGINS',
  rateLimitPerMinute: 'OPX_RATE_LIMIT_PER_MINUTE',
  authFailuresPerMinute: 'OPX_AUTH_FAILURES_PER_MINUTE',
  requestTimeoutSeconds: 'OPX_REQUEST_TIMEOUT_SECONDS',
  storeLockTimeoutMs: 'OPX_STORE_LOCK_TIMEOUT_MS',
  budgetMonthlyUsd: 'OPX_BUDGET_MONTHLY_USD',
  budgetHardCap: 'OPX_BUDGET_HARD_CAP',
  alarmIntervalSeconds: 'OPX_ALARM_INTERVAL_SECONDS',
  alarmThresholds: 'OPX_ALARM_THRESHOLDS',
  publicUrl: 'OPX_PUBLIC_URL',
  notifyFirstWaitSeconds: 'OPX_NOTIFY_FIRST_WAIT_SECONDS',
  notifyMaxAttempts: 'OPX_NOTIFY_MAX_ATTEMPTS',
  alarmWebhookUrl: 'OPX_ALARM_WEBHOOK_URL',
  alarmWebhookSecret: 'OPX_ALARM_WEBHOOK_SECRET',
  sourceAuth: 'OPX_SOURCE_AUTH',
  encryptionKeys: 'OPX_ENCRYPTION_KEYS',
  encryptionKeyFile: 'OPX_ENCRYPTION_KEY_FILE',
};

const BOOLEAN_KEYS = new Set<SettingKey>([
  'autoResolve',
  'autoInvestigate',
  'redactStoredText',
  'budgetHardCap',
]);

/** Settings written in two units; setting one from a higher source replaces the other from a lower one. */
const SAME_SETTING: Partial<Record<SettingKey, SettingKey>> = {
  llmTimeoutMs: 'llmTimeoutSeconds',
  llmTimeoutSeconds: 'llmTimeoutMs',
};

export const CONFIG_FILE_NAME = 'opx.config.yaml';

/**
 * The YAML parser, loaded only when there is a config file to read: every CLI command loads the
 * config, most find no file, and the parser is a good part of a short command's start-up.
 */
function parseYaml(text: string): unknown {
  const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return parse(text);
}

export interface LoadConfigOptions {
  flags?: Partial<Record<SettingKey, unknown>>;
  env?: NodeJS.ProcessEnv;
  /** Explicit config file; by default `opx.config.yaml` in the working directory, if present. */
  file?: string;
  cwd?: string;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const filePath = options.file ?? env.OPX_CONFIG ?? path.join(cwd, CONFIG_FILE_NAME);
  const merged: Record<string, unknown> = {};
  const origin: Record<string, string> = {};

  if (existsSync(filePath)) {
    let fromFile: unknown;
    try {
      fromFile = parseYaml(readFileSync(filePath, 'utf8'));
    } catch (error) {
      throw new OpxError('config_invalid', `${filePath} is not valid YAML: ${(error as Error).message}`);
    }
    if (fromFile !== null && fromFile !== undefined) {
      if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
        throw new OpxError('config_invalid', `${filePath} must hold a mapping of settings`);
      }
      for (const [key, value] of Object.entries(fromFile)) {
        merged[key] = value;
        origin[key] = `${filePath}: ${key}`;
      }
    }
  } else if (options.file !== undefined || env.OPX_CONFIG !== undefined) {
    throw new OpxError('config_invalid', `config file ${filePath} does not exist`);
  }

  /** Where each setting came from: a higher source replaces a setting in either of its units. */
  const level: Record<string, 'env' | 'flag'> = {};
  const override = (key: string, value: unknown, from: string, source: 'env' | 'flag') => {
    const other = SAME_SETTING[key as SettingKey];
    if (other !== undefined && level[other] !== source) {
      delete merged[other];
      delete origin[other];
    }
    merged[key] = value;
    origin[key] = from;
    level[key] = source;
  };
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value !== undefined && value !== '') {
      const parsed = BOOLEAN_KEYS.has(key as SettingKey) ? parseBoolean(value, name) : value;
      override(key, parsed, `environment variable ${name}`, 'env');
    }
  }
  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (value !== undefined) {
      const flag = `flag --${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
      override(key, value, flag, 'flag');
    }
  }

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const where =
      origin[key] ??
      (key in ENV_NAMES ? `${ENV_NAMES[key as SettingKey]} or ${key} in ${CONFIG_FILE_NAME}` : key);
    throw new OpxError(
      'config_invalid',
      `invalid setting ${formatPath(issue.path)} (from ${where}): ${issue.message}`,
      {
        path: formatPath(issue.path),
      },
    );
  }
  return parsed.data;
}

function parseBoolean(value: string, name: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new OpxError('config_invalid', `${name} must be true or false, got ${JSON.stringify(value)}`);
}

/** The store URL a config points at: PostgreSQL when set, else the SQLite file under the data dir. */
export function storeUrl(config: Config): string {
  if (config.databaseUrl) return config.databaseUrl;
  return `sqlite:${path.resolve(config.dataDir, 'opx.db')}`;
}
