/**
 * How each ingest source proves who it is: a bearer token (the default), an HMAC signature over the
 * timestamp and body, or, for CloudWatch through SNS, Amazon SNS's own message signature.
 *
 * A signed source accepts only its signature: a leaked API token cannot post to it.
 */
import { createHmac, timingSafeEqual, verify as verifySignature, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, get as httpsGet } from 'node:https';
import { OpxError } from '../domain/errors.js';
import type { HmacSourceAuth, SnsSourceAuth, SourceName } from '../domain/source-auth.js';
import type { Principal } from './tokens.js';

export {
  SNS_CERT_HOST,
  SOURCE_NAMES,
  type SourceAuth,
  type SourceAuthSettings,
  type SourceName,
  sourceAuthSchema,
} from '../domain/source-auth.js';

/** The headers an HMAC-signed request carries. */
export const HMAC_TIMESTAMP_HEADER = 'x-opx-timestamp';
export const HMAC_SIGNATURE_HEADER = 'x-opx-signature';

/** `v1=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>"): what a sender computes. */
export function hmacSignature(secret: string, timestamp: string, body: Buffer | string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

function unauthorized(message: string): OpxError {
  return new OpxError('unauthorized', message);
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Checks HMAC-signed requests. Within the tolerance window each signature is accepted once per process,
 * so a captured request cannot be replayed to the same server; the window bounds the rest.
 */
export class HmacVerifier {
  readonly #seen = new Map<string, number>();
  readonly #maxSeen: number;

  constructor(options: { maxSeen?: number } = {}) {
    this.#maxSeen = options.maxSeen ?? 100_000;
  }

  verify(
    source: SourceName,
    settings: HmacSourceAuth,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer | undefined,
    now: number,
  ): Principal {
    const timestamp = header(headers, HMAC_TIMESTAMP_HEADER);
    const signatures = header(headers, HMAC_SIGNATURE_HEADER);
    if (timestamp === undefined || signatures === undefined)
      throw unauthorized(
        `the ${source} source requires a signed request: send ${HMAC_TIMESTAMP_HEADER} (Unix seconds) and ${HMAC_SIGNATURE_HEADER} (v1=<hex HMAC-SHA256 of "<timestamp>.<body>">)`,
      );
    if (!/^\d{1,12}$/.test(timestamp)) throw unauthorized(`${HMAC_TIMESTAMP_HEADER} must be Unix seconds`);
    const skew = Math.abs(now / 1000 - Number(timestamp));
    if (skew > settings.toleranceSeconds)
      throw unauthorized(
        `the signature is stale: its timestamp is ${Math.round(skew)} s from the server's clock (tolerance ${settings.toleranceSeconds} s)`,
      );
    const payload = body ?? Buffer.alloc(0);
    const offered = signatures
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.startsWith('v1='))
      .map((item) => Buffer.from(item.slice(3), 'hex'));
    const matched = settings.secrets.some((secret) => {
      const expected = Buffer.from(hmacSignature(secret, timestamp, payload).slice(3), 'hex');
      return offered.some(
        (candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected),
      );
    });
    if (!matched) throw unauthorized('the signature does not match the body');
    const replayKey = `${source}:${timestamp}:${signatures}`;
    this.#forgetExpired(now, settings.toleranceSeconds);
    if (this.#seen.has(replayKey)) throw unauthorized('this signed request was already received (a replay)');
    this.#seen.set(replayKey, now);
    return { name: `hmac:${source}`, tokenId: null, scopes: ['ingest'] };
  }

  #forgetExpired(now: number, toleranceSeconds: number): void {
    // Entries are in arrival order, so the oldest are first.
    for (const [key, at] of this.#seen) {
      if (now - at <= toleranceSeconds * 2000 && this.#seen.size < this.#maxSeen) break;
      this.#seen.delete(key);
    }
  }
}

/** The fields SNS signs, in order, per message type (SNS developer guide, "Verifying message signatures"). */
const SIGNED_FIELDS: Record<string, readonly string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: [
    'Message',
    'MessageId',
    'SubscribeURL',
    'Timestamp',
    'Token',
    'TopicArn',
    'Type',
  ],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

/** The canonical text SNS signs: each present field as "Name\nvalue\n". */
export function snsStringToSign(message: Record<string, unknown>): string {
  const fields = SIGNED_FIELDS[String(message.Type)];
  if (!fields) throw unauthorized(`unknown SNS message type ${JSON.stringify(message.Type)}`);
  let text = '';
  for (const field of fields) {
    // Lambda-style records spell the URL fields SubscribeUrl; HTTP deliveries SubscribeURL.
    const value = message[field] ?? (field.endsWith('URL') ? message[`${field.slice(0, -3)}Url`] : undefined);
    if (value === undefined || value === null) {
      if (field === 'Subject') continue;
      throw unauthorized(`the SNS message has no ${field}`);
    }
    if (typeof value !== 'string') throw unauthorized(`the SNS message's ${field} is not a string`);
    text += `${field}\n${value}\n`;
  }
  return text;
}

/** The SNS messages in a body: one delivered over HTTP, or the records of a Lambda-style event. */
export function snsMessagesOf(body: unknown): Record<string, unknown>[] {
  const isRecord = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isRecord(body)) throw unauthorized('the body is not an SNS message');
  if (typeof body.Type === 'string') return [body];
  if (Array.isArray(body.Records) && body.Records.length > 0) {
    return body.Records.map((record) => {
      if (!isRecord(record) || !isRecord(record.Sns))
        throw unauthorized('an event record holds no SNS message');
      return record.Sns;
    });
  }
  throw unauthorized('the body is not an SNS message');
}

interface CachedCertificate {
  certificate: X509Certificate;
  fetchedAt: number;
}

/**
 * Verifies Amazon SNS message signatures (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA). The
 * signing certificate is fetched over HTTPS only from an allow-listed host, and cached by URL.
 */
export class SnsVerifier {
  readonly #cache = new Map<string, CachedCertificate>();
  readonly #inflight = new Map<string, Promise<X509Certificate>>();
  readonly #agents = new Map<string, Agent>();
  readonly #cacheSeconds: number;
  /** Certificate fetches made, for tests and metrics: a cached certificate is fetched once. */
  fetches = 0;

  constructor(options: { cacheSeconds?: number } = {}) {
    this.#cacheSeconds = options.cacheSeconds ?? 24 * 3600;
  }

  async verify(settings: SnsSourceAuth, body: unknown, now: number): Promise<Principal> {
    const messages = snsMessagesOf(body);
    const topics = new Set<string>();
    for (const message of messages) {
      const topicArn = message.TopicArn;
      if (typeof topicArn !== 'string' || !settings.topicArns.includes(topicArn))
        throw unauthorized(
          `the SNS topic ${JSON.stringify(topicArn)} is not allowed for this source (sourceAuth.cloudwatch.topicArns)`,
        );
      const timestamp = Date.parse(String(message.Timestamp));
      if (!Number.isFinite(timestamp)) throw unauthorized('the SNS message has no valid Timestamp');
      const age = (now - timestamp) / 1000;
      if (age > settings.toleranceSeconds || age < -300)
        throw unauthorized(
          `the SNS message is stale: signed ${Math.round(age)} s ago (tolerance ${settings.toleranceSeconds} s)`,
        );
      const algorithm =
        message.SignatureVersion === '1' ? 'sha1' : message.SignatureVersion === '2' ? 'sha256' : undefined;
      if (!algorithm)
        throw unauthorized(`unsupported SNS SignatureVersion ${JSON.stringify(message.SignatureVersion)}`);
      if (typeof message.Signature !== 'string') throw unauthorized('the SNS message has no Signature');
      const certificateUrl = message.SigningCertURL ?? message.SigningCertUrl;
      const certificate = await this.#certificate(settings, certificateUrl, now);
      const valid = verifySignature(
        algorithm,
        Buffer.from(snsStringToSign(message), 'utf8'),
        certificate.publicKey,
        Buffer.from(message.Signature, 'base64'),
      );
      if (!valid) throw unauthorized('the SNS signature does not match the message');
      topics.add(topicArn);
    }
    return { name: `sns:${[...topics].join(',')}`, tokenId: null, scopes: ['ingest'] };
  }

  async #certificate(settings: SnsSourceAuth, value: unknown, now: number): Promise<X509Certificate> {
    if (typeof value !== 'string') throw unauthorized('the SNS message has no SigningCertURL');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw unauthorized('the SNS SigningCertURL is not a URL');
    }
    if (url.protocol !== 'https:' || !new RegExp(settings.certHostPattern).test(url.hostname))
      throw unauthorized(
        `the SNS signing certificate must come over HTTPS from an SNS host, not ${url.protocol}//${url.host}`,
      );
    if (!url.pathname.endsWith('.pem') || url.username || url.password)
      throw unauthorized('the SNS SigningCertURL must name a .pem file');
    const key = url.href;
    const cached = this.#cache.get(key);
    if (
      cached &&
      now - cached.fetchedAt < this.#cacheSeconds * 1000 &&
      Date.parse(cached.certificate.validTo) > now
    )
      return cached.certificate;
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#fetch(url, settings.caFile).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    const certificate = await pending;
    if (Date.parse(certificate.validTo) < now || Date.parse(certificate.validFrom) > now)
      throw unauthorized('the SNS signing certificate is outside its validity period');
    this.#cache.set(key, { certificate, fetchedAt: now });
    return certificate;
  }

  #agent(caFile: string | undefined): Agent | undefined {
    if (caFile === undefined) return undefined;
    let agent = this.#agents.get(caFile);
    if (!agent) {
      let ca: Buffer;
      try {
        ca = readFileSync(caFile);
      } catch (error) {
        throw new OpxError(
          'config_invalid',
          `cannot read sourceAuth caFile ${caFile}: ${(error as Error).message}`,
        );
      }
      agent = new Agent({ ca, keepAlive: true });
      this.#agents.set(caFile, agent);
    }
    return agent;
  }

  #fetch(url: URL, caFile: string | undefined): Promise<X509Certificate> {
    this.fetches += 1;
    const agent = this.#agent(caFile);
    return new Promise((resolve, reject) => {
      const fail = (reason: string) =>
        reject(new OpxError('unauthorized', `cannot fetch the SNS signing certificate: ${reason}`));
      const request = httpsGet(url, { agent, timeout: 5000 }, (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          fail(`HTTP ${response.statusCode}`);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          // A certificate is a few kilobytes; anything larger is not one.
          if (size > 64 * 1024) request.destroy(new Error('the certificate is larger than 64 KiB'));
          else chunks.push(chunk);
        });
        response.on('end', () => {
          try {
            resolve(new X509Certificate(Buffer.concat(chunks)));
          } catch (error) {
            fail(`not a PEM certificate (${(error as Error).message})`);
          }
        });
        response.on('error', (error) => fail(error.message));
      });
      request.on('timeout', () => request.destroy(new Error('timed out after 5 s')));
      request.on('error', (error) => fail(error.message));
    });
  }
}
