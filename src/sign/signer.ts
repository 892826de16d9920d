/**
 * The signing role: a `Signer` turns a message (or, for ECDSA, its SHA-256 digest) into a signature plus the key
 * material a verifier needs. Keyless signing decorates an ephemeral `KeyPairSigner` with a certificate
 * (src/sign/keyless.ts); nothing else about the bundle changes.
 */
import { createPublicKey, createSign, generateKeyPairSync, type KeyObject, sign as nodeSign } from 'node:crypto';
import { VouchError } from '../errors.ts';
import { fingerprint, type KeyType, keyTypeOf } from './keys.ts';

/** The key material a verifier needs: the signer's certificate, or its public key (PEM) and a hint naming it. */
export type KeyMaterial =
  | { $case: 'x509Certificate'; certificate: string }
  | { $case: 'publicKey'; publicKey: string; hint?: string };

/** A signature and its key material (the same shape as @sigstore/sign's, so its bundle builders take our signers). */
export interface Signature {
  signature: Buffer;
  key: KeyMaterial;
}

/**
 * What to sign. `digest` is the SHA-256 of the message: it lets a 1 GiB file be signed in one streaming pass
 * (ECDSA signs the hash of the message, so signing the digest directly gives the identical signature). `chunks`
 * is the message in pieces, signed as it streams by OpenSSL (a large DSSE payload read back from its file). Ed25519
 * has neither form (RFC 8032 hashes the message twice), so its signers accept only `message`.
 */
export type SignPayload = { message: Buffer } | { digest: Buffer } | { chunks: AsyncIterable<Uint8Array> };

export interface Signer {
  readonly keyType: KeyType;
  sign(payload: SignPayload): Promise<Signature>;
}

export class KeyPairSigner implements Signer {
  readonly keyType: KeyType;
  readonly publicKey: KeyObject;
  readonly publicKeyPem: string;
  readonly fingerprint: string;
  readonly #privateKey: KeyObject;
  #scalar: Uint8Array | undefined;

  constructor(privateKey: KeyObject) {
    this.#privateKey = privateKey;
    this.keyType = keyTypeOf(privateKey);
    this.publicKey = createPublicKey(privateKey);
    this.publicKeyPem = this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    this.fingerprint = fingerprint(this.publicKey);
  }

  /** A fresh in-memory key for one keyless signature; it never touches the disk. */
  static ephemeral(type: KeyType = 'ecdsa-p256'): KeyPairSigner {
    const { privateKey } =
      type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    return new KeyPairSigner(privateKey);
  }

  async sign(payload: SignPayload): Promise<Signature> {
    return {
      signature: await this.#signature(payload),
      key: { $case: 'publicKey', publicKey: this.publicKeyPem, hint: this.fingerprint },
    };
  }

  async #signature(payload: SignPayload): Promise<Buffer> {
    if ('message' in payload) {
      return nodeSign(this.keyType === 'ed25519' ? null : 'sha256', payload.message, this.#privateKey);
    }
    if (this.keyType !== 'ecdsa-p256') {
      throw new VouchError('KEY_INVALID', 'an Ed25519 key cannot sign a pre-hashed digest or a stream');
    }
    if ('chunks' in payload) {
      const signer = createSign('sha256');
      for await (const chunk of payload.chunks) signer.update(chunk);
      return signer.sign(this.#privateKey);
    }
    if (payload.digest.length !== 32) throw new VouchError('INTERNAL', 'a P-256 signature needs a SHA-256 digest');
    // Node signs only messages it hashes itself; a digest alone goes through @noble/curves, loaded only here
    // (~35 ms, and ~60 ms more for its first signature): small files are signed over their bytes instead.
    const { p256 } = await import('@noble/curves/nist.js');
    this.#scalar ??= Buffer.from(this.#privateKey.export({ format: 'jwk' }).d as string, 'base64url');
    return Buffer.from(p256.sign(payload.digest, this.#scalar, { prehash: false, format: 'der' }));
  }
}
