/**
 * The login connector at /login, driven as a real public client drives it (openid-client: discovery, PKCE, state,
 * nonce, ID token checks) through a fake GitHub OAuth app and a fake upstream OIDC provider on 127.0.0.1; the token
 * it issues becomes a certificate naming the person's verified email and the upstream as issuer. Then one row per
 * way a login can be abused or go wrong, and the device grant's answers (RFC 8628 §3.5).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { fulcioExtensions, parseCertificate } from '../../src/core/x509.ts';
import type { LoginConfig } from '../../src/server/config.ts';
import { type Stack, startStack } from '../../src/server/stack.ts';
import { FakeGitHub } from '../helpers/fake-github-oauth.ts';
import { FakeOidcUpstream } from '../helpers/fake-oidc-upstream.ts';

const REDIRECT = 'http://127.0.0.1:9/auth/callback';

describe('login connector (/login) in front of GitHub and an OIDC provider', () => {
  let dir: string;
  let github: FakeGitHub;
  let upstream: FakeOidcUpstream;
  let stack: Stack;
  let offset = 0;
  let rp: client.Configuration;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vouch-login-'));
    github = await FakeGitHub.start();
    upstream = await FakeOidcUpstream.start();
    const login: LoginConfig = {
      clientId: 'sigstore',
      tokenLifetimeSeconds: 300,
      connectors: [
        {
          type: 'github',
          id: `${github.url}/login/oauth`,
          clientId: github.clientId,
          clientSecret: github.clientSecret,
          url: github.url,
          apiUrl: github.apiUrl,
        },
        {
          type: 'oidc',
          id: upstream.issuer,
          issuer: upstream.issuer,
          clientId: upstream.clientId,
          clientSecret: upstream.clientSecret,
          scopes: ['openid', 'email'],
          skipEmailVerification: false,
        },
      ],
    };
    stack = await startStack({
      dataDir: dir,
      services: { ca: true, tlog: false, tsa: false, oidc: false },
      login,
      allowInsecureLoopbackIssuers: true,
      clock: () => new Date(Date.now() + offset),
    });
    rp = await client.discovery(new URL(stack.urls.login!), 'sigstore', undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
  });
  after(async () => {
    await stack?.close();
    await github?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Follow redirects by hand until one leaves for `stop` (the client's loopback), as a browser would. */
  async function browse(start: string, stop = REDIRECT): Promise<{ location?: string; status: number; text: string }> {
    let url = start;
    for (let hops = 0; hops < 10; hops++) {
      if (url.startsWith(stop)) return { location: url, status: 302, text: '' };
      const res = await fetch(url, { redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status !== 302 || !location) return { status: res.status, text: await res.text() };
      url = new URL(location, url).toString();
    }
    throw new Error('too many redirects');
  }

  /** An authorization request as a public client makes it (PKCE S256), with `params` added. */
  async function authUrl(params: Record<string, string>, verifier = client.randomPKCECodeVerifier()): Promise<URL> {
    return client.buildAuthorizationUrl(rp, {
      redirect_uri: REDIRECT,
      scope: 'openid email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...params,
    });
  }

  async function login(connector: string) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const auth = await authUrl({ state, nonce, connector_id: connector }, verifier);
    return { verifier, state, nonce, result: await browse(auth.toString()) };
  }

  async function certificateFor(idToken: string, email: string) {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const res = await fetch(`${stack.urls.ca}/api/v2/signingCert`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        credentials: { oidcIdentityToken: idToken },
        publicKeyRequest: {
          publicKey: { content: key.publicKey.export({ format: 'pem', type: 'spki' }) },
          proofOfPossession: sign('sha256', Buffer.from(email), key.privateKey).toString('base64'),
        },
      }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const pem = ((await res.json()) as { signedCertificateDetachedSct: { chain: { certificates: string[] } } })
      .signedCertificateDetachedSct.chain.certificates[0]!;
    return parseCertificate(Buffer.from(new X509Certificate(pem).raw));
  }

  for (const which of ['GitHub', 'OIDC upstream'] as const) {
    it(`${which}: a person logs in and gets a certificate for their verified email, issued by the upstream`, async () => {
      const connector = which === 'GitHub' ? `${github.url}/login/oauth` : upstream.issuer;
      const email = which === 'GitHub' ? 'octocat@example.test' : 'alice@corp.example.test';
      const { verifier, state, nonce, result } = await login(connector);
      assert.ok(result.location, result.text);
      const tokens = await client.authorizationCodeGrant(rp, new URL(result.location), {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      assert.equal(claims.iss, stack.urls.login);
      assert.equal(claims.sub, email);
      assert.equal(claims.email, email);
      assert.deepEqual(claims.federated_claims, {
        connector_id: connector,
        user_id: which === 'GitHub' ? '583231' : '00u1abcd',
      });
      assert.equal(tokens.access_token, tokens.id_token);
      const cert = await certificateFor(tokens.id_token!, email);
      assert.deepEqual(cert.san, [{ type: 'email', value: email }]);
      assert.equal(fulcioExtensions(cert).issuer, connector);
    });
  }

  it('offers the choice of upstream when the client names none (escaped HTML)', async () => {
    const res = await fetch(await authUrl({ state: 's' }), { redirect: 'manual' });
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /connector_id=http%3A%2F%2F127\.0\.0\.1/);
    assert.ok(!html.includes('<script'));
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  });

  it('refuses unsafe authorization requests: shown when the client is in doubt, redirected with an error otherwise', async () => {
    const base = {
      client_id: 'sigstore',
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid email',
      state: 'st',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      connector_id: `${github.url}/login/oauth`,
    };
    const url = (over: Record<string, string | undefined>) => {
      const u = new URL(`${stack.urls.login}/auth`);
      for (const [k, v] of Object.entries({ ...base, ...over })) if (v !== undefined) u.searchParams.set(k, v);
      return u;
    };
    const shown: [string, Record<string, string | undefined>][] = [
      ['redirect to another host', { redirect_uri: 'https://evil.example/cb' }],
      ['redirect over https to loopback (not RFC 8252)', { redirect_uri: 'https://127.0.0.1/cb' }],
      ['redirect with user info', { redirect_uri: 'http://evil@127.0.0.1:9/cb' }],
      ['unknown client', { client_id: 'other' }],
      ['no redirect', { redirect_uri: undefined }],
    ];
    for (const [name, over] of shown) {
      const res = await fetch(url(over), { redirect: 'manual' });
      assert.equal(res.status, 400, name);
      assert.equal(res.headers.get('location'), null, name);
    }
    const redirected: [string, Record<string, string | undefined>, string][] = [
      ['no PKCE', { code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
      ['plain PKCE', { code_challenge_method: 'plain' }, 'invalid_request'],
      ['no state', { state: undefined }, 'invalid_request'],
      ['implicit flow', { response_type: 'token' }, 'unsupported_response_type'],
      ['no openid scope', { scope: 'email' }, 'invalid_scope'],
    ];
    for (const [name, over, error] of redirected) {
      const res = await fetch(url(over), { redirect: 'manual' });
      assert.equal(res.status, 302, name);
      const back = new URL(res.headers.get('location')!);
      assert.equal(`${back.origin}${back.pathname}`, REDIRECT, name);
      assert.equal(back.searchParams.get('error'), error, name);
      assert.equal(back.searchParams.get('iss'), stack.urls.login, name);
      assert.equal(back.searchParams.get('code'), null, name);
    }
    const unknown = await fetch(`${stack.urls.login}/callback?state=forged&code=x`);
    assert.equal(unknown.status, 400);
  });

  it('denies the login when the upstream does not vouch for a verified email', async () => {
    const denied = async (connector: string) => {
      const { result } = await login(connector);
      assert.ok(result.location, result.text);
      const back = new URL(result.location);
      assert.equal(back.searchParams.get('error'), 'access_denied');
      assert.equal(back.searchParams.get('code'), null);
    };
    const gh = `${github.url}/login/oauth`;
    const saved = github.emails;
    try {
      github.deny = true;
      await denied(gh);
      github.deny = false;
      github.emails = [{ email: 'octocat@example.test', primary: true, verified: false, visibility: null }];
      await denied(gh);
      // A verified address that is not the primary one is not the account's identity.
      github.emails = [
        { email: 'octocat@example.test', primary: true, verified: false, visibility: null },
        { email: 'other@example.test', primary: false, verified: true, visibility: null },
      ];
      await denied(gh);
    } finally {
      github.deny = false;
      github.emails = saved;
    }
    const claims = upstream.claims;
    try {
      upstream.claims = { ...claims, email_verified: false };
      await denied(upstream.issuer);
      upstream.claims = claims;
      upstream.wrongNonce = true;
      await denied(upstream.issuer);
    } finally {
      upstream.claims = claims;
      upstream.wrongNonce = false;
    }
  });

  it('refuses codes that are replayed, stolen without their verifier, late or sent elsewhere', async () => {
    const token = (params: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${stack.urls.login}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(params),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: string; id_token?: string } }));
    const fresh = async () => {
      const l = await login(`${github.url}/login/oauth`);
      return { code: new URL(l.result.location!).searchParams.get('code')!, verifier: l.verifier };
    };
    const grant = (code: string, verifier: string, over: Record<string, string> = {}) => ({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT,
      client_id: 'sigstore',
      ...over,
    });

    let c = await fresh();
    assert.equal((await token(grant(c.code, client.randomPKCECodeVerifier()))).body.error, 'invalid_grant');
    // The failed attempt used the code up: the right verifier comes too late.
    assert.equal((await token(grant(c.code, c.verifier))).body.error, 'invalid_grant');

    c = await fresh();
    assert.equal(
      (await token(grant(c.code, c.verifier, { redirect_uri: 'http://127.0.0.1:9/other' }))).body.error,
      'invalid_grant',
    );
    c = await fresh();
    offset = 120_000;
    try {
      assert.equal((await token(grant(c.code, c.verifier))).body.error, 'invalid_grant');
    } finally {
      offset = 0;
    }
    c = await fresh();
    const other = await token(grant(c.code, c.verifier, { client_id: 'other' }));
    assert.deepEqual([other.status, other.body.error], [401, 'invalid_client']);
    const ok = await token(
      { ...grant(c.code, c.verifier), client_id: '' },
      { authorization: `Basic ${Buffer.from('sigstore:').toString('base64')}` },
    );
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal((await token(grant(c.code, c.verifier))).body.error, 'invalid_grant');

    const raw = (body: string, type = 'application/x-www-form-urlencoded') =>
      fetch(`${stack.urls.login}/token`, { method: 'POST', headers: { 'content-type': type }, body }).then(
        async (r) => ((await r.json()) as { error: string }).error,
      );
    assert.equal(await raw('grant_type=authorization_code&code=a&code=b&client_id=sigstore'), 'invalid_request');
    assert.equal(await raw('{"grant_type":"authorization_code"}', 'application/json'), 'invalid_request');
    assert.equal(await raw('grant_type=password&client_id=sigstore'), 'unsupported_grant_type');

    // A login left unfinished past its lifetime is forgotten.
    const auth = await authUrl({ state: 's', connector_id: `${github.url}/login/oauth` });
    const toGitHub = new URL((await fetch(auth, { redirect: 'manual' })).headers.get('location')!);
    const approved = (await fetch(toGitHub, { redirect: 'manual' })).headers.get('location')!;
    offset = 11 * 60_000;
    try {
      assert.equal((await fetch(approved, { redirect: 'manual' })).status, 400);
    } finally {
      offset = 0;
    }
  });

  it('device grant: pending, slow_down, then tokens once; expired and refused codes end it', async () => {
    const post = (path: string, params: Record<string, string>) =>
      fetch(`${stack.urls.login}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    const start = async () =>
      (await post('/device/code', { client_id: 'sigstore', scope: 'openid email' })).body as {
        device_code: string;
        user_code: string;
        verification_uri_complete: string;
        interval: number;
      };
    const poll = (d: { device_code: string }) =>
      post('/token', {
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: d.device_code,
        client_id: 'sigstore',
      });
    const gh = `${github.url}/login/oauth`;
    /** The person on the /device page: sees the code, presses the GitHub button (a same-origin POST), logs in. */
    const confirm = async (
      userCode: string,
      headers: Record<string, string> = { origin: new URL(stack.url).origin },
    ) => {
      const res = await fetch(`${stack.urls.login}/device`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ user_code: userCode.toLowerCase(), connector_id: gh }),
        redirect: 'manual',
      });
      if (res.status !== 302) return { status: res.status, text: await res.text() };
      return browse(new URL(res.headers.get('location')!, stack.url).toString(), 'never');
    };

    const d = await start();
    assert.match(d.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal((await poll(d)).body.error, 'authorization_pending');
    assert.equal((await poll(d)).body.error, 'slow_down');
    // Arriving by the complete URI shows the code to compare, and logs in only from the page's own form.
    const shown = await fetch(d.verification_uri_complete);
    assert.equal(shown.status, 200);
    assert.ok((await shown.text()).includes(d.user_code));
    for (const hostile of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }] as Record<
      string,
      string
    >[]) {
      assert.equal((await confirm(d.user_code, hostile)).status, 403, JSON.stringify(hostile));
    }
    const visit = await confirm(d.user_code);
    assert.equal(visit.status, 200, visit.text);
    assert.match(visit.text, /octocat@example\.test/);
    offset = 20_000;
    try {
      const done = await poll(d);
      assert.equal(done.status, 200, JSON.stringify(done.body));
      const cert = await certificateFor(done.body.id_token as string, 'octocat@example.test');
      assert.equal(fulcioExtensions(cert).issuer, gh);
      assert.equal((await poll(d)).body.error, 'invalid_grant');
    } finally {
      offset = 0;
    }

    const late = await start();
    offset = 6 * 60_000;
    try {
      assert.equal((await poll(late)).body.error, 'expired_token');
    } finally {
      offset = 0;
    }

    const refused = await start();
    github.deny = true;
    try {
      const v = await confirm(refused.user_code);
      assert.equal(v.status, 403);
    } finally {
      github.deny = false;
    }
    assert.equal((await poll(refused)).body.error, 'access_denied');

    assert.equal((await fetch(`${stack.urls.login}/device?user_code=ZZZZ-ZZZZ`)).status, 400);
    assert.equal((await post('/device/code', { client_id: 'other' })).body.error, 'invalid_client');
  });
});
