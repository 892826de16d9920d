/**
 * Transport-free routes (CONVENTIONS §5): a route maps a request value to a response value, with no socket, so
 * tests exercise every service without HTTP and the one adapter (http.ts) stays a thin translation. Errors are
 * VouchErrors; `statusOf` is the single place that turns a code into an HTTP status, and nothing but a generic
 * message ever leaves for an unexpected error (no stack traces to hostile clients).
 */

import { parseStrictJson } from '../core/json.ts';
import { type ErrorCode, isVouchError, VouchError } from '../errors.ts';

export interface RouteRequest {
  method: string;
  /** Path relative to the service's prefix, e.g. `/api/v1/log`. */
  path: string;
  query: Record<string, string | undefined>;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export interface RouteResponse {
  status: number;
  headers?: Record<string, string>;
  /** A Buffer or string is sent as is; anything else as JSON. */
  body: unknown;
}

export type Handler = (req: RouteRequest, params: Record<string, string>) => Promise<RouteResponse> | RouteResponse;

export interface Route {
  method: 'GET' | 'POST';
  /** Path with `:name` segments. */
  pattern: string;
  handler: Handler;
}

/** Default cap on request bodies; every service sets its own lower or equal limit. */
export const MAX_BODY = 1 << 20;

const STATUS: Partial<Record<ErrorCode, number>> = {
  TOKEN_INVALID: 401,
  REQUEST_INVALID: 400,
  PROOF_OF_POSSESSION_INVALID: 400,
  SIGNATURE_INVALID: 400,
  KEY_INVALID: 400,
  REQUEST_TOO_LARGE: 413,
  ENTRY_NOT_FOUND: 404,
  ENTRY_EXISTS: 409,
  SERVICE_UNAVAILABLE: 503,
};

export function statusOf(e: unknown): number {
  return isVouchError(e) ? (STATUS[e.code] ?? 500) : 500;
}

/** The JSON error body, in the `{code, message}` shape Sigstore services answer with. */
export function errorResponse(e: unknown): RouteResponse {
  const status = statusOf(e);
  if (status === 500 || !isVouchError(e)) {
    return { status: 500, body: { code: 500, message: 'internal error' } };
  }
  const headers: Record<string, string> = {};
  const location = (e.details as { location?: string } | undefined)?.location;
  if (location) headers.location = location;
  return { status, headers, body: { code: status, message: e.message, error: e.code } };
}

export function badRequest(message: string): VouchError {
  return new VouchError('REQUEST_INVALID', message);
}

/** Parse a JSON request body strictly (duplicate keys rejected), as an object. */
export function jsonBody(req: RouteRequest, maxBytes: number): Record<string, unknown> {
  if (req.body.length > maxBytes) throw new VouchError('REQUEST_TOO_LARGE', `body larger than ${maxBytes} bytes`);
  const ct = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(ct)) throw badRequest('expected Content-Type: application/json');
  const text = req.body.toString('utf8');
  const v = parseStrictJson(text, { code: 'REQUEST_INVALID', what: 'request body', maxDepth: 16 });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('request body must be a JSON object');
  return v as Record<string, unknown>;
}

interface Compiled {
  method: string;
  parts: string[];
  handler: Handler;
}

/** A router over a list of routes; `dispatch` never throws (errors become responses). */
export class Router {
  private readonly routes: Compiled[];

  constructor(routes: Route[]) {
    this.routes = routes.map((r) => ({ method: r.method, parts: r.pattern.split('/'), handler: r.handler }));
  }

  async dispatch(req: RouteRequest): Promise<RouteResponse> {
    const parts = req.path.split('/');
    let pathMatched = false;
    for (const r of this.routes) {
      if (r.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const p = r.parts[i]!;
        if (p.startsWith(':')) {
          if (parts[i] === '') ok = false;
          else params[p.slice(1)] = decodeURIComponentSafe(parts[i]!);
        } else if (p !== parts[i]) ok = false;
      }
      if (!ok) continue;
      pathMatched = true;
      if (r.method !== req.method && !(r.method === 'GET' && req.method === 'HEAD')) continue;
      try {
        return await r.handler(req, params);
      } catch (e) {
        return errorResponse(e);
      }
    }
    return pathMatched
      ? { status: 405, body: { code: 405, message: 'method not allowed' } }
      : { status: 404, body: { code: 404, message: 'not found' } };
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return '\u0000';
  }
}

/** Build a request value for tests and the in-process form. */
export function request(
  method: string,
  path: string,
  init: { body?: unknown; headers?: Record<string, string> } = {},
): RouteRequest {
  const url = new URL(path, 'http://local');
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  let body: Buffer = Buffer.alloc(0);
  const headers: Record<string, string> = { ...init.headers };
  if (Buffer.isBuffer(init.body)) body = init.body;
  else if (typeof init.body === 'string') body = Buffer.from(init.body);
  else if (init.body !== undefined) {
    body = Buffer.from(JSON.stringify(init.body));
    headers['content-type'] ??= 'application/json';
  }
  return { method, path: url.pathname, query, headers, body };
}
