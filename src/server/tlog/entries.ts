/**
 * Rekor v1 entry kinds the log admits: hashedrekord 0.0.1, dsse 0.0.1 and intoto 0.0.2 (what the sigstore-js CLI
 * and npm's provenance still send for attestations). Each proposed entry is parsed strictly,
 * its signature is verified BEFORE admission (a log of unverifiable claims would let anyone spam it with entries
 * that later confuse a monitor), and it is reduced to Rekor's canonical body (RFC 8785 JSON), whose bytes are the
 * Merkle leaf. Two submissions of the same signature produce the same body, hence the same leaf and a 409.
 */
import { createHash, createPublicKey, type KeyObject, X509Certificate as NodeX509, verify } from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { preAuthEncoding } from '../../core/dsse.ts';
import { decodeBase64, decodeHex } from '../../core/encoding.ts';
import { asArray, asObject, asString, canonicalJson, parseStrictJson } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import { verifyP256Prehashed } from './ecdsa.ts';

export interface CanonicalEntry {
  kind: 'hashedrekord' | 'dsse' | 'intoto';
  /** Canonical JSON body (the leaf data). */
  body: Buffer;
}

const R = 'REQUEST_INVALID' as const;
const MAX_PEM = 16 * 1024;
/**
 * A proposed hashedrekord is small, but a dsse entry carries the whole envelope so its signature can be checked
 * before admission, and a directory's statement lists every file (~230 bytes each): 64 MiB admits ~200,000
 * entries. Only hashes of it are stored (the canonical body), never the envelope.
 */
export const MAX_ENTRY_BODY = 64 << 20;
const MAX_ENVELOPE = MAX_ENTRY_BODY;

function bad(message: string): VouchError {
  return new VouchError(R, message);
}

/** Parse a verifier given as base64(PEM) of a public key or certificate into a key. */
export function parseVerifier(b64: unknown, what: string): { pem: string; key: KeyObject } {
  const raw = decodeBase64(b64, what, R);
  if (raw.length > MAX_PEM) throw bad(`${what} is too large`);
  const pem = raw.toString('utf8');
  try {
    if (pem.includes('-----BEGIN CERTIFICATE-----')) return { pem, key: new NodeX509(pem).publicKey };
    if (pem.includes('-----BEGIN PUBLIC KEY-----')) return { pem, key: createPublicKey({ key: pem, format: 'pem' }) };
  } catch (e) {
    throw new VouchError(R, `${what} is not a valid PEM key or certificate`, { cause: e });
  }
  throw bad(`${what} must be a PEM public key or certificate`);
}

const CURVES = { 'P-256': [p256, 'sha256'], 'P-384': [p384, 'sha384'], 'P-521': [p521, 'sha512'] } as const;

/** DER prefix of a P-256 SubjectPublicKeyInfo (RFC 5480): the 65-byte uncompressed point follows it. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

/**
 * The uncompressed point of a P-256 public key PEM, read straight from the DER: building a KeyObject costs more
 * than the signature check on this path. Anything else (other curves, certificates) returns undefined.
 */
function p256PointOfPublicKeyPem(pem: string): Buffer | undefined {
  const m = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\s*$/.exec(pem);
  if (!m) return undefined;
  const b64 = m[1]!.replace(/\s+/g, '');
  const der = Buffer.from(b64, 'base64');
  // Canonical base64 only: what we accept here must be what any PEM parser reads.
  if (der.toString('base64') !== b64) return undefined;
  if (der.length !== 91 || !der.subarray(0, 26).equals(P256_SPKI_PREFIX) || der[26] !== 4) return undefined;
  return der.subarray(26);
}

/** Verify an ECDSA signature over a precomputed digest (hashedrekord signs the artifact digest, not the bytes). */
function verifyPrehashed(keyB64: string, digest: Buffer, sig: Buffer): boolean {
  const raw = decodeBase64(keyB64, 'spec.signature.publicKey.content', R);
  if (raw.length > MAX_PEM) throw bad('spec.signature.publicKey.content is too large');
  const fast = p256PointOfPublicKeyPem(raw.toString('utf8'));
  if (fast) return verifyP256Prehashed(fast, digest, sig); // validates the point itself
  const { key } = parseVerifier(keyB64, 'spec.signature.publicKey.content');
  if (key.asymmetricKeyType !== 'ec') throw bad('hashedrekord supports ECDSA keys only');
  const jwk = key.export({ format: 'jwk' });
  const curve = CURVES[jwk.crv as keyof typeof CURVES];
  if (!curve || !jwk.x || !jwk.y) throw bad('unsupported elliptic curve');
  const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  if (jwk.crv === 'P-256') return verifyP256Prehashed(point, digest, sig);
  try {
    return curve[0].verify(sig, digest, point, { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false;
  }
}

/** Verify a signature over a full message with the hash conventional for the key (DSSE signs PAE bytes). */
function verifyMessage(key: KeyObject, message: Buffer, sig: Buffer): boolean {
  let alg: string | null;
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const crv = key.export({ format: 'jwk' }).crv as keyof typeof CURVES;
      alg = CURVES[crv]?.[1] ?? null;
      if (alg === null) return false;
      break;
    }
    case 'ed25519':
      alg = null;
      break;
    case 'rsa':
      alg = 'sha256';
      break;
    default:
      return false;
  }
  try {
    return verify(alg, message, key, sig);
  } catch {
    return false;
  }
}

const DIGEST_HEX = { sha256: 64, sha384: 96, sha512: 128 } as const;

function hashedRekord(spec: Record<string, unknown>): CanonicalEntry {
  const data = asObject(spec.data, 'spec.data', R);
  const hash = asObject(data.hash, 'spec.data.hash', R);
  const algorithm = asString(hash.algorithm, 'spec.data.hash.algorithm', R);
  const len = DIGEST_HEX[algorithm as keyof typeof DIGEST_HEX];
  if (len === undefined) throw bad('spec.data.hash.algorithm must be sha256, sha384 or sha512');
  const value = asString(hash.value, 'spec.data.hash.value', R);
  if (value.length !== len) throw bad('spec.data.hash.value has the wrong length');
  const digest = decodeHex(value, 'spec.data.hash.value', R);
  const signature = asObject(spec.signature, 'spec.signature', R);
  const content = asString(signature.content, 'spec.signature.content', R);
  const sig = decodeBase64(content, 'spec.signature.content', R);
  if (sig.length === 0 || sig.length > 1024) throw bad('spec.signature.content has an invalid length');
  const publicKey = asObject(signature.publicKey, 'spec.signature.publicKey', R);
  const keyB64 = asString(publicKey.content, 'spec.signature.publicKey.content', R);
  if (!verifyPrehashed(keyB64, digest, sig)) {
    throw new VouchError('SIGNATURE_INVALID', 'the signature does not verify over the digest with the given key');
  }
  const body = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm, value } },
      signature: { content, publicKey: { content: keyB64 } },
    },
  };
  return { kind: 'hashedrekord', body: Buffer.from(canonicalJson(body)) };
}

function envelopeForHash(env: Record<string, unknown>): unknown {
  const sigs = (env.signatures as Record<string, unknown>[]).map((s) =>
    s.keyid === '' || s.keyid === undefined ? { sig: s.sig } : { keyid: s.keyid, sig: s.sig },
  );
  return { payload: env.payload, payloadType: env.payloadType, signatures: sigs };
}

function dsse(spec: Record<string, unknown>): CanonicalEntry {
  const proposed = asObject(spec.proposedContent, 'spec.proposedContent', R);
  const envelopeText = asString(proposed.envelope, 'spec.proposedContent.envelope', R);
  if (envelopeText.length > MAX_ENVELOPE) throw new VouchError('REQUEST_TOO_LARGE', 'DSSE envelope too large');
  const env = asObject(
    parseStrictJson(envelopeText, { code: R, what: 'DSSE envelope', maxDepth: 8 }),
    'DSSE envelope',
    R,
  );
  const payloadType = asString(env.payloadType, 'envelope.payloadType', R);
  const payload = decodeBase64(env.payload, 'envelope.payload', R);
  const sigs = asArray(env.signatures, 'envelope.signatures', R);
  if (sigs.length === 0 || sigs.length > 8) throw bad('envelope must carry 1 to 8 signatures');
  const verifiers = asArray(proposed.verifiers, 'spec.proposedContent.verifiers', R);
  if (verifiers.length === 0 || verifiers.length > 8) throw bad('1 to 8 verifiers are required');
  const keys = verifiers.map((v, i) => ({ b64: v as string, ...parseVerifier(v, `verifiers[${i}]`) }));
  const message = preAuthEncoding(payloadType, payload);
  const signatures = sigs.map((s, i) => {
    const o = asObject(s, `envelope.signatures[${i}]`, R);
    const sigB64 = asString(o.sig, `envelope.signatures[${i}].sig`, R);
    const sig = decodeBase64(sigB64, `envelope.signatures[${i}].sig`, R);
    // Every signature must verify with one of the submitted verifiers; an unverified signature is never logged.
    const k = keys.find((key) => verifyMessage(key.key, message, sig));
    if (!k) throw new VouchError('SIGNATURE_INVALID', `envelope signature ${i} does not verify with any verifier`);
    return { signature: sigB64, verifier: k.b64 };
  });
  signatures.sort((a, b) => (a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0));
  const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const body = {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      // As Rekor computes it (checked against a production entry in the tests): SHA-256 of the envelope's
      // canonical JSON, with an empty keyid left out. Verifiers compare the payload hash and signatures.
      envelopeHash: { algorithm: 'sha256', value: sha256(canonicalJson(envelopeForHash(env))) },
      payloadHash: { algorithm: 'sha256', value: sha256(payload) },
      signatures,
    },
  };
  return { kind: 'dsse', body: Buffer.from(canonicalJson(body)) };
}

/**
 * intoto 0.0.2, as Rekor admits it: the envelope's payload and each signature arrive base64-encoded a second time
 * (the JSON strings of the DSSE envelope, as bytes), each signature with the PEM key or certificate that verifies it
 * (every signature must verify, over the DSSE PAE). The payload hash is computed here, whatever the client said;
 * the envelope hash is the client's (Rekor cannot recompute it: clients hash differently), checked for form only.
 * The stored body drops the payload and keeps type, signatures and both hashes.
 */
function intoto(spec: Record<string, unknown>): CanonicalEntry {
  const content = asObject(spec.content, 'spec.content', R);
  const env = asObject(content.envelope, 'spec.content.envelope', R);
  const payloadType = asString(env.payloadType, 'spec.content.envelope.payloadType', R);
  if (payloadType === '') throw bad('spec.content.envelope.payloadType is empty');
  if (typeof env.payload === 'string' && env.payload.length > MAX_ENVELOPE)
    throw new VouchError('REQUEST_TOO_LARGE', 'envelope payload too large');
  const payloadB64 = decodeBase64(env.payload, 'spec.content.envelope.payload', R).toString('latin1');
  const payload = decodeBase64(payloadB64, 'spec.content.envelope.payload (inner)', R);
  if (payload.length === 0) throw bad('spec.content.envelope.payload is empty');
  const sigs = asArray(env.signatures, 'spec.content.envelope.signatures', R);
  if (sigs.length === 0 || sigs.length > 8) throw bad('envelope must carry 1 to 8 signatures');
  const keys = sigs.map((s, i) => {
    const o = asObject(s, `spec.content.envelope.signatures[${i}]`, R);
    return parseVerifier(o.publicKey, `spec.content.envelope.signatures[${i}].publicKey`).key;
  });
  const message = preAuthEncoding(payloadType, payload);
  const signatures = sigs.map((s, i) => {
    const o = s as Record<string, unknown>;
    const what = `spec.content.envelope.signatures[${i}]`;
    const inner = decodeBase64(o.sig, `${what}.sig`, R).toString('latin1');
    const sig = decodeBase64(inner, `${what}.sig (inner)`, R);
    if (!keys.some((k) => verifyMessage(k, message, sig)))
      throw new VouchError('SIGNATURE_INVALID', `envelope signature ${i} does not verify with any of the keys`);
    if (o.keyid !== undefined && typeof o.keyid !== 'string') throw bad(`${what}.keyid must be a string`);
    // Go's omitempty: an empty key id is not stored.
    return {
      ...(o.keyid ? { keyid: o.keyid } : {}),
      sig: o.sig as string,
      publicKey: o.publicKey as string,
    };
  });
  const hash = asObject(content.hash, 'spec.content.hash', R);
  if (hash.algorithm !== 'sha256') throw bad('spec.content.hash.algorithm must be sha256');
  const hashValue = asString(hash.value, 'spec.content.hash.value', R);
  if (!/^[0-9a-f]{64}$/.test(hashValue)) throw bad('spec.content.hash.value must be 64 lowercase hex digits');
  const body = {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: { payloadType, signatures },
        hash: { algorithm: 'sha256', value: hashValue },
        payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') },
      },
    },
  };
  return { kind: 'intoto', body: Buffer.from(canonicalJson(body)) };
}

/** Validate a proposed entry (Rekor `ProposedEntry` JSON) and return its canonical body. */
export function canonicalizeProposedEntry(v: Record<string, unknown>): CanonicalEntry {
  const kind = asString(v.kind, 'kind', R);
  const apiVersion = asString(v.apiVersion, 'apiVersion', R);
  const spec = asObject(v.spec, 'spec', R);
  if (kind === 'hashedrekord' && apiVersion === '0.0.1') return hashedRekord(spec);
  if (kind === 'dsse' && apiVersion === '0.0.1') return dsse(spec);
  if (kind === 'intoto' && apiVersion === '0.0.2') return intoto(spec);
  throw bad(
    `unsupported entry kind ${JSON.stringify(kind).slice(0, 40)} version ${JSON.stringify(apiVersion).slice(0, 20)}`,
  );
}
