import type { Command } from 'commander';
import { OpxApiError, OpxClient } from '../client/index.js';
import { OpxError } from '../domain/errors.js';

/**
 * The CLI as a client of a running OPX (`--server <url> --token <token>`, or OPX_SERVER and OPX_TOKEN):
 * read and respond commands go over the HTTP API with that token's scope, and the API records that
 * token as the principal. Local mode (the store directly) stays for admin and offline use. This module
 * loads only the typed client, so a remote command starts without the store, LangGraph or AWS SDKs.
 */

/** Commands that have a remote form, by their path under `opx`. */
export const REMOTE_COMMANDS = new Set([
  'incidents list',
  'incidents show',
  'incidents events',
  'incidents verify',
  'incidents ack',
  'incidents mitigate',
  'incidents resolve',
  'incidents close',
  'incidents reopen',
  'incidents severity',
  'incidents note',
  'incidents merge',
  'incidents split',
  'investigate',
  'investigate show',
  'replay',
  'approve',
  'reject',
  'kb search',
  'costs',
  'alarms',
  'audit',
]);

/** The command's path under `opx`: `incidents list`. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at?.parent; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

interface RemoteOptions {
  server?: string;
  token?: string;
}

function remoteOptions(command: Command): { server: string | undefined; token: string | undefined } {
  const options = command.optsWithGlobals() as RemoteOptions;
  return {
    server: options.server ?? (process.env.OPX_SERVER || undefined),
    token: options.token ?? (process.env.OPX_TOKEN || undefined),
  };
}

/** Whether this run talks to a server (`--server` or OPX_SERVER). */
export function isRemote(command: Command): boolean {
  return remoteOptions(command).server !== undefined;
}

/**
 * Refuses a command that has no remote form when a server is given, before it touches anything: a
 * command meant for a server must not quietly run on a local store instead.
 */
export function assertRunnable(command: Command): void {
  if (!isRemote(command)) return;
  const path = commandPath(command);
  if (REMOTE_COMMANDS.has(path)) return;
  throw new OpxError(
    'invalid_request',
    `\`opx ${path}\` works on the store directly and has no remote form: drop --server (and OPX_SERVER) to run it locally`,
  );
}

/** Set once this run talks to a server: network errors are then the server's, in words. */
let remoteRun = false;

/**
 * The API client for this run, or undefined in local mode. Requests give up after `timeoutMs`
 * (2 minutes); `null` waits as long as the server takes (an investigation answers when it is done,
 * and the server bounds it).
 */
export function remoteClient(
  command: Command,
  options: { timeoutMs?: number | null } = {},
): OpxClient | undefined {
  const { server, token } = remoteOptions(command);
  if (server === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new OpxError('invalid_request', `--server ${server} is not a URL: give http(s)://host:port`, {
      path: 'server',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new OpxError('invalid_request', `--server ${server} must be an http:// or https:// URL`, {
      path: 'server',
    });
  if (url.username || url.password || url.search || url.hash)
    throw new OpxError(
      'invalid_request',
      `--server takes the server's address only (scheme, host, port, path): no user, password, query or fragment`,
      { path: 'server' },
    );
  if (!token)
    throw new OpxError('invalid_request', `--server needs a token: give --token or set OPX_TOKEN`, {
      path: 'token',
    });
  remoteRun = true;
  const timeoutMs = options.timeoutMs === undefined ? 120_000 : options.timeoutMs;
  return new OpxClient({ baseUrl: url.toString(), token, ...(timeoutMs === null ? {} : { timeoutMs }) });
}

/** Network error codes worth naming, in words. */
const NETWORK_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is opx serve running there?)',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name did not resolve',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
};

/**
 * One line for a failed remote call, or undefined when the error is not one: the server's own error
 * message and code, or why the server could not be reached.
 */
export function describeRemoteError(error: unknown): string | undefined {
  if (error instanceof OpxApiError) {
    const body = error.body?.error;
    const what =
      error.status === 401
        ? 'the token was not accepted (check --token or OPX_TOKEN)'
        : error.status === 403
          ? `the token may not do this: ${body?.message ?? 'forbidden'}`
          : (body?.message ?? `HTTP ${error.status}`);
    return `${error.method} ${error.path}: ${what}${body?.code ? ` [${body.code}]` : ` [HTTP ${error.status}]`}`;
  }
  if (!remoteRun) return undefined;
  if (error instanceof TypeError && error.message === 'fetch failed') {
    const cause = (error as TypeError & { cause?: { code?: string; message?: string } }).cause;
    const reason = (cause?.code && NETWORK_CAUSES[cause.code]) ?? cause?.message ?? 'the request failed';
    return `cannot reach the server: ${reason}`;
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return 'the server did not answer in time';
  return undefined;
}
