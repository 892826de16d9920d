/** Prehashed P-256 signing (src/sign/p256.ts) checked by two independent verifiers: OpenSSL and @noble/curves. */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { p256 } from '@noble/curves/nist.js';
import { derSignature, signP256Prehashed } from '../src/sign/p256.ts';
import { KeyPairSigner } from '../src/sign/signer.ts';

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

describe('prehashed P-256 signatures', () => {
  it('verify with OpenSSL over the message and with @noble/curves over the digest; DER, low-S, fresh nonces', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const d = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
      const message = randomBytes(i);
      const digest = createHash('sha256').update(message).digest();
      const sig = signP256Prehashed(d, digest);
      assert.ok(verify('sha256', message, publicKey, sig), `OpenSSL ${i}`);
      const jwk = publicKey.export({ format: 'jwk' });
      const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
      // lowS: true also checks that s is in the lower half; format 'der' rejects non-minimal encodings.
      assert.ok(p256.verify(sig, digest, point, { prehash: false, lowS: true, format: 'der' }), `noble ${i}`);
      const { r, s } = p256.Signature.fromBytes(sig, 'der');
      assert.ok(s <= N >> 1n);
      assert.deepEqual(derSignature(r, s), Buffer.from(sig));
      assert.ok(!verify('sha256', Buffer.concat([message, Buffer.of(0)]), publicKey, sig));
      // The same digest signed twice gets two nonces.
      const again = signP256Prehashed(d, digest);
      assert.notDeepEqual(again, sig);
      assert.ok(verify('sha256', message, publicKey, again));
      seen.add(r.toString(16));
    }
    assert.equal(seen.size, 40);
  });

  it('signs digests through KeyPairSigner (the streamed DSSE and hashedrekord path)', async () => {
    const signer = KeyPairSigner.ephemeral('ecdsa-p256');
    const message = Buffer.from('DSSEv1 28 application/vnd.in-toto+json 2 {}');
    const digest = createHash('sha256').update(message).digest();
    const { signature } = await signer.sign({ digest });
    assert.ok(verify('sha256', message, signer.publicKey, signature));
    assert.throws(() => signP256Prehashed(Buffer.alloc(32), digest), RangeError);
    assert.throws(() => signP256Prehashed(randomBytes(32), digest.subarray(1)), RangeError);
  });

  it('DER integers: minimal, with a leading zero only when the top bit is set', () => {
    assert.equal(derSignature(1n, 0x80n).toString('hex'), '300702010102020080');
    assert.equal(derSignature(0x7fn, 0x0100n).toString('hex'), '300702017f02020100');
  });
});
