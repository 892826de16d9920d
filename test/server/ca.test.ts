/** CA routes called directly (no socket): token rejection table, proof of possession, hostile bodies, profile. */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, webcrypto, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as jose from 'jose';
import { isVouchError } from '../../src/errors.ts';
import { CertificateAuthority } from '../../src/server/ca/ca.ts';
import { TokenVerifier } from '../../src/server/ca/oidc.ts';
import { caRoutes } from '../../src/server/ca/routes.ts';
import { LocalIssuer } from '../../src/server/oidc/issuer.ts';
import { loadOrCreateAuthorities, loadOrCreateKey } from '../../src/server/pki.ts';
import { Router, request } from '../../src/server/routes.ts';

const ISS = 'http://127.0.0.1:1/oidc';

describe('CA (Fulcio v2 routes)', () => {
  let dir: string;
  let router: Router;
  let issuer: LocalIssuer;
  let ca: CertificateAuthority;
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = key.publicKey.export({ format: 'pem', type: 'spki' }) as string;
  const pop = (subject: string) => sign('sha256', Buffer.from(subject), key.privateKey).toString('base64');
  const body = (token: unknown, proof = pop('dev@example.test'), publicKey: unknown = pem) => ({
    credentials: { oidcIdentityToken: token },
    publicKeyRequest: { publicKey: { algorithm: 'ECDSA', content: publicKey }, proofOfPossession: proof },
  });
  const post = (b: unknown, headers?: Record<string, string>) =>
    router.dispatch(request('POST', '/api/v2/signingCert', { body: b, headers }));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vouch-ca-'));
    const material = await loadOrCreateAuthorities(dir, 'test', new Date());
    const oidcKey = await loadOrCreateKey(join(dir, 'keys'), 'oidc');
    issuer = new LocalIssuer({ issuer: ISS, key: oidcKey, email: 'dev@example.test' });
    const tokens = new TokenVerifier([{ issuer: ISS, type: 'email', jwks: await issuer.jwks() }]);
    ca = new CertificateAuthority({ material, tokens });
    router = new Router(caRoutes(ca));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a certificate on disk that certifies another key than its key file (keys lost, certs kept)', async () => {
    const other = mkdtempSync(join(tmpdir(), 'vouch-ca-keys-'));
    try {
      await loadOrCreateAuthorities(other, 'test', new Date());
      for (const name of ['intermediate', 'root', 'local-intermediate', 'tsa']) {
        const keyFile = join(other, 'keys', `${name}.key`);
        const saved = readFileSync(keyFile);
        rmSync(keyFile);
        await assert.rejects(loadOrCreateAuthorities(other, 'test', new Date()), (e) =>
          isVouchError(e, 'CONFIG_INVALID'),
        );
        writeFileSync(keyFile, saved, { mode: 0o600 });
      }
      await loadOrCreateAuthorities(other, 'test', new Date());
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('keeps private keys mode 0600 and reuses them', async () => {
    assert.equal(statSync(join(dir, 'keys', 'root.key')).mode & 0o777, 0o600);
    const again = await loadOrCreateAuthorities(dir, 'test', new Date());
    assert.equal(again.root.toString('pem'), ca.material.root.toString('pem'));
  });

  it('issues a 10-minute code-signing certificate with the Fulcio profile', async () => {
    const res = await post(body(await issuer.mint()));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const chain = (res.body as { signedCertificateDetachedSct: { chain: { certificates: string[] } } })
      .signedCertificateDetachedSct.chain.certificates;
    assert.equal(chain.length, 3);
    const [leaf, inter, root] = chain.map((c) => new X509Certificate(c));
    assert.ok(leaf!.verify(inter!.publicKey) && inter!.verify(root!.publicKey));
    assert.equal(leaf!.subjectAltName, 'email:dev@example.test');
    assert.deepEqual(leaf!.keyUsage, ['1.3.6.1.5.5.7.3.3']);
    assert.equal(Date.parse(leaf!.validTo) - Date.parse(leaf!.validFrom), 600_000);
    assert.ok(leaf!.publicKey.equals(key.publicKey));
    // Key identifiers chain: leaf AKI = intermediate SKI; leaf SKI = SHA-1 of the key bits (RFC 5280 §4.2.1.2).
    const px = chain.map((c) => new x509.X509Certificate(c));
    const aki = px[0]!.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId;
    assert.equal(aki, px[1]!.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
    const point = (key.publicKey.export({ format: 'der', type: 'spki' }) as Buffer).subarray(-65);
    assert.equal(
      px[0]!.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId,
      createHash('sha1').update(point).digest('hex'),
    );
    // 1.3.6.1.4.1.57264.1.8: DER UTF8String of the issuer (tag 0x0c, length, bytes).
    const der = leaf!.raw;
    const utf8 = Buffer.concat([Buffer.of(0x0c, ISS.length), Buffer.from(ISS)]);
    assert.ok(der.includes(utf8));
  });

  it("certifies its own development issuer's identities from the local development intermediate only", async () => {
    const local = new CertificateAuthority({
      material: ca.material,
      tokens: ca.tokens,
      localIssuers: [ISS],
    });
    const res = await new Router(caRoutes(local)).dispatch(
      request('POST', '/api/v2/signingCert', { body: body(await issuer.mint()) }),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const chain = (
      res.body as { signedCertificateDetachedSct: { chain: { certificates: string[] } } }
    ).signedCertificateDetachedSct.chain.certificates.map((c) => new X509Certificate(c));
    assert.ok(chain[0]!.verify(chain[1]!.publicKey));
    assert.equal(chain[1]!.raw.equals(Buffer.from(ca.material.localIntermediate.rawData)), true);
    assert.match(chain[1]!.subject, /O=vouch local development/);
    // Without the issuer listed as local, the ordinary intermediate (as for every real issuer).
    const plain = await post(body(await issuer.mint()));
    const plainChain = (plain.body as { signedCertificateDetachedSct: { chain: { certificates: string[] } } })
      .signedCertificateDetachedSct.chain.certificates;
    assert.equal(new X509Certificate(plainChain[1]!).raw.equals(Buffer.from(ca.material.intermediate.rawData)), true);
  });

  it('rejects bad tokens with 401 (table)', async () => {
    const oidcKey = await loadOrCreateKey(join(dir, 'keys'), 'oidc');
    const rogueKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const past = () => new Date(Date.now() - 3600_000);
    const mk = (o: Partial<ConstructorParameters<typeof LocalIssuer>[0]>) =>
      new LocalIssuer({ issuer: ISS, key: oidcKey, email: 'dev@example.test', ...o });
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ iss: ISS, aud: 'sigstore', email: 'dev@example.test', email_verified: true, exp: 9e9, iat: 1 }),
    ).toString('base64url')}.`;
    const hs = await new jose.SignJWT({ email: 'dev@example.test', email_verified: true })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISS)
      .setAudience('sigstore')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('secret-secret-secret-secret-secret!'));
    const rogue = await new jose.SignJWT({ email: 'dev@example.test', email_verified: true })
      .setProtectedHeader({ alg: 'ES256', kid: (await issuer.jwks()).keys[0]!.kid! })
      .setIssuer(ISS)
      .setAudience('sigstore')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(rogueKey);
    const cases: [string, unknown][] = [
      ['expired', await mk({ clock: past }).mint()],
      ['wrong audience', await mk({ audience: 'other' }).mint()],
      ['unlisted issuer', await mk({ issuer: 'https://evil.example' }).mint()],
      ['bad signature', rogue],
      ['alg none', none],
      ['HMAC', hs],
      ['email not verified', await issuer.mint({ email_verified: false })],
      ['future iat', await mk({ clock: () => new Date(Date.now() + 3600_000) }).mint()],
      ['non-ASCII email', await issuer.mint({ email: 'd\u00e9v@example.test' })],
      ['email with a newline', await issuer.mint({ email: 'dev@example.test\nx' })],
      ['not an email', await issuer.mint({ email: 'nobody' })],
      ['missing', undefined],
      ['not a string', 42],
      ['garbage', 'a.b.c'],
      ['oversized', 'x'.repeat(20_000)],
    ];
    for (const [name, token] of cases) {
      const res = await post(body(token));
      assert.equal(res.status, 401, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal((res.body as { error: string }).error, 'TOKEN_INVALID', name);
    }
  });

  /** A PKCS#10 request for `publicKey`, self-signed by `signingKey` (the same key's private half, unless forged). */
  async function csr(
    alg: 'P-256' | 'P-384' | 'Ed25519' | 'RSA',
    forge = false,
  ): Promise<{ pem: string; spki: Buffer }> {
    const params =
      alg === 'Ed25519'
        ? { name: 'Ed25519' }
        : alg === 'RSA'
          ? {
              name: 'RSASSA-PKCS1-v1_5',
              modulusLength: 2048,
              publicExponent: new Uint8Array([1, 0, 1]),
              hash: 'SHA-256',
            }
          : { name: 'ECDSA', namedCurve: alg, hash: alg === 'P-384' ? 'SHA-384' : 'SHA-256' };
    const gen = () =>
      webcrypto.subtle.generateKey(params, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
    const keys = await gen();
    const signer = forge ? { publicKey: keys.publicKey, privateKey: (await gen()).privateKey } : keys;
    const req = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=ignored',
      keys: signer as never,
      signingAlgorithm: params,
    });
    return { pem: req.toString('pem'), spki: Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)) };
  }
  const csrBody = (token: unknown, request: unknown) => ({
    credentials: { oidcIdentityToken: token },
    certificateSigningRequest: request,
  });

  it('issues for a CSR (PEM, or base64 of it as Fulcio sends protobuf bytes) to the key it holds', async () => {
    const token = await issuer.mint();
    for (const alg of ['P-256', 'P-384', 'Ed25519', 'RSA'] as const) {
      const { pem, spki } = await csr(alg);
      for (const form of [pem, Buffer.from(pem).toString('base64')]) {
        const res = await post(csrBody(token, form));
        assert.equal(res.status, 201, `${alg}: ${JSON.stringify(res.body)}`);
        const leaf = new X509Certificate(
          (res.body as { signedCertificateDetachedSct: { chain: { certificates: string[] } } })
            .signedCertificateDetachedSct.chain.certificates[0]!,
        );
        assert.ok((leaf.publicKey.export({ format: 'der', type: 'spki' }) as Buffer).equals(spki), alg);
        assert.ok(!leaf.subject, 'the CSR subject is ignored');
      }
    }
  });

  it('refuses a CSR that is not self-signed by its key, malformed, or for a weak key', async () => {
    const token = await issuer.mint();
    const good = (await csr('P-256')).pem;
    const der = Buffer.from(good.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 3]! ^= 0x01; // inside the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const weak = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=x',
      keys: (await webcrypto.subtle.generateKey(
        { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
        true,
        ['sign', 'verify'],
      )) as never,
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    });
    const cases: [string, unknown, number, string][] = [
      ['signed by another key', (await csr('P-256', true)).pem, 400, 'PROOF_OF_POSSESSION_INVALID'],
      ['signature tampered', tampered, 400, 'PROOF_OF_POSSESSION_INVALID'],
      ['1024-bit RSA', weak.toString('pem'), 400, 'REQUEST_INVALID'],
      ['not a CSR', key.publicKey.export({ format: 'pem', type: 'spki' }), 400, 'REQUEST_INVALID'],
      ['not base64', '%%%', 400, 'REQUEST_INVALID'],
      ['a number', 7, 400, 'REQUEST_INVALID'],
      ['bad token first', good, 401, 'TOKEN_INVALID'],
    ];
    for (const [name, request, status, code] of cases) {
      const res = await post(csrBody(name === 'bad token first' ? 'a.b.c' : token, request));
      assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal((res.body as { error: string }).error, code, name);
    }
  });

  it('rejects a failed proof of possession with 400', async () => {
    const token = await issuer.mint();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cases: [string, unknown][] = [
      ['signed other subject', body(token, pop('someone@else'))],
      [
        'signed by another key',
        body(token, sign('sha256', Buffer.from('dev@example.test'), other.privateKey).toString('base64')),
      ],
      ['not base64', body(token, '!!!')],
      ['empty', body(token, '')],
    ];
    for (const [name, b] of cases) {
      const res = await post(b);
      assert.equal(res.status, 400, name);
      assert.equal((res.body as { error: string }).error, 'PROOF_OF_POSSESSION_INVALID', name);
    }
  });

  it('answers malformed and oversized bodies with 400/413, never 500', async () => {
    const token = await issuer.mint();
    const cases: [string, unknown, Record<string, string> | undefined, number][] = [
      ['not JSON', '{', { 'content-type': 'application/json' }, 400],
      ['duplicate keys', `{"credentials":{},"credentials":{}}`, { 'content-type': 'application/json' }, 400],
      ['wrong content type', JSON.stringify(body(token)), { 'content-type': 'text/plain' }, 400],
      ['array', [], undefined, 400],
      ['no publicKeyRequest', { credentials: { oidcIdentityToken: token } }, undefined, 400],
      ['CSR and public key both', { ...body(token), certificateSigningRequest: 'x' }, undefined, 400],
      ['bad PEM', body(token, pop('dev@example.test'), 'not a key'), undefined, 400],
      ['PEM number', body(token, pop('dev@example.test'), 7), undefined, 400],
      [
        'weak curve',
        body(
          token,
          pop('x'),
          generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'pem', type: 'spki' }),
        ),
        undefined,
        400,
      ],
      ['oversized', Buffer.alloc(100_000, 0x20), { 'content-type': 'application/json' }, 413],
      ['deep', `${'['.repeat(100)}${']'.repeat(100)}`, { 'content-type': 'application/json' }, 400],
    ];
    for (const [name, b, headers, status] of cases) {
      const res = await post(b, headers);
      assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
    }
  });

  it('serves trust bundle and configuration', async () => {
    const tb = await router.dispatch(request('GET', '/api/v2/trustBundle'));
    assert.equal((tb.body as { chains: { certificates: string[] }[] }).chains[0]!.certificates.length, 2);
    const cfg = await router.dispatch(request('GET', '/api/v2/configuration'));
    assert.equal((cfg.body as { issuers: { issuerUrl: string }[] }).issuers[0]!.issuerUrl, ISS);
    assert.equal((await router.dispatch(request('GET', '/nope'))).status, 404);
    assert.equal((await router.dispatch(request('GET', '/api/v2/signingCert'))).status, 405);
  });
});
