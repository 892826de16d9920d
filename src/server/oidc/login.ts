/**
 * The login connector: an OpenID provider at `/login` that signs people in through an upstream — a GitHub OAuth app
 * (GitHub user login is OAuth 2.0, not OIDC: the identity comes from its API) or any OIDC provider — and issues ID
 * tokens whose identity is the person's verified email, recording the upstream in `federated_claims` as Dex does.
 * The stack's CA trusts these tokens (keys given directly) and names the upstream as the certificate's issuer, as
 * public Sigstore does for its Dex (`issuer-claim: $.federated_claims.connector_id`).
 *
 * Clients are public: authorization code with PKCE S256 required (RFC 7636, OAuth 2.0 Security BCP), redirect URIs on
 * loopback only (RFC 8252 §7.3), `state` required; or the device grant (RFC 8628) for machines without a browser.
 * Upstream exchanges go through openid-client (src/server/oidc/upstream.ts); the device grant is device.ts; what they
 * share is login-common.ts. Pending logins and codes live in memory with short lifetimes and a cap, so a flood of
 * unfinished logins cannot grow without bound; a restart forgets them, which only makes people log in again.
 */
import * as jose from 'jose';
import * as client from 'openid-client';
import type { LoginConfig } from '../config.ts';
import type { StackKey } from '../pki.ts';
import type { Route, RouteRequest, RouteResponse } from '../routes.ts';
import { DeviceFlow } from './device.ts';
import {
  type BrowserRequest,
  connectorLabel,
  DEVICE_GRANT,
  type DeviceRequest,
  escapeHtml,
  type LoggedIn,
  type LoginRefused,
  type Pending,
  page,
  random,
  readForm,
  redirect,
  remember,
  s256,
  tokenError,
} from './login-common.ts';
import { Upstreams } from './upstream.ts';

export interface LoginIssuerOptions {
  /** The issuer URL, e.g. https://vouch.acme.internal/login. */
  issuer: string;
  key: StackKey;
  config: LoginConfig;
  /** Upstreams over plain HTTP on loopback (tests, development). */
  allowInsecureLoopback?: boolean;
  clock?: () => Date;
}

interface IssuedCode {
  expires: number;
  redirectUri: string;
  codeChallenge: string;
  nonce?: string;
  who: LoggedIn;
}

const PENDING_MS = 10 * 60_000;
const CODE_MS = 60_000;

/** RFC 8252 §7.3 loopback redirect: http, 127.0.0.1, [::1] or localhost, any port and path. */
function isLoopbackRedirect(uri: string): boolean {
  if (!URL.canParse(uri)) return false;
  const u = new URL(uri);
  return u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname) && !u.username && !u.hash;
}

export class LoginIssuer {
  readonly issuer: string;
  private readonly key: StackKey;
  private readonly config: LoginConfig;
  private readonly clock: () => Date;
  private readonly pending = new Map<string, Pending>();
  private readonly codes = new Map<string, IssuedCode>();
  private readonly upstreams: Upstreams;
  private readonly device: DeviceFlow;
  private jwk: jose.JWK | undefined;

  constructor(o: LoginIssuerOptions) {
    this.issuer = o.issuer.replace(/\/+$/, '');
    this.key = o.key;
    this.config = o.config;
    this.clock = o.clock ?? (() => new Date());
    this.upstreams = new Upstreams(o.allowInsecureLoopback ?? false);
    this.device = new DeviceFlow({
      issuer: this.issuer,
      config: this.config,
      now: () => this.now(),
      toUpstream: (connectorId, request) => this.toUpstream(connectorId, request, () => ''),
      issue: (who) => this.tokens(who, undefined),
    });
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
      { method: 'POST', pattern: '/device/code', handler: (req) => this.device.code(req) },
      { method: 'GET', pattern: '/device', handler: (req) => this.device.enter(req) },
      { method: 'POST', pattern: '/device', handler: (req) => this.device.confirm(req) },
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
        .map((c) => `<li><a href="${escapeHtml(choiceUrl(c.id))}">${escapeHtml(connectorLabel(c))}</a></li>`)
        .join('');
      return page(200, 'Log in with', `<ul>${items}</ul>`);
    }
    let upstream: client.Configuration;
    try {
      upstream = await this.upstreams.configuration(connector);
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
    return redirect(
      await this.upstreams.authorizationUrl(upstream, connector, `${this.issuer}/callback`, { state, verifier, nonce }),
    );
  }

  /** GET /callback: the upstream sends the person back; find out who they are and finish their login. */
  private async callback(req: RouteRequest): Promise<RouteResponse> {
    const pending = req.query.state === undefined ? undefined : this.pending.get(req.query.state);
    if (!pending || pending.expires < this.now()) {
      return page(400, 'Login expired', '<p>This login is unknown or has expired. Start again from your terminal.</p>');
    }
    this.pending.delete(req.query.state!);
    let outcome: LoggedIn | LoginRefused;
    if (req.query.error !== undefined) {
      outcome = { error: 'access_denied', description: `the upstream answered ${req.query.error}` };
    } else {
      try {
        outcome = await this.upstreams.identify(pending, req, `${this.issuer}/callback`);
      } catch (e) {
        outcome = { error: 'access_denied', description: `the upstream login failed: ${(e as Error).message}` };
      }
    }
    const r = pending.request;
    if (r.kind === 'device') return this.device.finish(r.deviceCode, outcome);
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

  private clientRedirect(redirectUri: string, params: Record<string, string | undefined>): string {
    const u = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
    // RFC 9207: the issuer, so a client talking to several cannot be confused about which one answered.
    u.searchParams.set('iss', this.issuer);
    return u.toString();
  }

  /** POST /token: the authorization code grant (with PKCE) or the device grant. */
  private async token(req: RouteRequest): Promise<RouteResponse> {
    const f = readForm(req);
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
    if (grant === DEVICE_GRANT) return this.device.poll(params);
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
}
