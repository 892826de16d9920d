/**
 * Official-client interop: @sigstore/sign signs against a real stack on 127.0.0.1:0 (FulcioSigner with a token from
 * the stack's dev issuer, RekorWitness, TSAWitness), and the official @sigstore/verify accepts the bundles with the
 * stack's trusted_root.json. These clients were written by others against the real Sigstore services, so they
 * catch shape and crypto mistakes our own verifier could share with our servers.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import {
  type Bundle,
  bundleBuilderFromSigningConfig,
  FulcioSigner,
  MessageSignatureBundleBuilder,
  RekorWitness,
  TSAWitness,
} from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { hashLeaf, verifyConsistency, verifyInclusion } from '../../src/core/merkle.ts';
import { MAX_BODY } from '../../src/server/routes.ts';
import { type Stack, startStack } from '../../src/server/stack.ts';
import { MAX_ENTRY_BODY } from '../../src/server/tlog/routes.ts';
import { hashedRekord, newSigner } from './helpers.ts';

describe('official sigstore-js clients against the stack', () => {
  let dir: string;
  let stack: Stack;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vouch-stack-'));
    stack = await startStack({ dataDir: dir, localEmail: 'dev@example.test' });
  });
  after(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function builders() {
    const signer = new FulcioSigner({
      fulcioBaseURL: stack.urls.ca,
      identityProvider: { getToken: () => stack.issuer!.mint() },
    });
    const witnesses = [
      new RekorWitness({ rekorBaseURL: stack.urls.tlog }),
      new TSAWitness({ tsaBaseURL: `${stack.urls.tsa}/api/v1/timestamp` }),
    ];
    return { signer, witnesses };
  }

  function verifier() {
    // The file written to dataDir, not the in-memory object: that is what a verifier elsewhere gets.
    const root = TrustedRoot.fromJSON(JSON.parse(readFileSync(join(dir, 'trusted_root.json'), 'utf8')));
    return new Verifier(toTrustMaterial(root), { ctlogThreshold: 0, tlogThreshold: 1, tsaThreshold: 1 });
  }

  function roundTrip(b: Bundle): Bundle {
    return bundleFromJSON(JSON.parse(JSON.stringify(bundleToJSON(b)))) as Bundle;
  }

  const policy = () => ({ subjectAlternativeName: 'dev@example.test', extensions: { issuer: stack.urls.oidc } });

  it('message signature bundle (hashedrekord) verifies with @sigstore/verify', async () => {
    const data = Buffer.from('hello vouch');
    const bundle = roundTrip(await new MessageSignatureBundleBuilder(builders()).create({ data }));
    const signer = verifier().verify(toSignedEntity(bundle, data), policy());
    assert.equal(signer.identity?.subjectAlternativeName, 'dev@example.test');
    assert.equal(bundle.verificationMaterial.tlogEntries[0]!.kindVersion!.kind, 'hashedrekord');
    // And the artifact is bound: other bytes must not verify.
    assert.throws(() => verifier().verify(toSignedEntity(bundle, Buffer.from('other')), policy()));
    // A policy for another identity must fail.
    assert.throws(() =>
      verifier().verify(toSignedEntity(bundle, data), { ...policy(), subjectAlternativeName: 'x@example.test' }),
    );
  });

  it('DSSE bundle built from the written signing_config.json verifies with @sigstore/verify', async () => {
    const statement = Buffer.from(
      JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [], predicateType: 'x', predicate: {} }),
    );
    // bundleBuilderFromSigningConfig is the official consumer of signing configs: it picks CA, log and TSA from it.
    const signingConfig = SigningConfig.fromJSON(JSON.parse(readFileSync(join(dir, 'signing_config.json'), 'utf8')));
    const builder = bundleBuilderFromSigningConfig({
      signingConfig,
      identityProvider: { getToken: () => stack.issuer!.mint() },
      bundleType: 'dsseEnvelope',
    });
    const bundle = roundTrip(await builder.create({ data: statement, type: 'application/vnd.in-toto+json' }));
    assert.equal(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps.length, 1);
    verifier().verify(toSignedEntity(bundle), policy());
    assert.equal(bundle.verificationMaterial.tlogEntries[0]!.kindVersion!.kind, 'dsse');
  });

  it('log proofs from the HTTP API verify with core/merkle', async () => {
    const info = (await (await fetch(`${stack.urls.tlog}/api/v1/log`)).json()) as {
      treeSize: number;
      rootHash: string;
    };
    assert.ok(info.treeSize >= 2);
    const got = (await (await fetch(`${stack.urls.tlog}/api/v1/log/entries?logIndex=0`)).json()) as Record<
      string,
      { body: string; verification: { inclusionProof: { hashes: string[]; treeSize: number; rootHash: string } } }
    >;
    const [uuid, entry] = Object.entries(got)[0]!;
    const leaf = hashLeaf(Buffer.from(entry.body, 'base64'));
    assert.equal(uuid, leaf.toString('hex'));
    const p = entry.verification.inclusionProof;
    assert.ok(
      verifyInclusion(
        leaf,
        0,
        p.treeSize,
        p.hashes.map((h) => Buffer.from(h, 'hex')),
        Buffer.from(p.rootHash, 'hex'),
      ),
    );
    const cons = (await (
      await fetch(`${stack.urls.tlog}/api/v1/log/proof?firstSize=1&lastSize=${info.treeSize}`)
    ).json()) as {
      rootHash: string;
      hashes: string[];
    };
    assert.equal(cons.rootHash, info.rootHash);
    assert.ok(
      verifyConsistency(
        1,
        info.treeSize,
        cons.hashes.map((h) => Buffer.from(h, 'hex')),
        leaf,
        Buffer.from(info.rootHash, 'hex'),
      ),
    );
  });
});

describe('CA trusting an external issuer through OIDC discovery', () => {
  const dirs: string[] = [];
  const stacks: Stack[] = [];
  after(async () => {
    for (const s of stacks) await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('fetches discovery and JWKS over HTTP, issues for its tokens and refuses other issuers', async () => {
    dirs.push(mkdtempSync(join(tmpdir(), 'vouch-idp-')), mkdtempSync(join(tmpdir(), 'vouch-ca2-')));
    // Stack B is only an identity provider; stack A's CA lists B's issuer (with no keys given: discovery).
    const idp = await startStack({
      dataDir: dirs[0]!,
      services: { ca: false, tlog: false, tsa: false },
      localEmail: 'ext@example.test',
    });
    stacks.push(idp);
    const a = await startStack({
      dataDir: dirs[1]!,
      services: { tlog: false, tsa: false },
      issuers: [{ issuer: idp.urls.oidc }],
      allowInsecureLoopbackIssuers: true,
    });
    stacks.push(a);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const request = (token: string) =>
      fetch(`${a.urls.ca}/api/v2/signingCert`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          credentials: { oidcIdentityToken: token },
          publicKeyRequest: {
            publicKey: { algorithm: 'ECDSA', content: publicKey.export({ format: 'pem', type: 'spki' }) },
            proofOfPossession: sign('sha256', Buffer.from('ext@example.test'), privateKey).toString('base64'),
          },
        }),
      });
    // The token endpoint over HTTP, as a client would use it.
    const minted = (await (await fetch(`${idp.urls.oidc}/token`, { method: 'POST' })).json()) as { id_token: string };
    const ok = await request(minted.id_token);
    assert.equal(ok.status, 201, await ok.clone().text());
    // A's own dev issuer is trusted by A only; B's CA is off, but a third stack's issuer is not listed at all.
    dirs.push(mkdtempSync(join(tmpdir(), 'vouch-other-')));
    const other = await startStack({
      dataDir: dirs[2]!,
      services: { ca: false, tlog: false, tsa: false },
      localEmail: 'ext@example.test',
    });
    stacks.push(other);
    const refused = await request(await other.issuer!.mint());
    assert.equal(refused.status, 401);
  });
});

describe('HTTP adapter on a real socket', () => {
  let dir: string;
  let stack: Stack;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vouch-http-'));
    stack = await startStack({ dataDir: dir, services: { ca: false, oidc: false, tsa: false } });
  });
  after(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 409 with a Location that resolves to the existing entry', async () => {
    const body = JSON.stringify(hashedRekord(newSigner(), 'http dup'));
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body };
    const first = await fetch(`${stack.urls.tlog}/api/v1/log/entries`, init);
    assert.equal(first.status, 201);
    const second = await fetch(`${stack.urls.tlog}/api/v1/log/entries`, init);
    assert.equal(second.status, 409);
    const location = second.headers.get('location')!;
    const existing = (await (await fetch(new URL(location, stack.url))).json()) as Record<string, unknown>;
    const created = (await first.json()) as Record<string, { body: string; logIndex: number }>;
    const [uuid, e] = Object.entries(created)[0]!;
    assert.ok(location.endsWith(uuid));
    const again = existing[uuid] as { body: string; logIndex: number };
    assert.equal(again.body, e.body);
    assert.equal(again.logIndex, e.logIndex);
  });

  it('passes a port in use on as EADDRINUSE (callers retry on it) and leaves nothing listening', async () => {
    const port = Number(new URL(stack.url).port);
    const d = mkdtempSync(join(tmpdir(), 'vouch-port-'));
    try {
      await assert.rejects(startStack({ dataDir: d, port }), (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('refuses oversized bodies with 413 and junk with 4xx, never 500', async () => {
    const big = await fetch(`${stack.urls.tlog}/api/v1/log/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(MAX_ENTRY_BODY + 1024, 0x20),
    });
    assert.equal(big.status, 413);
    // Only log entries (a whole DSSE envelope) get the large cap; every other route keeps MAX_BODY.
    const bigCa = await fetch(`${stack.urls.ca}/api/v2/signingCert`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(MAX_BODY + 1024, 0x20),
    });
    assert.equal(bigCa.status, 413);
    const junk: [string, RequestInit][] = [
      ['/tlog/api/v1/log/entries', { method: 'POST', body: '\u0000\u0001' }],
      [
        '/tlog/api/v1/log/entries',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"kind":' },
      ],
      ['/tlog/api/v1/log/entries/%ZZ', {}],
      ['/tlog/api/v1/log/proof?lastSize=abc', {}],
      ['/ca/api/v2/signingCert', { method: 'POST', body: '{}' }],
      ['/nothing/here', {}],
      ['/tlog/api/v1/log', { method: 'DELETE' }],
    ];
    for (const [path, init] of junk) {
      const res = await fetch(`${stack.url}${path}`, init);
      assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status}`);
    }
  });
});
