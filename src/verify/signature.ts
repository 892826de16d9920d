/**
 * Signature primitives of the verifier: checking a signature over bytes or over a digest only, and choosing which of
 * a policy's public keys signed a bundle. Every failure of the crypto layer here means "does not verify", never
 * an exception that a caller could mistake for something else.
 */
import { constants, createPublicKey, verify as cryptoVerify, type KeyObject, publicDecrypt } from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import type { HashAlgorithm } from '../core/digest.ts';
import type { Certificate } from '../core/x509.ts';
import { VouchError } from '../errors.ts';
import type { Bundle } from './bundle.ts';
import { spkiFingerprint } from './trust.ts';
import type { PublicKeyInput } from './types.ts';

/** Who signed a bundle: the key of its certificate (keyless) or one of the policy's keys. */
export interface Signer {
  kind: 'certificate' | 'key';
  key: KeyObject;
  keyDer: Buffer;
  leaf?: Certificate;
  fingerprint?: string;
}

export function safeVerify(hash: string | null, data: Buffer, key: KeyObject, sig: Buffer): boolean {
  try {
    return cryptoVerify(hash, data, key, sig);
  } catch {
    return false;
  }
}

const DIGEST_INFO: Record<HashAlgorithm, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** Verify a signature given only the message digest (no artifact bytes): ECDSA and RSA PKCS#1 v1.5 allow it. */
export function verifyPrehashed(key: KeyObject, algorithm: HashAlgorithm, digest: Buffer, sig: Buffer): boolean {
  try {
    if (key.asymmetricKeyType === 'ec') {
      const jwk = key.export({ format: 'jwk' });
      const point = Buffer.concat([
        Buffer.from([4]),
        Buffer.from(jwk.x as string, 'base64url'),
        Buffer.from(jwk.y as string, 'base64url'),
      ]);
      // Stryker disable next-line ConditionalExpression: another curve's point fails inside the try, which returns false too
      const curve = jwk.crv === 'P-256' ? p256 : jwk.crv === 'P-384' ? p384 : jwk.crv === 'P-521' ? p521 : undefined;
      // Stryker disable next-line ConditionalExpression: calling verify on no curve throws inside the try, which returns false too
      if (!curve) return false;
      return curve.verify(sig, digest, point, { prehash: false, format: 'der', lowS: false });
    }
    if (key.asymmetricKeyType === 'rsa') {
      const em = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, sig);
      return em.equals(Buffer.concat([DIGEST_INFO[algorithm], digest]));
    }
  } catch {
    return false;
  }
  // Ed25519 signs the message itself: without the bytes there is nothing to verify.
  throw new VouchError('BUNDLE_UNSUPPORTED', 'this signature type needs the artifact bytes, not only its digest');
}

// ---- key pairs ----------------------------------------------------------------------------------------------

export interface PolicyKey {
  key: KeyObject;
  spki: Buffer;
  fingerprint: string;
}

const keyCache = new WeakMap<PublicKeyInput, PolicyKey>();

function policyKey(k: PublicKeyInput): PolicyKey {
  let pk = keyCache.get(k);
  // Stryker disable next-line ConditionalExpression: a cache; computing the value again gives the same one
  if (!pk) {
    let key: KeyObject;
    // PEM as text or as the bytes of a .pub file (DER SPKI starts with a SEQUENCE tag, never with "-----").
    const pem = typeof k.spki === 'string' ? k.spki : isPem(k.spki) ? k.spki.toString('latin1') : undefined;
    // createPublicKey happily derives a public key from a private one; a policy holding a private key is a mistake
    // (and a leak) we refuse to paper over.
    if (pem?.includes('PRIVATE KEY')) {
      throw new VouchError('KEY_INVALID', 'a policy key is a private key; give the public key');
    }
    try {
      key = pem !== undefined ? createPublicKey(pem) : createPublicKey({ key: k.spki, format: 'der', type: 'spki' });
    } catch (e) {
      throw new VouchError('KEY_INVALID', 'a policy key is not a public key', { cause: e });
    }
    // Stryker disable next-line ConditionalExpression: createPublicKey only makes public keys; kept against a change of constructor
    if (key.type !== 'public') throw new VouchError('KEY_INVALID', 'a policy key is not a public key');
    const spki = key.export({ format: 'der', type: 'spki' });
    pk = { key, spki, fingerprint: spkiFingerprint(spki) };
    keyCache.set(k, pk);
  }
  return pk;
}

function isPem(bytes: Buffer): boolean {
  return bytes.toString('latin1', 0, 64).trimStart().startsWith('-----BEGIN');
}

/** Whether an unauthenticated key hint names this key: hex, base64 or "SHA256:" unpadded base64 of its digest. */
function hintNames(hint: string, pk: PolicyKey): boolean {
  const d = Buffer.from(pk.fingerprint, 'hex');
  return (
    hint === pk.fingerprint ||
    hint === d.toString('base64') ||
    // Stryker disable next-line Regex: a SHA-256 digest in base64 has exactly one '=', at its end
    hint === `SHA256:${d.toString('base64').replace(/=+$/, '')}` ||
    hint === `sha256:${pk.fingerprint}`
  );
}

export function selectKey(
  keys: PublicKeyInput[],
  hint: string | undefined,
  b: Bundle,
  verifySig: (k: KeyObject) => boolean,
): Signer {
  const pks = keys.map(policyKey);
  // DSSE: the bundle's key hint and the envelope's keyid must agree when both are set (sigstore_bundle.proto).
  if (b.content.kind === 'dsse' && hint) {
    const keyid = b.content.signatures[0]!.keyid;
    if (keyid && keyid !== hint) throw new VouchError('DSSE_INVALID', 'the envelope keyid differs from the key hint');
  }
  const hinted = hint ? pks.filter((pk) => hintNames(hint, pk)) : [];
  // Stryker disable next-line MethodExpression: trying a hinted key a second time gives the same answer
  for (const pk of [...hinted, ...pks.filter((p) => !hinted.includes(p))]) {
    if (verifySig(pk.key)) return { kind: 'key', key: pk.key, keyDer: pk.spki, fingerprint: pk.fingerprint };
  }
  if (hinted.length > 0) throw new VouchError('SIGNATURE_INVALID', 'the signature does not verify with the hinted key');
  throw new VouchError('KEY_MISMATCH', 'the signature verifies with none of the given keys');
}
