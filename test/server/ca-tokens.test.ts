/**
 * Hostile tokens at the CA, for every issuer type: one row per attack, each answered 401 TOKEN_INVALID with no
 * certificate, beside the row that must succeed (so the table cannot pass by refusing everything). Tokens come from a
 * real OIDC provider on 127.0.0.1 (discovery and JWKS over HTTP, RS256 or ES384 as the real provider signs), and
 * each issuer type is configured both exactly and, but for SPIFFE, through a wildcard issuer.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import { mapIdentity } from '../../src/core/identity-map.ts';
import { CertificateAuthority } from '../../src/server/ca/ca.ts';
import { type IssuerConfig, TokenVerifier } from '../../src/server/ca/oidc.ts';
import { caRoutes } from '../../src/server/ca/routes.ts';
import { loadOrCreateAuthorities } from '../../src/server/pki.ts';
import { Router, request } from '../../src/server/routes.ts';
import { TYPE_CASES, type TypeCase } from '../helpers/identity-claims.ts';
import { TestIdp } from '../helpers/test-idp.ts';

/** The concrete issuer path a type's wildcard pattern `wild/<type>/*` (Entra: `wild/entra/*` + `/v2.0`) matches. */
function wildPath(c: TypeCase, star: string): string {
  return c.type === 'entra' ? `wild/entra/${star}/v2.0` : `wild/${c.type}/${star}`;
}

/** Change one claim, reaching into the nested objects that Kubernetes and AWS tokens carry. */
function withClaim(c: TypeCase, name: string, f: (v: string) => string | undefined): Record<string, unknown> {
  const claims = structuredClone(c.claims);
  const set = (o: Record<string, unknown>, k: string) => {
    const v = f(String(o[k]));
    if (v === undefined) delete o[k];
    else o[k] = v;
  };
  if (name === 'kubernetes.io') set(claims[name] as Record<string, unknown>, 'namespace');
  else if (name === 'https://sts.amazonaws.com/') set(claims[name] as Record<string, unknown>, 'org_id');
  else set(claims, name);
  return claims;
}

describe('hostile tokens at the CA, every issuer type', () => {
  let dir: string;
  let idp: TestIdp;
  let router: Router;
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = key.publicKey.export({ format: 'pem', type: 'spki' }) as string;
  const rogue = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vouch-ca-hostile-'));
    idp = await TestIdp.start();
    const issuers: IssuerConfig[] = [];
    for (const c of TYPE_CASES) {
      const common = { type: c.type, ...c.rules, ...(c.audience ? { audience: c.audience } : {}) };
      issuers.push({ issuer: idp.issuer(c.path), ...common });
      if (c.type !== 'spiffe') {
        const pattern = c.type === 'entra' ? idp.issuer('wild/entra/*/v2.0') : idp.issuer(`wild/${c.type}/*`);
        issuers.push({ issuer: pattern, wildcard: true, ...common });
      }
    }
    issuers.push({ issuer: idp.issuer('down/*'), wildcard: true, type: 'kubernetes' });
    const tokens = new TokenVerifier(issuers, { allowInsecureLoopback: true });
    const material = await loadOrCreateAuthorities(dir, 'test', new Date());
    router = new Router(caRoutes(new CertificateAuthority({ material, tokens })));
  });
  after(async () => {
    await idp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (token: string, challenge: string) =>
    router.dispatch(
      request('POST', '/api/v2/signingCert', {
        body: {
          credentials: { oidcIdentityToken: token },
          publicKeyRequest: {
            publicKey: { content: pem },
            proofOfPossession: sign('sha256', Buffer.from(challenge), key.privateKey).toString('base64'),
          },
        },
      }),
    );

  for (const c of TYPE_CASES) {
    it(`${c.type}: issues for the genuine token, refuses every forged or unfit one`, async () => {
      const iss = idp.issuer(c.path);
      const tid = (c.claims.tid as string | undefined) ?? 'tenant-7';
      const wildIss = idp.issuer(wildPath(c, c.type === 'entra' ? tid : 'tenant-7'));
      const aud = c.audience ?? 'sigstore';
      const mint = (claims = c.claims, o: Parameters<TestIdp['mint']>[2] = {}, at = iss) =>
        idp.mint(at, claims, { alg: c.alg, audience: aud, ...o });
      const rules = { type: c.type, ...c.rules };
      const challenge = mapIdentity(iss, c.claims, rules).challenge;

      const ok = await post(await mint(), challenge);
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      if (c.type !== 'spiffe') {
        const viaWildcard = await post(await mint(c.claims, {}, wildIss), challenge);
        assert.equal(viaWildcard.status, 201, JSON.stringify(viaWildcard.body));
      }

      const header = (h: object) => Buffer.from(JSON.stringify(h)).toString('base64url');
      const payload = header({ ...c.claims, iss, aud, iat: Math.floor(Date.now() / 1000), exp: 9e9 });
      const hs256 = await new jose.SignJWT(c.claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(iss)
        .setAudience(aud)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(await idp.publicKeyPem(c.alg)));
      const prefixOf = c.type === 'spiffe' ? iss : wildIss;
      const rows: [string, string][] = [
        ['wrong audience', await mint(c.claims, { audience: 'not-sigstore' })],
        ['unknown issuer', await mint(c.claims, {}, idp.issuer(`nobody/${c.type}`))],
        ['wildcard matched only by a prefix (across /)', await mint(c.claims, {}, `${prefixOf}/extra`)],
        ['wildcard matched only by a prefix (across .)', await mint(c.claims, {}, `${prefixOf}.evil.test`)],
        ['wildcard stretched over an empty segment', await mint(c.claims, {}, idp.issuer(wildPath(c, '')))],
        ['alg none', `${header({ alg: 'none', typ: 'JWT' })}.${payload}.`],
        ['HS256 keyed with the public key', hs256],
        ['expired', await mint(c.claims, { expiresIn: -3600, issuedAt: Math.floor(Date.now() / 1000) - 7200 })],
        ['forged signature', await mint(c.claims, { alg: 'RS256', key: rogue as never })],
        ['missing the claim the type needs', await mint(withClaim(c, c.required, () => undefined))],
        ['comma smuggling a second SAN', await mint(withClaim(c, c.sanClaim, (v) => `${v},URI:https://evil.test`))],
        [
          'newline smuggling an extension',
          await mint(withClaim(c, c.extensionClaim, (v) => `${v}\n1.3.6.1.4.1.57264.1.9: x`)),
        ],
      ];
      for (const [name, token] of rows) {
        const res = await post(token, challenge);
        const body = res.body as { error?: string; signedCertificateDetachedSct?: unknown };
        assert.equal(res.status, 401, `${c.type}, ${name}: ${JSON.stringify(res.body)}`);
        assert.equal(body.error, 'TOKEN_INVALID', `${c.type}, ${name}`);
        assert.equal(body.signedCertificateDetachedSct, undefined);
      }
    });
  }

  it('discovers each concrete issuer once, however many tokens arrive at once', async () => {
    const c = TYPE_CASES.find((x) => x.type === 'kubernetes')!;
    const iss = idp.issuer(wildPath(c, 'burst'));
    const token = await idp.mint(iss, c.claims);
    const challenge = mapIdentity(iss, c.claims, { type: c.type }).challenge;
    const results = await Promise.all(Array.from({ length: 20 }, () => post(token, challenge)));
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set([201]));
    assert.equal(idp.hits.get(`/${wildPath(c, 'burst')}/.well-known/openid-configuration`), 1);
  });

  it('answers 503 for an issuer that is down, and does not ask it again for every token', async () => {
    const c = TYPE_CASES.find((x) => x.type === 'kubernetes')!;
    const iss = idp.issuer('down/cluster-1');
    const token = await idp.mint(iss, c.claims);
    for (let i = 0; i < 3; i++) {
      const res = await post(token, 'system:serviceaccount:release:signer');
      assert.equal(res.status, 503);
      assert.equal((res.body as { error: string }).error, 'SERVICE_UNAVAILABLE');
    }
    assert.equal(idp.hits.get('/down/cluster-1/.well-known/openid-configuration'), 1);
  });
});
