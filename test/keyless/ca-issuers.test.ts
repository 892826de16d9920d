/**
 * How a client reads a CA's issuer listing to say, before signing, what the certificate will carry
 * (src/instance/ca-issuers.ts): a malformed listing is the service's error, one row per shape; an issuer resolves as
 * the CA resolves it (exact entry first, then the first wildcard over the whole URL); without a listing the type is
 * guessed from the URL and public Sigstore's Dex names its upstream. The end-to-end rows of every provider are in
 * test/e2e/identity.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeIdentityToken } from '../../src/identity/token.ts';
import { expectedCertificate, parseIssuerListing, resolveListedIssuer } from '../../src/instance/ca-issuers.ts';
import { throwsWith } from './helpers.ts';

const jwt = (claims: Record<string, unknown>) =>
  [{ alg: 'RS256' }, claims, 'sig']
    .map((p) => Buffer.from(typeof p === 'string' ? p : JSON.stringify(p)).toString('base64url'))
    .join('.');

describe('a CA issuer listing', () => {
  const hostile: [string, unknown][] = [
    ['not an object', []],
    ['issuers not a list', { issuers: {} }],
    ['an entry not an object', { issuers: ['https://a.example'] }],
    ['neither URL', { issuers: [{ audience: 'sigstore' }] }],
    ['both URLs', { issuers: [{ issuerUrl: 'https://a', wildcardIssuerUrl: 'https://*' }] }],
    ['a URL that is not a string', { issuers: [{ issuerUrl: 7 }] }],
    ['an unknown type', { issuers: [{ issuerUrl: 'https://a', issuerType: 'chainguard-identity' }] }],
    ['a setting that is not a string', { issuers: [{ issuerUrl: 'https://a', baseUrl: ['x'] }] }],
    ['too many issuers', { issuers: Array.from({ length: 10_001 }, (_, i) => ({ issuerUrl: `https://${i}` })) }],
  ];
  for (const [name, body] of hostile) {
    it(`refuses ${name} (SERVICE_ERROR)`, () => {
      throwsWith(() => parseIssuerListing(body, 'the CA'), 'SERVICE_ERROR');
    });
  }

  it('reads Fulcio’s fields and vouch’s mapping settings', () => {
    const [gitlab, k8s] = parseIssuerListing(
      {
        issuers: [
          {
            issuerUrl: 'https://gitlab.acme.test',
            audience: 'sigstore',
            challengeClaim: 'sub',
            issuerType: 'gitlab-pipeline',
            baseUrl: 'https://gitlab.com',
          },
          { wildcardIssuerUrl: 'https://oidc.eks.*.amazonaws.com/id/*', issuerType: 'kubernetes' },
        ],
      },
      'the CA',
    );
    assert.deepEqual(gitlab, {
      issuer: 'https://gitlab.acme.test',
      wildcard: false,
      audience: 'sigstore',
      rules: { type: 'gitlab-pipeline', challengeClaim: 'sub', baseUrl: 'https://gitlab.com' },
    });
    assert.deepEqual(k8s, {
      issuer: 'https://oidc.eks.*.amazonaws.com/id/*',
      wildcard: true,
      audience: 'sigstore',
      rules: { type: 'kubernetes' },
    });
  });

  it('resolves an issuer as the CA does: exact first, then the first wildcard, never by a prefix', () => {
    const listed = parseIssuerListing(
      {
        issuers: [
          { wildcardIssuerUrl: 'https://idp.test/t/*', issuerType: 'uri' },
          { wildcardIssuerUrl: 'https://idp.test/*/*', issuerType: 'username' },
          { issuerUrl: 'https://idp.test/t/exact', issuerType: 'email' },
        ],
      },
      'the CA',
    );
    const typeOf = (iss: string) => resolveListedIssuer(listed, iss)?.rules.type;
    assert.equal(typeOf('https://idp.test/t/exact'), 'email');
    assert.equal(typeOf('https://idp.test/t/other'), 'uri');
    assert.equal(typeOf('https://idp.test/u/other'), 'username');
    assert.equal(typeOf('https://idp.test/t/other/more'), undefined);
    assert.equal(typeOf('https://idp.test/t/a.evil.example'), undefined);
  });
});

describe('the expected certificate without a listing', () => {
  it('public Sigstore’s Dex: the upstream connector is the issuer, the verified email the identity', async () => {
    const claims = decodeIdentityToken(
      jwt({
        iss: 'https://oauth2.sigstore.dev/auth',
        sub: 'CgU',
        aud: 'sigstore',
        email: 'dev@example.com',
        email_verified: true,
        federated_claims: { connector_id: 'https://github.com/login/oauth', user_id: '1' },
      }),
    );
    const c = await expectedCertificate({ kind: 'public-good', name: 'public-good', services: {} as never }, claims);
    assert.deepEqual([c.san.value, c.issuer], ['dev@example.com', 'https://github.com/login/oauth']);
  });

  it('a GitHub Actions token on an instance that lists no types: the github-workflow mapping', async () => {
    const claims = decodeIdentityToken(
      jwt({ iss: 'https://token.actions.githubusercontent.com', sub: 'repo:o/r:ref:refs/heads/main', aud: 'sigstore' }),
    );
    // Claims the type needs are missing: shown by its subject rather than failing, since the type is only a guess.
    const c = await expectedCertificate(undefined, claims);
    assert.deepEqual([c.san.value, c.extensions], ['repo:o/r:ref:refs/heads/main', []]);
  });
});
