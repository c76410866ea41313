/**
 * Vendor token formats from secretlint's recommended preset (@secretlint/secretlint-rule-preset-recommend),
 * a maintained rule set, run as a second recognizer source beside the hand-written table. The table
 * keeps the checksum-validated PII rows and the credential shapes it already had; the preset brings the
 * vendors (Stripe, GitLab, npm, Grafana, Vault, Databricks, Docker, Figma, Cloudflare, Tailscale, SendGrid,
 * Shopify, Linear, Notion, Hugging Face, Groq, 1Password, Vercel, ...) and follows their format changes
 * with its releases instead of ours.
 *
 * The preset's rules are written for files: each `create(context, options)` returns a `file(source)`
 * handler that calls `context.report({ message, range })`. Here the "file" is the text under scan and the
 * context collects the ranges; the translator returns the message id, which names the format.
 *
 * The package declares Node 22 or later (from 12.1.0 on; the last release declaring Node 20 has no Stripe,
 * Cloudflare or Tailscale rules). Its text rules use nothing newer than Node 20: plain regular expressions
 * over a string. The tests run every rule used here, on the Node version CI and users run.
 *
 * Rules not run:
 * - gcp: acts only on `.json` and `.p12` files (and reads `.p12` from disk, asynchronously);
 * - aws: its reported range for a secret key starts at the key name and is cut short, which would leave
 *   part of the secret in the text; the table's aws rows cover the same shapes with exact spans;
 * - filter-comments: it honours `secretlint-disable` comments, and a sender's log line could carry one.
 */
import { rules as presetRules } from '@secretlint/secretlint-rule-preset-recommend';
import type { EntityType } from './recognizers.js';

/** The slice of secretlint's rule API that the preset's text rules use (its types package is not a dependency). */
interface Report {
  message: string;
  range: readonly [number, number];
}
interface RuleContext {
  report(descriptor: Report): void;
  createTranslator(messages: unknown): (messageId: string, props?: unknown) => string;
  ignore(descriptor: unknown): void;
  registerRule(rule: unknown): void;
}
interface TextSource {
  content: string;
  ext: string;
  contentType: 'text';
  filePath?: string;
}
interface PresetRule {
  meta: { id: string };
  create(context: RuleContext, options: Record<string, unknown>): { file?(source: TextSource): unknown };
}

const SKIPPED = new Set(['aws', 'gcp', 'filter-comments']);

/**
 * Formats the table already names keep its entity type, so a Slack token is SLACK_TOKEN whichever source
 * found it; every other vendor format is API_TOKEN.
 */
const TYPE_BY_MESSAGE: Record<string, EntityType> = {
  GITHUB_TOKEN: 'GITHUB_TOKEN',
  SLACK_TOKEN: 'SLACK_TOKEN',
  IncomingWebhook: 'SLACK_WEBHOOK',
  OPENAI_TOKEN: 'OPENAI_API_KEY',
  ANTHROPIC_API_KEY: 'ANTHROPIC_API_KEY',
  PrivateKey: 'PRIVATE_KEY',
  BasicAuth: 'PASSWORD',
  MongoDBConnection: 'PASSWORD',
  MySQLConnection: 'PASSWORD',
  PostgreSQLConnection: 'PASSWORD',
};

/**
 * basicauth and the connection-string rule report the whole URL; the table's url-password row reports
 * only the password and keeps the host as evidence. A lower score lets that narrower match win an overlap,
 * and the preset's match stands only where the table has none.
 */
const WHOLE_URL = new Set(['BasicAuth', 'MongoDBConnection', 'MySQLConnection', 'PostgreSQLConnection']);
const SCORE = 0.95;

/**
 * A literal each rule's patterns cannot match without (read from the preset's patterns at the pinned
 * version), tested before the rule runs: most texts hold none, and running all the rules on every short
 * field cost more than the whole table. A rule with no entry here is refused at load, so an upgrade that
 * adds a rule fails the tests until its anchor is written; engine.test.ts checks the anchors change no
 * result.
 */
const ANCHORS: Record<string, RegExp> = {
  privatekey: /PRIVATE KEY/,
  npm: /npm_/,
  basicauth: /:\/\//,
  slack: /xox|xapp|hooks\.slack\.com/i,
  sendgrid: /SG\./,
  shopify: /shp/,
  stripe: /k_(?:live|test)_/,
  github: /gh[pousr]_|github_pat_/,
  gitlab: /glpat-/,
  grafana: /gl(?:c|sa)_/,
  openai: /T3BlbkFJ/,
  anthropic: /sk-ant-/,
  groq: /gsk_/,
  huggingface: /hf_/,
  linear: /lin_api_/,
  notion: /ntn_/,
  '1password': /ops_/,
  'database-connection-string': /mongodb|mysql|postgres/i,
  'hashicorp-vault': /hv[sbr]\./,
  vercel: /v(?:cp|ci|ca|cr|ck)_/,
  databricks: /dapi/,
  docker: /dckr_pat_/,
  figma: /figd_/,
  cloudflare: /cf(?:k|ut|at)_/,
  tailscale: /tskey-/,
};
const WHOLE_URL_SCORE = 0.6;

export interface VendorMatch {
  type: EntityType;
  start: number;
  end: number;
  score: number;
  /** `secretlint:<rule>/<format>`, e.g. `secretlint:stripe/STRIPE_SECRET_KEY_LIVE`. */
  recognizer: string;
}

interface Handler {
  rule: string;
  anchor: RegExp;
  file(source: TextSource): unknown;
}

const reports: Report[] = [];
const context: RuleContext = {
  report: (descriptor) => {
    reports.push(descriptor);
  },
  createTranslator: () => (messageId) => messageId,
  ignore: () => {},
  registerRule: () => {},
};

const HANDLERS: Handler[] = (presetRules as unknown as PresetRule[]).flatMap((rule) => {
  const name = rule.meta.id.replace('@secretlint/secretlint-rule-', '');
  if (SKIPPED.has(name)) return [];
  const anchor = ANCHORS[name];
  if (!anchor) throw new Error(`secretlint rule ${name} has no anchor in guardrails/vendor.ts`);
  const created = rule.create(context, {});
  return created.file ? [{ rule: name, anchor, file: created.file.bind(created) }] : [];
});

/** The rules run, by short name (for docs and tests). */
export const VENDOR_RULES: readonly string[] = HANDLERS.map((handler) => handler.rule);

/**
 * Every preset match in `text`, with the types `enabled` allows; `prefilter: false` runs every rule
 * without its anchor (for the test that the anchors change nothing). The handlers are synchronous (a test
 * holds them to it), so the shared report list is filled and drained within this call.
 */
export function vendorMatches(
  text: string,
  enabled: (type: EntityType) => boolean,
  prefilter = true,
): VendorMatch[] {
  const out: VendorMatch[] = [];
  const source: TextSource = { content: text, ext: '.txt', contentType: 'text' };
  for (const handler of HANDLERS) {
    if (prefilter && !handler.anchor.test(text)) continue;
    reports.length = 0;
    const result = handler.file(source);
    if (result instanceof Promise) throw new Error(`secretlint rule ${handler.rule} is asynchronous`);
    for (const { message, range } of reports) {
      const type = TYPE_BY_MESSAGE[message] ?? 'API_TOKEN';
      const [start, end] = range;
      if (!enabled(type) || !(end > start)) continue;
      out.push({
        type,
        start,
        end,
        score: WHOLE_URL.has(message) ? WHOLE_URL_SCORE : SCORE,
        recognizer: `secretlint:${handler.rule}/${message}`,
      });
    }
  }
  reports.length = 0;
  return out;
}
