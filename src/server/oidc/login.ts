/**
 * The login connector: an OpenID provider at `/login` that signs people in through an upstream — a GitHub OAuth app
 * (GitHub user login is OAuth 2.0, not OIDC: the identity comes from its API) or any OIDC provider — and issues ID
 * tokens whose identity is the person's verified email, recording the upstream in `federated_claims` as Dex does.
 * The stack's CA trusts these tokens (keys given directly) and names the upstream as the certificate's issuer, as
 * public Sigstore does for its Dex (`issuer-claim: $.federated_claims.connector_id`).
 *
 * Clients are public: authorization code with PKCE S256 required (RFC 7636, OAuth 2.0 Security BCP), redirect URIs on
 * loopback only (RFC 8252 §7.3), `state` required; or the device grant (RFC 8628) for machines without a browser.
 * Upstream exchanges go through openid-client (discovery, PKCE, state and nonce checks, ID token validation). Pending
 * logins and codes live in memory with short lifetimes and a cap, so a flood of unfinished logins cannot grow without
 * bound; a restart forgets them, which only makes people log in again.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as jose from 'jose';
import * as client from 'openid-client';
import type { ConnectorConfig, LoginConfig } from '../config.ts';
import type { StackKey } from '../pki.ts';
import type { Route, RouteRequest, RouteResponse } from '../routes.ts';

export interface LoginIssuerOptions {
  /** The issuer URL, e.g. https://vouch.acme.internal/login. */
  issuer: string;
  key: StackKey;
  config: LoginConfig;
  /** Upstreams over plain HTTP on loopback (tests, development). */
  allowInsecureLoopback?: boolean;
  clock?: () => Date;
}

/** Who logged in, as the upstream vouched for them. */
interface LoggedIn {
  email: string;
  connectorId: string;
  userId: string;
}

interface BrowserRequest {
  kind: 'browser';
  redirectUri: string;
  state: string;
  nonce?: string;
  codeChallenge: string;
}

interface DeviceRequest {
  kind: 'device';
  deviceCode: string;
}

/** A login waiting for the upstream to send the person back. */
interface Pending {
  expires: number;
  connector: ConnectorConfig;
  upstream: { verifier: string; nonce: string };
  request: BrowserRequest | DeviceRequest;
}

interface IssuedCode {
  expires: number;
  redirectUri: string;
  codeChallenge: string;
  nonce?: string;
  who: LoggedIn;
}

interface DeviceGrant {
  expires: number;
  userCode: string;
  interval: number;
  lastPoll: number;
  status: 'pending' | 'denied' | 'done' | { who: LoggedIn };
}

const PENDING_MS = 10 * 60_000;
const CODE_MS = 60_000;
const DEVICE_MS = 5 * 60_000;
const DEVICE_INTERVAL_S = 5;
/** Unfinished logins, codes and device grants kept at most; the oldest go first. */
const MAX_ENTRIES = 10_000;
const MAX_FORM_BYTES = 16 * 1024;
const UPSTREAM_TIMEOUT_S = 10;
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

/** RFC 8252 §7.3 loopback redirect: http, 127.0.0.1, [::1] or localhost, any port and path. */
function isLoopbackRedirect(uri: string): boolean {
  if (!URL.canParse(uri)) return false;
  const u = new URL(uri);
  return u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname) && !u.username && !u.hash;
}

const random = (bytes = 32) => randomBytes(bytes).toString('base64url');
const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(status: number, title: string, body: string): RouteResponse {
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

function redirect(location: string): RouteResponse {
  return { status: 302, headers: { location, 'cache-control': 'no-store' }, body: '' };
}

/** An OAuth error answer of the token endpoint (RFC 6749 §5.2). */
function tokenError(error: string, description: string, status = 400): RouteResponse {
  return { status, headers: { 'cache-control': 'no-store' }, body: { error, error_description: description } };
}

/** Insert into a map used as a bounded, insertion-ordered cache. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.set(key, value);
  for (const k of map.keys()) {
    if (map.size <= MAX_ENTRIES) break;
    map.delete(k);
  }
}

export class LoginIssuer {
  readonly issuer: string;
  private readonly key: StackKey;
  private readonly config: LoginConfig;
  private readonly allowInsecureLoopback: boolean;
  private readonly clock: () => Date;
  private readonly pending = new Map<string, Pending>();
  private readonly codes = new Map<string, IssuedCode>();
  private readonly devices = new Map<string, DeviceGrant>();
  private readonly userCodes = new Map<string, string>();
  private readonly upstreams = new Map<string, Promise<client.Configuration>>();
  private jwk: jose.JWK | undefined;

  constructor(o: LoginIssuerOptions) {
    this.issuer = o.issuer.replace(/\/+$/, '');
    this.key = o.key;
    this.config = o.config;
    this.allowInsecureLoopback = o.allowInsecureLoopback ?? false;
    this.clock = o.clock ?? (() => new Date());
  }

  private now(): number {
    return this.clock().getTime();
  }

  async jwks(): Promise<jose.JSONWebKeySet> {
    if (!this.jwk) {
      const jwk = await jose.exportJWK(this.key.publicKey);
      this.jwk = { ...jwk, kid: await jose.calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' };
    }
    return { keys: [this.jwk] };
  }

  routes(): Route[] {
    return [
      { method: 'GET', pattern: '/.well-known/openid-configuration', handler: () => this.discovery() },
      { method: 'GET', pattern: '/keys', handler: async () => ({ status: 200, body: await this.jwks() }) },
      { method: 'GET', pattern: '/auth', handler: (req) => this.authorize(req) },
      { method: 'GET', pattern: '/callback', handler: (req) => this.callback(req) },
      { method: 'POST', pattern: '/token', handler: (req) => this.token(req) },
      { method: 'POST', pattern: '/device/code', handler: (req) => this.deviceCode(req) },
      { method: 'GET', pattern: '/device', handler: (req) => this.deviceEnter(req) },
      { method: 'POST', pattern: '/device', handler: (req) => this.deviceConfirm(req) },
    ];
  }

  private discovery(): RouteResponse {
    return {
      status: 200,
      body: {
        issuer: this.issuer,
        authorization_endpoint: `${this.issuer}/auth`,
        token_endpoint: `${this.issuer}/token`,
        device_authorization_endpoint: `${this.issuer}/device/code`,
        jwks_uri: `${this.issuer}/keys`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code', DEVICE_GRANT],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        scopes_supported: ['openid', 'email'],
        claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'email', 'email_verified', 'federated_claims'],
        token_endpoint_auth_methods_supported: ['none'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
      },
    };
  }

  /** GET /auth: check the client's request, then send the person to the chosen upstream. */
  private async authorize(req: RouteRequest): Promise<RouteResponse> {
    const q = req.query;
    // Until client and redirect URI are known good, errors are shown, never redirected (RFC 6749 §4.1.2.1).
    if (q.client_id !== this.config.clientId)
      return page(400, 'Unknown client', '<p>This client is not registered.</p>');
    const redirectUri = q.redirect_uri ?? '';
    if (!isLoopbackRedirect(redirectUri)) {
      return page(
        400,
        'Redirect refused',
        '<p>Only loopback redirect URIs (http://127.0.0.1:PORT/...) are accepted.</p>',
      );
    }
    const fail = (error: string, description: string) =>
      redirect(this.clientRedirect(redirectUri, { error, error_description: description, state: q.state }));
    if (q.response_type !== 'code') return fail('unsupported_response_type', 'only response_type=code');
    if (!q.state) return fail('invalid_request', 'state is required');
    if (!q.code_challenge || q.code_challenge_method !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(q.code_challenge)) {
      return fail('invalid_request', 'PKCE with code_challenge_method=S256 is required');
    }
    if (!(q.scope ?? '').split(' ').includes('openid')) return fail('invalid_scope', 'the openid scope is required');
    const request: BrowserRequest = { kind: 'browser', redirectUri, state: q.state, codeChallenge: q.code_challenge };
    if (q.nonce) request.nonce = q.nonce;
    return this.toUpstream(q.connector_id, request, (id) => {
      const u = new URL(`${this.issuer}/auth`);
      for (const [k, v] of Object.entries(q)) if (v !== undefined && k !== 'connector_id') u.searchParams.set(k, v);
      u.searchParams.set('connector_id', id);
      return u.toString();
    });
  }

  /** Pick the connector (or show the choice) and redirect to it with this login's state, PKCE and nonce. */
  private async toUpstream(
    connectorId: string | undefined,
    request: BrowserRequest | DeviceRequest,
    choiceUrl: (id: string) => string,
  ): Promise<RouteResponse> {
    const connectors = this.config.connectors;
    const connector =
      connectorId === undefined && connectors.length === 1
        ? connectors[0]
        : connectors.find((c) => c.id === connectorId);
    if (!connector) {
      if (connectorId !== undefined)
        return page(400, 'Unknown login method', `<p>No connector ${escapeHtml(connectorId)}.</p>`);
      const items = connectors
        .map(
          (c) =>
            `<li><a href="${escapeHtml(choiceUrl(c.id))}">${escapeHtml(c.type === 'github' ? `GitHub (${c.url})` : c.issuer)}</a></li>`,
        )
        .join('');
      return page(200, 'Log in with', `<ul>${items}</ul>`);
    }
    let upstream: client.Configuration;
    try {
      upstream = await this.upstream(connector);
    } catch (e) {
      return page(
        502,
        'Login unavailable',
        `<p>The upstream could not be reached: ${escapeHtml((e as Error).message)}</p>`,
      );
    }
    const state = random();
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    remember(this.pending, state, {
      expires: this.now() + PENDING_MS,
      connector,
      upstream: { verifier, nonce },
      request,
    });
    const params: Record<string, string> = {
      redirect_uri: `${this.issuer}/callback`,
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (connector.type === 'github') params.scope = 'read:user user:email';
    else {
      params.scope = connector.scopes.join(' ');
      params.nonce = nonce;
    }
    return redirect(client.buildAuthorizationUrl(upstream, params).toString());
  }

  /** The upstream's openid-client configuration: discovered (OIDC) or GitHub's fixed OAuth endpoints. */
  private upstream(c: ConnectorConfig): Promise<client.Configuration> {
    let p = this.upstreams.get(c.id);
    if (!p) {
      p = (async () => {
        const insecure = this.allowInsecureLoopback ? [client.allowInsecureRequests] : [];
        let config: client.Configuration;
        if (c.type === 'github') {
          config = new client.Configuration(
            {
              issuer: `${c.url}/login/oauth`,
              authorization_endpoint: `${c.url}/login/oauth/authorize`,
              token_endpoint: `${c.url}/login/oauth/access_token`,
            },
            c.clientId,
            c.clientSecret,
          );
          for (const f of insecure) f(config);
        } else {
          config = await client.discovery(new URL(c.issuer), c.clientId, c.clientSecret, undefined, {
            execute: insecure,
            timeout: UPSTREAM_TIMEOUT_S,
          });
        }
        config.timeout = UPSTREAM_TIMEOUT_S;
        return config;
      })();
      // A failed discovery is retried on the next login, not remembered.
      p.catch(() => this.upstreams.delete(c.id));
      this.upstreams.set(c.id, p);
    }
    return p;
  }

  /** GET /callback: the upstream sends the person back; find out who they are and finish their login. */
  private async callback(req: RouteRequest): Promise<RouteResponse> {
    const pending = req.query.state === undefined ? undefined : this.pending.get(req.query.state);
    if (!pending || pending.expires < this.now()) {
      return page(400, 'Login expired', '<p>This login is unknown or has expired. Start again from your terminal.</p>');
    }
    this.pending.delete(req.query.state!);
    let outcome: LoggedIn | { error: string; description: string };
    if (req.query.error !== undefined) {
      outcome = { error: 'access_denied', description: `the upstream answered ${req.query.error}` };
    } else {
      try {
        outcome = await this.identify(pending, req);
      } catch (e) {
        outcome = { error: 'access_denied', description: `the upstream login failed: ${(e as Error).message}` };
      }
    }
    const r = pending.request;
    if (r.kind === 'device') {
      const grant = this.devices.get(r.deviceCode);
      if (!grant || grant.expires < this.now())
        return page(400, 'Login expired', '<p>The device code has expired.</p>');
      if ('error' in outcome) {
        grant.status = 'denied';
        return page(403, 'Login refused', `<p>${escapeHtml(outcome.description)}</p>`);
      }
      grant.status = { who: outcome };
      return page(
        200,
        'Logged in',
        `<p>Logged in as ${escapeHtml(outcome.email)}. You can return to your terminal.</p>`,
      );
    }
    if ('error' in outcome) {
      return redirect(
        this.clientRedirect(r.redirectUri, {
          error: outcome.error,
          error_description: outcome.description,
          state: r.state,
        }),
      );
    }
    const code = random();
    const issued: IssuedCode = {
      expires: this.now() + CODE_MS,
      redirectUri: r.redirectUri,
      codeChallenge: r.codeChallenge,
      who: outcome,
    };
    if (r.nonce !== undefined) issued.nonce = r.nonce;
    remember(this.codes, code, issued);
    return redirect(this.clientRedirect(r.redirectUri, { code, state: r.state }));
  }

  /** The person the upstream vouches for, by verified email; an error outcome when there is none. */
  private async identify(p: Pending, req: RouteRequest): Promise<LoggedIn | { error: string; description: string }> {
    const upstream = await this.upstream(p.connector);
    const current = new URL(`${this.issuer}/callback`);
    for (const [k, v] of Object.entries(req.query)) if (v !== undefined) current.searchParams.set(k, v);
    const oidc = p.connector.type === 'oidc';
    const tokens = await client.authorizationCodeGrant(upstream, current, {
      pkceCodeVerifier: p.upstream.verifier,
      expectedState: req.query.state,
      ...(oidc ? { expectedNonce: p.upstream.nonce, idTokenExpected: true } : {}),
    });
    const c = p.connector;
    if (c.type === 'oidc') {
      const claims = tokens.claims()!;
      const verified = claims.email_verified === true || c.skipEmailVerification;
      if (typeof claims.email !== 'string' || !verified) {
        return { error: 'access_denied', description: 'the upstream did not vouch for a verified email address' };
      }
      return { email: claims.email, connectorId: c.id, userId: claims.sub };
    }
    // GitHub: the account and its addresses from the REST API (GET /user, GET /user/emails); like Dex's GitHub
    // connector, the identity is the primary address, and only if GitHub has verified it.
    const get = async (path: string) => {
      const res = await client.fetchProtectedResource(
        upstream,
        tokens.access_token,
        new URL(`${c.apiUrl}${path}`),
        'GET',
        null,
        new Headers({ accept: 'application/vnd.github+json' }),
      );
      if (!res.ok) throw new Error(`GitHub ${path} answered HTTP ${res.status}`);
      return res.json() as Promise<unknown>;
    };
    const user = (await get('/user')) as { id?: unknown };
    const emails = (await get('/user/emails')) as { email?: unknown; primary?: unknown; verified?: unknown }[];
    const primary = Array.isArray(emails) ? emails.find((e) => e.primary === true && e.verified === true) : undefined;
    if ((typeof user.id !== 'number' && typeof user.id !== 'string') || typeof primary?.email !== 'string') {
      return { error: 'access_denied', description: 'the GitHub account has no verified primary email address' };
    }
    return { email: primary.email, connectorId: c.id, userId: String(user.id) };
  }

  private clientRedirect(redirectUri: string, params: Record<string, string | undefined>): string {
    const u = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
    // RFC 9207: the issuer, so a client talking to several cannot be confused about which one answered.
    u.searchParams.set('iss', this.issuer);
    return u.toString();
  }

  /** The form body of a token or device request, and the client id from it or from HTTP Basic (RFC 6749 §2.3.1). */
  private form(req: RouteRequest): { params: URLSearchParams; clientId: string | undefined } | RouteResponse {
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

  /** POST /token: the authorization code grant (with PKCE) or the device grant. */
  private async token(req: RouteRequest): Promise<RouteResponse> {
    const f = this.form(req);
    if ('status' in f) return f;
    const { params, clientId } = f;
    if (clientId !== this.config.clientId) return tokenError('invalid_client', 'unknown client', 401);
    const grant = params.get('grant_type');
    if (grant === 'authorization_code') {
      const code = params.get('code') ?? '';
      const issued = this.codes.get(code);
      // A code is good once: a second use, even a failing one, finds nothing (RFC 6749 §4.1.2).
      this.codes.delete(code);
      if (!issued || issued.expires < this.now()) return tokenError('invalid_grant', 'unknown, used or expired code');
      if (params.get('redirect_uri') !== issued.redirectUri) return tokenError('invalid_grant', 'redirect_uri differs');
      const verifier = params.get('code_verifier') ?? '';
      // RFC 7636 §4.1 and §4.6: 43-128 unreserved characters whose S256 is the challenge.
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || s256(verifier) !== issued.codeChallenge) {
        return tokenError('invalid_grant', 'the PKCE code_verifier does not match');
      }
      return this.tokens(issued.who, issued.nonce);
    }
    if (grant === DEVICE_GRANT) {
      const code = params.get('device_code') ?? '';
      const g = this.devices.get(code);
      if (!g) return tokenError('invalid_grant', 'unknown device code');
      const now = this.now();
      if (g.expires < now) {
        this.devices.delete(code);
        return tokenError('expired_token', 'the device code has expired');
      }
      if (g.status === 'denied') {
        this.devices.delete(code);
        return tokenError('access_denied', 'the login was refused');
      }
      if (g.status === 'pending') {
        // RFC 8628 §3.5: polling faster than the interval earns slow_down and 5 more seconds.
        const early = now - g.lastPoll < g.interval * 1000;
        g.lastPoll = now;
        if (early) {
          g.interval += 5;
          return tokenError('slow_down', `poll at most every ${g.interval} s`);
        }
        return tokenError('authorization_pending', 'the login is not finished yet');
      }
      if (g.status === 'done') return tokenError('invalid_grant', 'the device code was already used');
      const who = g.status.who;
      g.status = 'done';
      this.userCodes.delete(g.userCode);
      return this.tokens(who, undefined);
    }
    return tokenError('unsupported_grant_type', 'authorization_code or the device code grant');
  }

  private async tokens(who: LoggedIn, nonce: string | undefined): Promise<RouteResponse> {
    const { keys } = await this.jwks();
    const now = Math.floor(this.now() / 1000);
    const lifetime = this.config.tokenLifetimeSeconds;
    const claims: Record<string, unknown> = {
      email: who.email,
      email_verified: true,
      federated_claims: { connector_id: who.connectorId, user_id: who.userId },
    };
    if (nonce !== undefined) claims.nonce = nonce;
    // `sub` is the email: every Sigstore client signs `sub` as proof of possession for an issuer it does not know,
    // and the CA checks it against the email (the identity), so both must be the same string.
    const token = await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: keys[0]!.kid!, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(who.email)
      .setAudience(this.config.clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + lifetime)
      .sign(this.key.privateKey);
    return {
      status: 200,
      headers: { 'cache-control': 'no-store' },
      // sigstore-python reads the identity token from access_token; others from id_token: both are the same.
      body: { access_token: token, id_token: token, token_type: 'Bearer', expires_in: lifetime, scope: 'openid email' },
    };
  }

  /** POST /device/code (RFC 8628 §3.1-3.2). */
  private deviceCode(req: RouteRequest): RouteResponse {
    const f = this.form(req);
    if ('status' in f) return f;
    if (f.clientId !== this.config.clientId) return tokenError('invalid_client', 'unknown client', 401);
    const deviceCode = random();
    let userCode: string;
    do {
      const b = randomBytes(8);
      const chars = [...b].map((x) => USER_CODE_ALPHABET[x % USER_CODE_ALPHABET.length]).join('');
      userCode = `${chars.slice(0, 4)}-${chars.slice(4)}`;
    } while (this.userCodes.has(userCode));
    const now = this.now();
    remember(this.devices, deviceCode, {
      expires: now + DEVICE_MS,
      userCode,
      interval: DEVICE_INTERVAL_S,
      lastPoll: 0,
      status: 'pending',
    });
    remember(this.userCodes, userCode, deviceCode);
    return {
      status: 200,
      headers: { 'cache-control': 'no-store' },
      body: {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: `${this.issuer}/device`,
        verification_uri_complete: `${this.issuer}/device?user_code=${userCode}`,
        expires_in: DEVICE_MS / 1000,
        interval: DEVICE_INTERVAL_S,
      },
    };
  }

  /**
   * GET /device: the person enters the code shown on their device, or, arriving by `verification_uri_complete`, sees
   * it and is asked to compare it with their device's before going on (RFC 8628 §5.4: a link with the code filled in
   * is what a phisher sends). Going on is a POST from this page.
   */
  private deviceEnter(req: RouteRequest): RouteResponse {
    const action = escapeHtml(`${this.issuer}/device`);
    const entered = req.query.user_code ?? '';
    const grant = entered === '' ? undefined : this.deviceGrant(entered);
    if (entered === '' || !grant) {
      const note = entered === '' ? '' : '<p>That code is unknown, used or expired. Check the code on your device.</p>';
      return page(
        entered === '' ? 200 : 400,
        'Log in a device',
        `${note}<form method="post" action="${action}"><label>Code shown on your device <input name="user_code" autocomplete="off"></label> <button>Continue</button></form>`,
      );
    }
    const buttons = this.config.connectors
      .map(
        (c) =>
          `<form method="post" action="${action}"><input type="hidden" name="user_code" value="${escapeHtml(grant.userCode)}"><input type="hidden" name="connector_id" value="${escapeHtml(c.id)}"><button>Log in with ${escapeHtml(c.type === 'github' ? `GitHub (${c.url})` : c.issuer)}</button></form>`,
      )
      .join('');
    return page(
      200,
      'Log in a device',
      `<p>A device is asking to sign as you with the code <strong>${escapeHtml(grant.userCode)}</strong>. Continue only if you started this and your device shows the same code.</p>${buttons}`,
    );
  }

  /** POST /device: from the page above (never from another site's page), log in upstream for that device. */
  private async deviceConfirm(req: RouteRequest): Promise<RouteResponse> {
    // A form another site submits in the person's browser carries that site's Origin (or Sec-Fetch-Site: cross-site).
    const origin = req.headers.origin;
    const fetchSite = req.headers['sec-fetch-site'];
    if (
      (origin !== undefined && origin !== new URL(this.issuer).origin) ||
      (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none')
    ) {
      return page(403, 'Refused', '<p>This form must be sent from this server’s own page.</p>');
    }
    if (req.body.length > MAX_FORM_BYTES) return page(413, 'Refused', '<p>Request too large.</p>');
    const form = new URLSearchParams(req.body.toString('utf8'));
    const grant = this.deviceGrant(form.get('user_code') ?? '');
    if (!grant) {
      return page(400, 'Unknown code', '<p>This code is unknown, used or expired. Check the code on your device.</p>');
    }
    if (!form.get('connector_id')) {
      // Typed in by hand: show the code back and the login buttons.
      return this.deviceEnter({ ...req, query: { user_code: grant.userCode } });
    }
    return this.toUpstream(form.get('connector_id')!, { kind: 'device', deviceCode: grant.deviceCode }, () => '');
  }

  /** The pending device grant of a user code as a person typed it (any case, with or without the dash). */
  private deviceGrant(entered: string): { userCode: string; deviceCode: string } | undefined {
    const letters = entered.toUpperCase().replace(/[^A-Z]/g, '');
    const userCode = `${letters.slice(0, 4)}-${letters.slice(4)}`;
    const deviceCode = this.userCodes.get(userCode);
    const grant = deviceCode === undefined ? undefined : this.devices.get(deviceCode);
    if (!grant || grant.expires < this.now() || grant.status !== 'pending') return undefined;
    return { userCode, deviceCode: deviceCode! };
  }
}
