/**
 * The three-way interop the product promises, on one real stack (127.0.0.1:0):
 *  - the official sigstore-js signer (@sigstore/sign: FulcioSigner, RekorWitness, TSAWitness) against our CA, log
 *    and TSA makes bundles that both the official @sigstore/verify and vouch's verifier accept (and both refuse
 *    another artifact or identity);
 *  - vouch's own keyless bundles are accepted by @sigstore/verify with the stack's trusted_root.json.
 * The bundles go through the JSON file form, as a verifier elsewhere gets them.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundleToJSON } from '@sigstore/bundle';
import {
  DSSEBundleBuilder,
  FulcioSigner,
  MessageSignatureBundleBuilder,
  RekorWitness,
  TSAWitness,
} from '@sigstore/sign';
import { isVouchError } from '../../src/errors.ts';
import { type Stack, startStack } from '../../src/server/stack.ts';
import { FulcioClient } from '../../src/sign/fulcio.ts';
import { keylessContext } from '../../src/sign/keyless.ts';
import { buildPolicy } from '../../src/verify/policy.ts';
import { loadTrustedRoot, type TrustMaterial } from '../../src/verify/trust.ts';
import { verify } from '../../src/verify/verifier.ts';
import { signTarget } from '../../src/workflow/sign.ts';
import { sigstoreJsVerify } from '../helpers/sigstore-verify.ts';

const EMAIL = 'release@example.test';

describe('interop: official sigstore-js <-> vouch on our servers', () => {
  let dir: string;
  let stack: Stack;
  let rootJson: string;
  let trust: TrustMaterial;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vouch-interop-'));
    stack = await startStack({ dataDir: dir, localEmail: EMAIL });
    rootJson = readFileSync(join(dir, 'trusted_root.json'), 'utf8');
    trust = loadTrustedRoot(rootJson);
  });
  after(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const official = () => ({
    signer: new FulcioSigner({
      fulcioBaseURL: stack.urls.ca,
      identityProvider: { getToken: () => stack.issuer!.mint() },
    }),
    witnesses: [
      new RekorWitness({ rekorBaseURL: stack.urls.tlog }),
      new TSAWitness({ tsaBaseURL: `${stack.urls.tsa}/api/v1/timestamp` }),
    ],
  });
  const policy = (identity = EMAIL) => buildPolicy({ identities: [{ identity, issuer: stack.urls.oidc }] });
  const digestOf = (b: Buffer) => ({
    kind: 'digest' as const,
    algorithm: 'sha256' as const,
    digest: createHash('sha256').update(b).digest(),
    bytes: b,
  });
  const oracle = (bundleJson: string, artifact?: Buffer, identity = EMAIL) =>
    sigstoreJsVerify({
      trustedRootJson: rootJson,
      ctlogThreshold: 0,
      bundleJson,
      identity,
      issuer: stack.urls.oidc,
      ...(artifact ? { artifact } : {}),
    });
  const code = (fn: () => unknown) => {
    try {
      fn();
      return 'verified';
    } catch (e) {
      return isVouchError(e) ? e.code : `unexpected ${e}`;
    }
  };

  it('a message signature from @sigstore/sign verifies with both verifiers', async () => {
    const data = Buffer.from('artifact signed by the official client');
    const json = JSON.stringify(bundleToJSON(await new MessageSignatureBundleBuilder(official()).create({ data })));
    assert.deepEqual(oracle(json, data), { ok: true });
    const r = verify(json, digestOf(data), policy(), trust);
    assert.equal(r.signer.type === 'certificate' && r.signer.identity, EMAIL);
    assert.equal(r.tlogEntries.length, 1);
    assert.equal(r.timestamps.filter((t) => t.source === 'tsa').length, 1);
    // Both refuse other bytes and another identity.
    const other = Buffer.from('another artifact');
    assert.notEqual(oracle(json, other).ok, true);
    assert.equal(
      code(() => verify(json, digestOf(other), policy(), trust)),
      'DIGEST_MISMATCH',
    );
    assert.notEqual(oracle(json, data, 'x@example.test').ok, true);
    assert.equal(
      code(() => verify(json, digestOf(data), policy('x@example.test'), trust)),
      'IDENTITY_MISMATCH',
    );
  });

  it('a DSSE statement from @sigstore/sign verifies with both verifiers', async () => {
    const data = Buffer.from('statement subject');
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'a', digest: { sha256: createHash('sha256').update(data).digest('hex') } }],
      predicateType: 'https://example.test/p',
      predicate: {},
    };
    const built = await new DSSEBundleBuilder(official()).create({
      data: Buffer.from(JSON.stringify(statement)),
      type: 'application/vnd.in-toto+json',
    });
    const json = JSON.stringify(bundleToJSON(built));
    assert.deepEqual(oracle(json), { ok: true });
    const r = verify(json, digestOf(data), policy(), trust);
    assert.deepEqual((r.statement?.payload as { subject: unknown }).subject, statement.subject);
  });

  it('a vouch keyless bundle verifies with @sigstore/verify', async () => {
    const context = keylessContext(
      { getToken: () => stack.issuer!.mint() },
      { ca: new FulcioClient(stack.urls.ca), tlog: stack.urls.tlog, tsa: `${stack.urls.tsa}/api/v1/timestamp` },
    );
    const file = join(dir, 'artifact.bin');
    const data = Buffer.from('signed by vouch');
    writeFileSync(file, data);
    const signed = await signTarget(file, { context, bundle: join(dir, 'artifact.json') });
    const json = readFileSync(signed.bundlePath, 'utf8');
    assert.deepEqual(JSON.parse(json), signed.bundle, 'the bundle written is the one returned');
    assert.deepEqual(oracle(json, data), { ok: true });
    assert.equal(
      code(() => verify(json, digestOf(data), policy(), trust)),
      'verified',
    );
  });
});
