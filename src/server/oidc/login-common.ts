/**
 * What the login connector's parts share (src/server/oidc/login.ts, device.ts, upstream.ts): who a login found, the
 * state of a login in progress, and the small HTTP answers (pages, redirects, OAuth errors) and form reading every
 * endpoint uses. Logins in progress live in bounded, insertion-ordered maps, so a flood of unfinished logins cannot
 * grow without bound.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ConnectorConfig } from '../config.ts';
import type { RouteRequest, RouteResponse } from '../routes.ts';

/** Who logged in, as the upstream vouched for them. */
export interface LoggedIn {
  email: string;
  connectorId: string;
  userId: string;
}

/** A login the upstream refused, or whose identity is not good enough: sent back as an OAuth error. */
export interface LoginRefused {
  error: string;
  description: string;
}

export interface BrowserRequest {
  kind: 'browser';
  redirectUri: string;
  state: string;
  nonce?: string;
  codeChallenge: string;
}

export interface DeviceRequest {
  kind: 'device';
  deviceCode: string;
}

/** A login waiting for the upstream to send the person back. */
export interface Pending {
  expires: number;
  connector: ConnectorConfig;
  upstream: { verifier: string; nonce: string };
  request: BrowserRequest | DeviceRequest;
}

/** Unfinished logins, codes and device grants kept at most; the oldest go first. */
const MAX_ENTRIES = 10_000;
export const MAX_FORM_BYTES = 16 * 1024;
export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export const random = (bytes = 32) => randomBytes(bytes).toString('base64url');
export const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function page(status: number, title: string, body: string): RouteResponse {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // Nothing on these pages runs script or may be framed (clickjacking a login).
      'content-security-policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    },
    body: html,
  };
}

export function redirect(location: string): RouteResponse {
  return { status: 302, headers: { location, 'cache-control': 'no-store' }, body: '' };
}

/** An OAuth error answer of the token endpoint (RFC 6749 §5.2). */
export function tokenError(error: string, description: string, status = 400): RouteResponse {
  return { status, headers: { 'cache-control': 'no-store' }, body: { error, error_description: description } };
}

/** Insert into a map used as a bounded, insertion-ordered cache. */
export function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.set(key, value);
  for (const k of map.keys()) {
    if (map.size <= MAX_ENTRIES) break;
    map.delete(k);
  }
}

/** The form body of a token or device request, and the client id from it or from HTTP Basic (RFC 6749 §2.3.1). */
export function readForm(req: RouteRequest): { params: URLSearchParams; clientId: string | undefined } | RouteResponse {
  if (req.body.length > MAX_FORM_BYTES) return tokenError('invalid_request', 'request too large');
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
    return tokenError('invalid_request', 'expected application/x-www-form-urlencoded');
  }
  const params = new URLSearchParams(req.body.toString('utf8'));
  // RFC 6749 §3.2: parameters must not repeat.
  const names = [...params.keys()];
  if (new Set(names).size !== names.length) return tokenError('invalid_request', 'a parameter is repeated');
  let clientId = params.get('client_id') ?? undefined;
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
  if (basic) {
    const user = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':')[0]!;
    clientId = decodeURIComponent(user.replace(/\+/g, ' '));
  }
  return { params, clientId };
}

/** How a connector is named to a person choosing one. */
export function connectorLabel(c: ConnectorConfig): string {
  return c.type === 'github' ? `GitHub (${c.url})` : c.issuer;
}
