/**
 * A Dex-like OIDC provider for people's logins, as Sigstore's public one (https://oauth2.sigstore.dev/auth) behaves:
 * issuer under /auth, public client `sigstore`, PKCE S256, loopback redirects, `federated_claims.connector_id`.
 *   - GET /auth/auth: checks client_id, a loopback http redirect_uri, code_challenge (S256), state and nonce, then
 *     "the person signs in" at once and 302s to redirect_uri?code&state (`tamper` alters state or nonce to test that
 *     the client refuses them);
 *   - POST /auth/token, authorization_code: checks code, redirect_uri and the PKCE verifier; answers the tokens with
 *     an RS256 id_token carrying nonce, email, email_verified, federated_claims;
 *   - POST /auth/device/code and the device_code grant: answers from `deviceScript` in order
 *     (authorization_pending, slow_down, access_denied, expired_token, or "ok").
 */
import { createHash, randomUUID } from 'node:crypto';
import { type FakeIssuer, json, startIssuer } from './fake-issuer.ts';

export type DeviceStep = 'authorization_pending' | 'slow_down' | 'access_denied' | 'expired_token' | 'ok';

export interface FakeDex extends FakeIssuer {
  email: string;
  connector: string;
  /** Make the redirect carry another state, or the id_token another nonce. */
  tamper?: 'state' | 'nonce';
  deviceScript: DeviceStep[];
  /** Poll interval the device endpoint announces, in seconds. */
  deviceInterval: number;
  /** The authorize requests received (their query). */
  authorizations: URLSearchParams[];
  /** Times of each device poll, ms. */
  polls: number[];
  /** Simulates the person's browser: follows the authorize URL to the loopback redirect. */
  browse(url: string): Promise<number>;
}

export async function startDex(options: { deviceFlow?: boolean } = {}): Promise<FakeDex> {
  const codes = new Map<string, { challenge: string; redirect: string; nonce: string }>();
  const tokens = async (nonce?: string) => ({
    access_token: randomUUID(),
    token_type: 'bearer',
    expires_in: 600,
    id_token: await fake.mint({
      aud: 'sigstore',
      sub: 'CgY1NTU1NTUSJmh0dHBzOi8vZ2l0aHViLmNvbS9sb2dpbi9vYXV0aA',
      email: fake.email,
      email_verified: true,
      federated_claims: { connector_id: fake.connector, user_id: '555555' },
      ...(nonce !== undefined ? { nonce: fake.tamper === 'nonce' ? 'another-nonce' : nonce } : {}),
    }),
  });
  const fake = (await startIssuer({
    issuerPath: '/auth',
    jwksPath: '/auth/keys',
    discovery: (base) => ({
      authorization_endpoint: `${base}/auth/auth`,
      token_endpoint: `${base}/auth/token`,
      ...(options.deviceFlow === false ? {} : { device_authorization_endpoint: `${base}/auth/device/code` }),
      grant_types_supported: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
      code_challenge_methods_supported: ['S256', 'plain'],
      scopes_supported: ['openid', 'email'],
    }),
    routes: [
      (req, res) => {
        if (req.url.pathname !== '/auth/auth') return false;
        const q = req.url.searchParams;
        fake.authorizations.push(q);
        const redirect = q.get('redirect_uri') ?? '';
        const r = URL.canParse(redirect) ? new URL(redirect) : undefined;
        const loopback = r?.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(r.hostname);
        if (q.get('client_id') !== 'sigstore' || !loopback || q.get('response_type') !== 'code') {
          return json(res, 400, { error: 'invalid_request' });
        }
        if (
          q.get('code_challenge_method') !== 'S256' ||
          !q.get('code_challenge') ||
          !q.get('state') ||
          !q.get('nonce')
        ) {
          return json(res, 400, { error: 'invalid_request', error_description: 'PKCE S256, state and nonce required' });
        }
        const code = randomUUID();
        codes.set(code, { challenge: q.get('code_challenge')!, redirect, nonce: q.get('nonce')! });
        const back = new URL(redirect);
        back.searchParams.set('code', code);
        back.searchParams.set('state', fake.tamper === 'state' ? 'forged-state' : q.get('state')!);
        res.writeHead(302, { location: back.href }).end();
        return true;
      },
      async (req, res) => {
        if (req.method !== 'POST' || req.url.pathname !== '/auth/token') return false;
        const f = new URLSearchParams(req.body);
        if (f.get('client_id') !== 'sigstore') return json(res, 401, { error: 'invalid_client' });
        if (f.get('grant_type') === 'authorization_code') {
          const c = codes.get(f.get('code') ?? '');
          codes.delete(f.get('code') ?? '');
          const verifier = f.get('code_verifier') ?? '';
          const challenge = createHash('sha256').update(verifier).digest('base64url');
          if (!c || c.redirect !== f.get('redirect_uri') || c.challenge !== challenge) {
            return json(res, 400, { error: 'invalid_grant' });
          }
          return json(res, 200, await tokens(c.nonce));
        }
        if (f.get('grant_type') === 'urn:ietf:params:oauth:grant-type:device_code') {
          fake.polls.push(Date.now());
          if (f.get('device_code') !== 'device-code-1') return json(res, 400, { error: 'invalid_grant' });
          const step = fake.deviceScript.shift() ?? 'authorization_pending';
          return step === 'ok' ? json(res, 200, await tokens()) : json(res, 400, { error: step });
        }
        return json(res, 400, { error: 'unsupported_grant_type' });
      },
      (req, res) => {
        if (req.method !== 'POST' || req.url.pathname !== '/auth/device/code') return false;
        const f = new URLSearchParams(req.body);
        if (f.get('client_id') !== 'sigstore') return json(res, 401, { error: 'invalid_client' });
        return json(res, 200, {
          device_code: 'device-code-1',
          user_code: 'WDJB-MJHT',
          verification_uri: `${fake.base}/auth/device`,
          verification_uri_complete: `${fake.base}/auth/device?user_code=WDJB-MJHT`,
          expires_in: 300,
          interval: fake.deviceInterval,
        });
      },
    ],
  })) as FakeDex;
  fake.email = 'alice@example.com';
  fake.connector = 'https://github.com/login/oauth';
  fake.deviceScript = [];
  fake.deviceInterval = 0.01;
  fake.authorizations = [];
  fake.polls = [];
  fake.browse = async (url) => {
    const first = await fetch(url, { redirect: 'manual' });
    const location = first.headers.get('location');
    if (first.status !== 302 || !location) return first.status;
    return (await fetch(location)).status;
  };
  return fake;
}
