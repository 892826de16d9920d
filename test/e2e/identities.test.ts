/**
 * Every issuer type end to end: `vouch serve --config` (a child process) accepts tokens from a local identity
 * provider (discovery and JWKS over HTTP, RS256 or ES384 as the real provider signs); `vouch sign` gets a certificate
 * for each; `vouch verify` accepts the bundle for exactly the mapped identity and issuer and reports the mapped
 * extensions; the official @sigstore/verify accepts it too. Issuers come in through every form the configuration
 * has: exact entries in vouch's and Fulcio's spelling, a wildcard, and presets.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { stringify } from 'yaml';
import { mapIdentity } from '../../src/core/identity-map.ts';
import { BIN, errorCode, tempDir, vouchAsync } from '../helpers/cli.ts';
import { FakeGitHub } from '../helpers/fake-github-oauth.ts';
import { TYPE_CASES } from '../helpers/identity-claims.ts';
import { sigstoreJsVerify } from '../helpers/sigstore-verify.ts';
import { TestIdp } from '../helpers/test-idp.ts';

describe('vouch serve --config: a certificate for every issuer type', () => {
  const tmp = tempDir('vouch-e2e-identities-');
  const at = (p: string) => join(tmp.path, p);
  let idp: TestIdp;
  let github: FakeGitHub;
  let child: ChildProcess;
  let url = '';
  /** Where each type's tokens come from: kubernetes through a wildcard, so its issuer is a concrete cluster. */
  /** `vouch verify` of the signed file with `bundle`, against the served root, for exactly `identity` and `issuer`. */
  const verifyArgs = (bundle: string, identity: string, issuer: string) => [
    'verify',
    at('app.bin'),
    '--bundle',
    bundle,
    '--trusted-root',
    at('data/trusted_root.json'),
    '--certificate-identity',
    identity,
    '--certificate-oidc-issuer',
    issuer,
    '--json',
  ];
  const issuerOf = (type: string, path: string) =>
    type === 'kubernetes' ? idp.issuer('clusters/prod-eu') : idp.issuer(path);

  before(async () => {
    idp = await TestIdp.start();
    github = await FakeGitHub.start();
    const oidcIssuers: Record<string, unknown> = {};
    const presets: unknown[] = [];
    const metaIssuers: Record<string, unknown> = { [idp.issuer('clusters/*')]: { type: 'kubernetes' } };
    for (const c of TYPE_CASES) {
      const iss = idp.issuer(c.path);
      if (c.type === 'gitlab-pipeline') presets.push({ name: 'gitlab', url: iss });
      else if (c.type === 'aws-iam') presets.push({ name: 'aws', issuer: iss });
      else if (c.type === 'kubernetes') continue;
      else if (c.type === 'buildkite-job') {
        // Fulcio's spelling of a CI issuer.
        oidcIssuers[iss] = { 'issuer-url': iss, 'client-id': 'sigstore', type: 'ci-provider', 'ci-provider': c.type };
      } else {
        oidcIssuers[iss] = {
          type: c.type,
          ...(c.audience ? { audience: c.audience } : {}),
          ...(c.rules.subjectDomain ? { 'subject-domain': c.rules.subjectDomain } : {}),
          ...(c.rules.spiffeTrustDomain ? { 'spiffe-trust-domain': c.rules.spiffeTrustDomain } : {}),
        };
      }
    }
    writeFileSync(
      at('serve.yaml'),
      stringify({
        'allow-insecure-loopback-issuers': true,
        'oidc-issuers': oidcIssuers,
        'meta-issuers': metaIssuers,
        presets,
        login: {
          connectors: [
            {
              type: 'github',
              'client-id': github.clientId,
              'client-secret-env': 'VOUCH_TEST_GITHUB_SECRET',
              url: github.url,
              'api-url': github.apiUrl,
            },
          ],
        },
      }),
    );
    child = spawn(
      process.execPath,
      [BIN, 'serve', '--config', at('serve.yaml'), '--data', at('data'), '--port', '0', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VOUCH_TEST_GITHUB_SECRET: github.clientSecret } },
    );
    let err = '';
    child.stderr!.on('data', (d) => {
      err += d;
    });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    assert.match(err, /warning: plain-HTTP loopback issuers are accepted/);
    writeFileSync(at('app.bin'), 'release bytes');
  });

  after(async () => {
    if (child?.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    await idp?.close();
    await github?.close();
    tmp.dispose();
  });

  it('lists its issuers at /ca/api/v2/configuration as Fulcio does', async () => {
    const res = (await (await fetch(`${url}/ca/api/v2/configuration`)).json()) as {
      issuers: Record<string, unknown>[];
    };
    const byUrl = new Map(res.issuers.map((i) => [(i.issuerUrl ?? i.wildcardIssuerUrl) as string, i]));
    assert.deepEqual(byUrl.get(idp.issuer('clusters/*')), {
      wildcardIssuerUrl: idp.issuer('clusters/*'),
      audience: 'sigstore',
      challengeClaim: 'sub',
      issuerType: 'kubernetes',
    });
    assert.deepEqual(byUrl.get(idp.issuer('accounts')), {
      issuerUrl: idp.issuer('accounts'),
      audience: 'sigstore',
      challengeClaim: 'email',
      issuerType: 'email',
    });
    assert.equal(byUrl.get(idp.issuer('spire'))!.spiffeTrustDomain, 'prod.acme.test');
    assert.equal(byUrl.get(idp.issuer('username-idp'))!.subjectDomain, '127.0.0.1');
    assert.equal(byUrl.get(idp.issuer('gitlab'))!.issuerType, 'gitlab-pipeline');
  });

  for (const c of TYPE_CASES) {
    it(`${c.type}: signs, and verifies with vouch verify and @sigstore/verify for exactly the mapped identity`, async () => {
      const iss = issuerOf(c.type, c.path);
      const expected = mapIdentity(iss, c.claims, { type: c.type, ...c.rules });
      const token = await idp.mint(iss, c.claims, { alg: c.alg, audience: c.audience ?? 'sigstore' });
      const bundle = at(`${c.type}.sigstore.json`);
      const signed = await vouchAsync(
        ['sign', at('app.bin'), '--instance', url, '--identity-token', token, '--bundle', bundle, '--json'],
        { env: { VOUCH_HOME: at('home') } },
      );
      assert.equal(signed.status, 0, signed.stderr);
      const out = signed.json() as { identity: string; issuer: string };
      assert.deepEqual(
        { identity: out.identity, issuer: out.issuer },
        { identity: expected.san.value, issuer: expected.issuer },
      );

      const verified = await vouchAsync(verifyArgs(bundle, expected.san.value, expected.issuer), {
        env: { VOUCH_HOME: at('verifier-home') },
      });
      assert.equal(verified.status, 0, verified.stderr);
      const signer = (verified.json() as { signer: { extensions: Record<string, string> } }).signer;
      assert.deepEqual(signer.extensions, Object.fromEntries(expected.extensions.map((e) => [e.name, e.value])));

      const wrong = await vouchAsync(verifyArgs(bundle, `${expected.san.value}x`, expected.issuer), {
        env: { VOUCH_HOME: at('verifier-home') },
      });
      assert.equal(wrong.status, 1);
      assert.equal(errorCode(wrong.stderr), 'IDENTITY_MISMATCH');

      // sigstore-js matches a string identity as an unanchored regular expression (String.prototype.match), so it is
      // given an anchored, escaped one; it reads no otherName SAN, so a username identity is checked by issuer only.
      const exact = new RegExp(`^${expected.san.value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
      const oracle = sigstoreJsVerify({
        trustedRootJson: readFileSync(at('data/trusted_root.json'), 'utf8'),
        bundleJson: readFileSync(bundle, 'utf8'),
        artifact: readFileSync(at('app.bin')),
        ...(expected.san.type === 'username' ? {} : { identity: exact }),
        issuer: expected.issuer,
        ctlogThreshold: 0,
      });
      assert.deepEqual(oracle, { ok: true });
    });
  }

  it('a person logs in with GitHub at /login, signs, and verifies as the GitHub OAuth issuer', async () => {
    const rp = await client.discovery(new URL(`${url}/login`), 'sigstore', undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    const redirect = 'http://127.0.0.1:9/auth/callback';
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    let next = client
      .buildAuthorizationUrl(rp, {
        redirect_uri: redirect,
        scope: 'openid email',
        state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      })
      .toString();
    // The browser: /login/auth -> GitHub's authorize page -> /login/callback -> back to the client's loopback.
    while (!next.startsWith(redirect)) {
      const res = await fetch(next, { redirect: 'manual' });
      assert.equal(res.status, 302, await res.text());
      next = new URL(res.headers.get('location')!, next).toString();
    }
    const tokens = await client.authorizationCodeGrant(rp, new URL(next), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const bundle = at('github-login.sigstore.json');
    const signed = await vouchAsync(
      ['sign', at('app.bin'), '--instance', url, '--identity-token', tokens.id_token!, '--bundle', bundle, '--json'],
      { env: { VOUCH_HOME: at('home') } },
    );
    assert.equal(signed.status, 0, signed.stderr);
    const out = signed.json() as { identity: string; issuer: string };
    assert.deepEqual(out, { ...out, identity: 'octocat@example.test', issuer: `${github.url}/login/oauth` });
    const verified = await vouchAsync(verifyArgs(bundle, 'octocat@example.test', `${github.url}/login/oauth`));
    assert.equal(verified.status, 0, verified.stderr);
    const config = (await (await fetch(`${url}/.well-known/vouch/signing_config.json`)).json()) as {
      oidcUrls: { url: string }[];
    };
    assert.equal(config.oidcUrls[0]!.url, `${url}/login`);
  });

  it('refuses a token from an issuer the configuration does not list, before anything is logged', async () => {
    const c = TYPE_CASES[0]!;
    const token = await idp.mint(idp.issuer('not-configured'), c.claims);
    const r = await vouchAsync(
      ['sign', at('app.bin'), '--instance', url, '--identity-token', token, '--bundle', at('x.json')],
      {
        env: { VOUCH_HOME: at('home') },
      },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.equal(errorCode(r.stderr), 'TOKEN_INVALID');
  });
});
