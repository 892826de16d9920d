/**
 * The login connector's side toward the upstream identity providers: a GitHub OAuth app (GitHub user login is OAuth
 * 2.0, not OIDC: the identity comes from its REST API) or any OIDC provider. openid-client does the protocol
 * (discovery, PKCE, state and nonce checks, ID token validation); this module picks the identity, which is only ever
 * an email address the upstream has verified.
 */
import * as client from 'openid-client';
import type { ConnectorConfig } from '../config.ts';
import type { RouteRequest } from '../routes.ts';
import type { LoggedIn, LoginRefused, Pending } from './login-common.ts';

const UPSTREAM_TIMEOUT_S = 10;

export class Upstreams {
  readonly #allowInsecureLoopback: boolean;
  readonly #configs = new Map<string, Promise<client.Configuration>>();

  /** `allowInsecureLoopback`: upstreams over plain HTTP on loopback (tests, development). */
  constructor(allowInsecureLoopback: boolean) {
    this.#allowInsecureLoopback = allowInsecureLoopback;
  }

  /** The upstream's openid-client configuration: discovered (OIDC) or GitHub's fixed OAuth endpoints. */
  configuration(c: ConnectorConfig): Promise<client.Configuration> {
    let p = this.#configs.get(c.id);
    if (!p) {
      p = (async () => {
        const insecure = this.#allowInsecureLoopback ? [client.allowInsecureRequests] : [];
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
      p.catch(() => this.#configs.delete(c.id));
      this.#configs.set(c.id, p);
    }
    return p;
  }

  /**
   * Where to send the person: the upstream's authorization URL for this login's state, PKCE challenge and (OIDC)
   * nonce, coming back to `callback`.
   */
  async authorizationUrl(
    upstream: client.Configuration,
    c: ConnectorConfig,
    callback: string,
    login: { state: string; verifier: string; nonce: string },
  ): Promise<string> {
    const params: Record<string, string> = {
      redirect_uri: callback,
      state: login.state,
      code_challenge: await client.calculatePKCECodeChallenge(login.verifier),
      code_challenge_method: 'S256',
    };
    if (c.type === 'github') params.scope = 'read:user user:email';
    else {
      params.scope = c.scopes.join(' ');
      params.nonce = login.nonce;
    }
    return client.buildAuthorizationUrl(upstream, params).toString();
  }

  /** The person the upstream vouches for, by verified email; a refusal when there is none. */
  async identify(p: Pending, req: RouteRequest, callback: string): Promise<LoggedIn | LoginRefused> {
    const upstream = await this.configuration(p.connector);
    const current = new URL(callback);
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
}
