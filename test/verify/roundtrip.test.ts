/**
 * Bundles made by vouch's own sign layer (key pairs, no witnesses) verify with vouch's verifier, and their
 * tampered copies do not. The sign layer builds bundles with @sigstore/bundle, so this also checks that the
 * verifier reads what the official serializer writes.
 */
import assert from 'node:assert/strict';
import { createHash, verify as cryptoVerify, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hashFile } from '../../src/core/digest.ts';
import { VouchError } from '../../src/errors.ts';
import { signDigest, signStatement } from '../../src/sign/bundle.ts';
import { KeyPairSigner } from '../../src/sign/signer.ts';
import { artifactFromDigest, buildPolicy, loadTrustedRoot, verify } from '../../src/verify/index.ts';
import { loadCase } from '../helpers/realbundles.ts';

const trust = loadTrustedRoot(loadCase('prod-v0.3-hashedrekord').trustedRootText);
const artifact = Buffer.from('vouch round trip\n');
const digest = createHash('sha256').update(artifact).digest();

describe('round trip with the sign layer', () => {
  it('ECDSA P-256 message signature over a digest', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const bundle = await signDigest({ signer: new KeyPairSigner(privateKey), witnesses: [] }, digest);
    const policy = buildPolicy({ keys: [{ spki: publicKey.export({ format: 'pem', type: 'spki' }) as string }] });
    const text = JSON.stringify(bundle);
    // Digest only (pre-hashed ECDSA) and with the bytes (native verify): both accept.
    assert.equal(verify(text, { kind: 'digest', algorithm: 'sha256', digest }, policy, trust).verified, true);
    const r = verify(text, { kind: 'digest', algorithm: 'sha256', digest, bytes: artifact }, policy, trust);
    assert.equal(r.signer.type, 'key');
    const other = createHash('sha256').update('other').digest();
    assert.throws(
      () => verify(text, { kind: 'digest', algorithm: 'sha256', digest: other }, policy, trust),
      (e: unknown) => e instanceof VouchError && e.code === 'DIGEST_MISMATCH',
    );
  });

  it('ECDSA P-256 signatures over the bytes, a digest or chunks are the same kind of signature', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signer = new KeyPairSigner(privateKey);
    const policy = buildPolicy({ keys: [{ spki: publicKey.export({ format: 'pem', type: 'spki' }) as string }] });
    const fromBytes = await signDigest({ signer, witnesses: [] }, digest, artifact);
    assert.equal(
      verify(JSON.stringify(fromBytes), { kind: 'digest', algorithm: 'sha256', digest }, policy, trust).verified,
      true,
    );
    // Bytes that are not the digest's message are refused before anything is signed.
    await assert.rejects(() => signDigest({ signer, witnesses: [] }, digest, Buffer.from('other')), VouchError);
    const chunks = async function* () {
      for (let i = 0; i < artifact.length; i += 3) yield artifact.subarray(i, i + 3);
    };
    const streamed = await signer.sign({ chunks: chunks() });
    assert.equal(cryptoVerify('sha256', artifact, publicKey, streamed.signature), true);
    assert.equal(cryptoVerify('sha256', Buffer.from('other'), publicKey, streamed.signature), false);
    const ed = new KeyPairSigner(generateKeyPairSync('ed25519').privateKey);
    await assert.rejects(() => ed.sign({ chunks: chunks() }), VouchError);
    await assert.rejects(() => ed.sign({ digest }), VouchError);
  });

  it('a file hashed by core/digest, through artifactFromDigest', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vouch-verify-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'a.bin');
    writeFileSync(file, artifact);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const bundle = JSON.stringify(await signDigest({ signer: new KeyPairSigner(privateKey), witnesses: [] }, digest));
    const policy = buildPolicy({ keys: [{ spki: publicKey.export({ format: 'pem', type: 'spki' }) as string }] });
    for (const keepUpTo of [0, 1 << 20]) {
      const input = artifactFromDigest(await hashFile(file, 'sha256', { keepUpTo }));
      assert.equal(input.kind === 'digest' && input.bytes !== undefined, keepUpTo > 0);
      assert.equal(verify(bundle, input, policy, trust).artifact?.digest, `sha256:${digest.toString('hex')}`);
    }
  });

  it('Ed25519 DSSE statement', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const bundle = await signStatement(
      { signer: new KeyPairSigner(privateKey), witnesses: [] },
      {
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'a', digest: { sha256: digest.toString('hex') } }],
        predicateType: 'https://example.com/p',
      },
    );
    const policy = buildPolicy({ keys: [{ spki: publicKey.export({ format: 'der', type: 'spki' }) }] });
    const r = verify(JSON.stringify(bundle), { kind: 'digest', algorithm: 'sha256', digest }, policy, trust);
    assert.equal(r.statement?.payloadType, 'application/vnd.in-toto+json');
    const wrong = buildPolicy({
      keys: [{ spki: generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }) }],
    });
    assert.throws(
      () => verify(JSON.stringify(bundle), { kind: 'digest', algorithm: 'sha256', digest }, wrong, trust),
      (e: unknown) => e instanceof VouchError && e.code === 'KEY_MISMATCH',
    );
  });
});
