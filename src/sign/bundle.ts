/**
 * Bundle building: a signer signs, then every witness (transparency log, timestamp authority) testifies to the
 * signature in parallel, and the result is one Sigstore bundle v0.3 (CONVENTIONS: small roles composed by a builder).
 * The protobuf shapes and JSON serialization are the official @sigstore/bundle ones.
 */
import { createHash } from 'node:crypto';
import {
  type Bundle,
  bundleToJSON,
  type RFC3161SignedTimestamp,
  type SerializedBundle,
  type TransparencyLogEntry,
  toDSSEBundle,
  toMessageSignatureBundle,
} from '@sigstore/bundle';
import { preAuthEncoding } from '../core/dsse.ts';
import {
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_V1,
  type InTotoStatement,
  VOUCH_FILE_PREDICATE,
} from '../core/intoto.ts';
import { VouchError } from '../errors.ts';
import type { Signature, Signer } from './signer.ts';

export type { SerializedBundle } from '@sigstore/bundle';

/** What a witness testifies to: the bundle's content (its message signature or DSSE envelope). */
export type SignatureBundle = Bundle['content'];

/** What a witness adds to the bundle's verification material. */
export interface VerificationMaterial {
  tlogEntries?: TransparencyLogEntry[];
  rfc3161Timestamps?: RFC3161SignedTimestamp[];
}

/**
 * The witness role (a transparency log, a timestamp authority): testifies to a signature made by `publicKey` (PEM
 * key or certificate). The same shape as @sigstore/sign's `Witness`, so witnesses of either library fit both.
 */
export interface Witness {
  testify(signature: SignatureBundle, publicKey: string): Promise<VerificationMaterial>;
}

export interface SigningContext {
  signer: Signer;
  witnesses: Witness[];
}

/**
 * Sign a SHA-256 digest as a message signature (ECDSA signers only: they sign the digest directly). With the
 * message's `bytes` at hand (a small file), they are signed instead: the same signature, made by OpenSSL.
 */
export async function signDigest(ctx: SigningContext, digest: Buffer, bytes?: Buffer): Promise<SerializedBundle> {
  if (digest.length !== 32) throw new VouchError('INTERNAL', 'message signatures are made over SHA-256 digests');
  if (bytes && !createHash('sha256').update(bytes).digest().equals(digest)) {
    throw new VouchError('INTERNAL', 'the bytes to sign do not match their digest');
  }
  const signature = await ctx.signer.sign(bytes ? { message: bytes } : { digest });
  const bundle = toMessageSignatureBundle({ digest, signature: signature.signature, ...keyOptions(signature) });
  return witness(ctx, bundle, signature);
}

/** Sign an in-toto statement in a DSSE envelope. */
export async function signStatement(ctx: SigningContext, statement: InTotoStatement): Promise<SerializedBundle> {
  const payload = Buffer.from(JSON.stringify(statement), 'utf8');
  const signature = await ctx.signer.sign({ message: preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload) });
  const bundle = toDSSEBundle({
    artifact: payload,
    artifactType: IN_TOTO_PAYLOAD_TYPE,
    signature: signature.signature,
    ...keyOptions(signature),
  });
  return witness(ctx, bundle, signature);
}

/** A statement whose one subject is a file's digest: how Ed25519 keys (which cannot sign a digest) sign files. */
export function fileStatement(name: string, sha256: Buffer): InTotoStatement {
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name, digest: { sha256: sha256.toString('hex') } }],
    predicateType: VOUCH_FILE_PREDICATE,
    predicate: {},
  };
}

/** The key material of a bundle made by `signature`'s signer. */
export function keyOptions(signature: Signature): { certificate?: Buffer; keyHint?: string; certificateChain: false } {
  switch (signature.key.$case) {
    case 'publicKey':
      return { keyHint: signature.key.hint ?? '', certificateChain: false };
    case 'x509Certificate':
      return { certificate: pemToDer(signature.key.certificate), certificateChain: false };
  }
}

function pemToDer(pem: string): Buffer {
  const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64');
}

async function witness(ctx: SigningContext, bundle: Bundle, signature: Signature): Promise<SerializedBundle> {
  const key = signature.key.$case === 'publicKey' ? signature.key.publicKey : signature.key.certificate;
  const materials = await Promise.all(ctx.witnesses.map((w) => w.testify(bundle.content, key)));
  for (const m of materials) {
    bundle.verificationMaterial.tlogEntries.push(...(m.tlogEntries ?? []));
    bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps.push(...(m.rfc3161Timestamps ?? []));
  }
  const json = bundleToJSON(bundle);
  explicitZeroIndexes(json);
  return json;
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/**
 * Protobuf JSON omits zero-valued fields, so @sigstore/bundle writes the first entry of a log (index 0) with no
 * `logIndex` at all; verifiers that require the member (as the bundle spec marks it REQUIRED) then reject the very
 * first signature of a fresh embedded instance. Write the zero explicitly, which every reader accepts.
 */
export function explicitZeroIndexes(bundle: SerializedBundle): void {
  for (const entry of bundle.verificationMaterial.tlogEntries ?? []) {
    const e = entry as { logIndex?: string; inclusionProof?: { logIndex?: string } };
    e.logIndex ??= '0';
    if (e.inclusionProof) e.inclusionProof.logIndex ??= '0';
  }
}
