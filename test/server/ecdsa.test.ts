/** Differential test of the fast prehashed P-256 verifier against @noble/curves (an independent implementation). */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { p256 } from '@noble/curves/nist.js';
import { verifyP256Prehashed } from '../../src/server/tlog/ecdsa.ts';

function keypair() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return { privateKey, point };
}

const noble = (pt: Uint8Array, d: Uint8Array, sig: Uint8Array) => {
  try {
    return p256.verify(sig, d, pt, { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false;
  }
};

describe('fast P-256 prehashed verification', () => {
  it('agrees with @noble/curves on valid and tampered signatures', () => {
    const other = keypair();
    for (let i = 0; i < 20; i++) {
      const k = keypair();
      const data = randomBytes(40);
      const d = createHash('sha256').update(data).digest();
      const sig = sign('sha256', data, k.privateKey);
      // The negated key -Q: a signature valid for Q must not verify for -Q (x-only shortcuts get this wrong).
      const neg = Buffer.from(k.point);
      const y = BigInt(`0x${neg.subarray(33).toString('hex')}`);
      const pMod = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
      Buffer.from((pMod - y).toString(16).padStart(64, '0'), 'hex').copy(neg, 33);
      const flipped = Buffer.from(sig);
      flipped[flipped.length - 1]! ^= 1;
      const cases: [string, Uint8Array, Uint8Array, Uint8Array, boolean][] = [
        ['valid', k.point, d, sig, true],
        ['other key', other.point, d, sig, false],
        ['negated key', neg, d, sig, false],
        ['other digest', k.point, createHash('sha256').update('x').digest(), sig, false],
        ['flipped s', k.point, d, flipped, false],
        ['truncated', k.point, d, sig.subarray(0, sig.length - 1), false],
        ['sha512 digest truncated to 256 bits', k.point, Buffer.concat([d, randomBytes(32)]), sig, true],
      ];
      for (const [name, pt, dg, sg, expected] of cases) {
        assert.equal(verifyP256Prehashed(pt, dg, sg), expected, name);
        assert.equal(noble(pt, dg, sg), expected, `noble ${name}`);
      }
    }
  });

  it('rejects malformed keys and signatures', () => {
    const k = keypair();
    const d = createHash('sha256').update('m').digest();
    const sig = sign('sha256', Buffer.from('m'), k.privateKey);
    const offCurve = Buffer.from(k.point);
    offCurve[64]! ^= 1;
    assert.equal(verifyP256Prehashed(offCurve, d, sig), false);
    assert.equal(verifyP256Prehashed(k.point, d, Buffer.alloc(0)), false);
    assert.equal(verifyP256Prehashed(k.point, d, Buffer.from('3006020100020100', 'hex')), false); // r = s = 0
    assert.equal(verifyP256Prehashed(k.point.subarray(0, 33), d, sig), false);
  });
});
