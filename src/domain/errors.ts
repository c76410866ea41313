/** Stable error codes: clients branch on these, so a code is never renamed once shipped. */
export const ERROR_CODES = {
  invalid_request: 400,
  invalid_json: 400,
  unsupported_payload: 422,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  illegal_transition: 409,
  idempotency_key_reused: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  config_invalid: 500,
  /** A service OPX depends on (a language model provider) failed or answered nonsense. */
  upstream_error: 502,
  store_unavailable: 503,
  timeout: 504,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export class OpxError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  readonly details: unknown;
  readonly retryable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: { path?: string; details?: unknown; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OpxError';
    this.code = code;
    this.path = options.path;
    this.details = options.details;
    this.retryable = options.retryable ?? false;
  }

  get status(): number {
    return ERROR_CODES[this.code];
  }
}

/** Renders a zod issue path as `alerts[0].labels.severity`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}
