/**
 * Strict parser of Sigstore bundle JSON (protobuf-specs sigstore_bundle.proto, versions 0.1 to 0.3) into a typed
 * form with every byte field decoded once. It checks shape only (oneofs, required fields, per-version rules,
 * canonical encodings); nothing here is trusted until verifier.ts has checked it against the trust material.
 */
import type { HashAlgorithm } from '../core/digest.ts';
import { decodeBase64 } from '../core/encoding.ts';
import { asArray, asInt, asObject, asString, parseStrictJson } from '../core/json.ts';
import { isSelfSigned, parseCertificate } from '../core/x509.ts';
import { VouchError } from '../errors.ts';

/** Bundles above this size are refused before parsing (a real bundle is a few KiB; certificate chains < 64 KiB). */
export const MAX_BUNDLE_BYTES = 32 << 20;

export type BundleVersion = '0.1' | '0.2' | '0.3';

// Maps, not object literals: a lookup by an attacker's string must not reach Object.prototype ("constructor",
// "__proto__" would otherwise name a "version").
const MEDIA_TYPES = new Map<string, BundleVersion>([
  ['application/vnd.dev.sigstore.bundle+json;version=0.1', '0.1'],
  ['application/vnd.dev.sigstore.bundle+json;version=0.2', '0.2'],
  ['application/vnd.dev.sigstore.bundle+json;version=0.3', '0.3'],
  ['application/vnd.dev.sigstore.bundle.v0.3+json', '0.3'],
]);

export type VerificationMaterial =
  | { kind: 'publicKey'; hint?: string }
  /** Certificates as given, leaf first; `fromChain` tells the x509CertificateChain form from the single one. */
  | { kind: 'certificate'; certificates: Buffer[]; fromChain: boolean };

export interface InclusionProof {
  logIndex: bigint;
  rootHash: Buffer;
  treeSize: bigint;
  hashes: Buffer[];
  checkpoint: string;
}

export interface TlogEntry {
  logIndex: bigint;
  logId: Buffer;
  kind: string;
  version: string;
  /** 0 when absent (Rekor v2 has no integrated time). */
  integratedTime: bigint;
  hasIntegratedTime: boolean;
  inclusionPromise?: Buffer;
  inclusionProof?: InclusionProof;
  canonicalizedBody: Buffer;
}

export interface MessageSignatureContent {
  kind: 'message';
  digest?: { algorithm: HashAlgorithm; value: Buffer };
  signature: Buffer;
}

export interface DsseContent {
  kind: 'dsse';
  payloadType: string;
  payload: Buffer;
  signatures: { sig: Buffer; keyid: string }[];
}

export interface Bundle {
  mediaType: string;
  version: BundleVersion;
  material: VerificationMaterial;
  tlogEntries: TlogEntry[];
  rfc3161Timestamps: Buffer[];
  content: MessageSignatureContent | DsseContent;
}

const HASH_ALGORITHMS = new Map<string, HashAlgorithm>([
  ['SHA2_256', 'sha256'],
  ['SHA2_384', 'sha384'],
  ['SHA2_512', 'sha512'],
]);
const HASH_LENGTHS: Record<HashAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64 };

/** protobuf JSON: a field set to null is the same as an absent field. */
function get(o: Record<string, unknown>, k: string): unknown {
  const v = o[k];
  return v === null ? undefined : v;
}

function b64(v: unknown, what: string): Buffer {
  return decodeBase64(v, what, 'BUNDLE_MALFORMED');
}

function malformed(msg: string): never {
  throw new VouchError('BUNDLE_MALFORMED', msg);
}

/** Parse bundle JSON text. Raises BUNDLE_TOO_LARGE, BUNDLE_MALFORMED or BUNDLE_UNSUPPORTED. */
export function parseBundle(text: string | Buffer, options: { maxBytes?: number } = {}): Bundle {
  const maxBytes = options.maxBytes ?? MAX_BUNDLE_BYTES;
  if (text.length > maxBytes) {
    throw new VouchError('BUNDLE_TOO_LARGE', `bundle is larger than ${maxBytes} bytes`);
  }
  // A Buffer's toString() decodes UTF-8; a string's is the string itself.
  const json = text.toString();
  const root = asObject(parseStrictJson(json, { maxBytes, what: 'bundle' }), 'bundle');
  return bundleFromJson(root);
}

/**
 * A protobuf int64 field in its JSON form: proto3 JSON omits fields equal to their default, so an absent index is
 * 0 (the official clients write the first entry of a log, index 0, without `logIndex`). Index values are all bound
 * by signatures (SET, checkpoint with inclusion proof), so reading absent as 0 admits nothing unverified.
 */
function int64(v: unknown, what: string): bigint {
  return v === undefined ? 0n : asInt(v, what);
}

/**
 * A bundle already parsed as JSON (strictly, by its container): `vouch deps` reads the bundles embedded in a
 * registry's attestations document (src/deps/npm/provenance.ts) without serializing them again.
 */
export function bundleFromJson(root: Record<string, unknown>): Bundle {
  const mediaType = asString(get(root, 'mediaType'), 'mediaType');
  const version = MEDIA_TYPES.get(mediaType);
  // Stryker disable next-line MethodExpression: the length of the message only
  if (!version) throw new VouchError('BUNDLE_UNSUPPORTED', `unsupported bundle media type ${mediaType.slice(0, 100)}`);
  const vm = asObject(get(root, 'verificationMaterial'), 'verificationMaterial');

  // verificationMaterial.content oneof
  const pk = get(vm, 'publicKey');
  const chain = get(vm, 'x509CertificateChain');
  const single = get(vm, 'certificate');
  const forms = [pk, chain, single].filter((x) => x !== undefined).length;
  if (forms !== 1)
    malformed('verificationMaterial must carry exactly one of publicKey, x509CertificateChain, certificate');
  let material: VerificationMaterial;
  if (pk !== undefined) {
    const hint = get(asObject(pk, 'publicKey'), 'hint');
    material =
      hint === undefined ? { kind: 'publicKey' } : { kind: 'publicKey', hint: asString(hint, 'publicKey.hint') };
  } else if (chain !== undefined) {
    // v0.3 requires the single-certificate form (sigstore_bundle.proto, VerificationMaterial.content).
    if (version === '0.3') malformed('a v0.3 bundle must use verificationMaterial.certificate, not a chain');
    const certs = asArray(get(asObject(chain, 'x509CertificateChain'), 'certificates'), 'certificates');
    if (certs.length === 0) malformed('x509CertificateChain is empty');
    if (certs.length > 10) malformed('x509CertificateChain is too long');
    const certificates = certs.map((c, i) => b64(get(asObject(c, 'certificate'), 'rawBytes'), `certificates[${i}]`));
    // "Signers MUST NOT include root CA certificates in bundles" (sigstore_bundle.proto). Intermediates beyond the
    // leaf are ignored (the path is built from the trusted root only), but a root in the chain marks a producer
    // we refuse, as the conformance suite does (bundle-with-root-cert_fail). Checked before the log entries so
    // this rule, not a later one, names the problem.
    for (let i = 1; i < certificates.length; i++) {
      if (isSelfSigned(parseCertificate(certificates[i]!, 'BUNDLE_MALFORMED'))) {
        throw new VouchError('CHAIN_INVALID', "the bundle's certificate chain contains a root certificate");
      }
    }
    material = { kind: 'certificate', certificates, fromChain: true };
  } else {
    material = {
      kind: 'certificate',
      certificates: [b64(get(asObject(single, 'certificate'), 'rawBytes'), 'certificate.rawBytes')],
      fromChain: false,
    };
  }

  const tlogJson = get(vm, 'tlogEntries');
  const tlogEntries = (tlogJson === undefined ? [] : asArray(tlogJson, 'tlogEntries')).map((e, i) =>
    parseTlogEntry(asObject(e, `tlogEntries[${i}]`), version, i),
  );
  if (tlogEntries.length > 32) malformed('too many tlog entries');

  const rfc3161Timestamps: Buffer[] = [];
  const tvd = get(vm, 'timestampVerificationData');
  if (tvd !== undefined) {
    const list = get(asObject(tvd, 'timestampVerificationData'), 'rfc3161Timestamps');
    if (list !== undefined) {
      const arr = asArray(list, 'rfc3161Timestamps');
      if (arr.length > 32) malformed('too many timestamps');
      arr.forEach((t, i) => {
        rfc3161Timestamps.push(b64(get(asObject(t, 'timestamp'), 'signedTimestamp'), `rfc3161Timestamps[${i}]`));
      });
    }
  }

  // content oneof
  const ms = get(root, 'messageSignature');
  const de = get(root, 'dsseEnvelope');
  if ((ms === undefined) === (de === undefined))
    malformed('bundle must carry exactly one of messageSignature, dsseEnvelope');
  let content: Bundle['content'];
  if (ms !== undefined) {
    const m = asObject(ms, 'messageSignature');
    const md = get(m, 'messageDigest');
    let digest: MessageSignatureContent['digest'];
    if (md !== undefined) {
      const mdo = asObject(md, 'messageDigest');
      const algorithm = HASH_ALGORITHMS.get(asString(get(mdo, 'algorithm'), 'messageDigest.algorithm'));
      if (!algorithm) throw new VouchError('BUNDLE_UNSUPPORTED', 'unsupported messageDigest algorithm');
      const value = b64(get(mdo, 'digest'), 'messageDigest.digest');
      if (value.length !== HASH_LENGTHS[algorithm]) malformed('messageDigest has the wrong length');
      digest = { algorithm, value };
    }
    const signature = b64(get(m, 'signature'), 'messageSignature.signature');
    if (signature.length === 0) malformed('empty signature');
    content = digest ? { kind: 'message', digest, signature } : { kind: 'message', signature };
  } else {
    const d = asObject(de, 'dsseEnvelope');
    const payloadType = asString(get(d, 'payloadType'), 'dsseEnvelope.payloadType');
    const payload = b64(get(d, 'payload'), 'dsseEnvelope.payload');
    const sigs = asArray(get(d, 'signatures'), 'dsseEnvelope.signatures').map((s, i) => {
      const so = asObject(s, `signatures[${i}]`);
      const keyid = get(so, 'keyid');
      return {
        sig: b64(get(so, 'sig'), `signatures[${i}].sig`),
        keyid: keyid === undefined ? '' : asString(keyid, 'keyid'),
      };
    });
    content = { kind: 'dsse', payloadType, payload, signatures: sigs };
  }
  return { mediaType, version, material, tlogEntries, rfc3161Timestamps, content };
}

function parseTlogEntry(e: Record<string, unknown>, version: BundleVersion, i: number): TlogEntry {
  const w = `tlogEntries[${i}]`;
  const kv = asObject(get(e, 'kindVersion'), `${w}.kindVersion`);
  const it = get(e, 'integratedTime');
  const entry: TlogEntry = {
    logIndex: int64(get(e, 'logIndex'), `${w}.logIndex`),
    logId: b64(get(asObject(get(e, 'logId'), `${w}.logId`), 'keyId'), `${w}.logId.keyId`),
    kind: asString(get(kv, 'kind'), `${w}.kind`),
    version: asString(get(kv, 'version'), `${w}.version`),
    integratedTime: it === undefined ? 0n : asInt(it, `${w}.integratedTime`),
    hasIntegratedTime: it !== undefined && asInt(it, `${w}.integratedTime`) !== 0n,
    canonicalizedBody: b64(get(e, 'canonicalizedBody'), `${w}.canonicalizedBody`),
  };
  if (entry.logIndex < 0n || entry.integratedTime < 0n) malformed(`${w} has a negative index or time`);
  const promise = get(e, 'inclusionPromise');
  if (promise !== undefined) {
    entry.inclusionPromise = b64(
      get(asObject(promise, `${w}.inclusionPromise`), 'signedEntryTimestamp'),
      `${w}.signedEntryTimestamp`,
    );
  }
  const proof = get(e, 'inclusionProof');
  if (proof !== undefined) {
    const p = asObject(proof, `${w}.inclusionProof`);
    const cp = get(p, 'checkpoint');
    // The checkpoint is REQUIRED in InclusionProof (sigstore_rekor.proto); without it the root hash is unsigned.
    // Stryker disable next-line ConditionalExpression,CallExpression: asObject below refuses the absent checkpoint with the same code; this names the problem
    if (cp === undefined) malformed(`${w}.inclusionProof has no checkpoint`);
    const hashes = asArray(get(p, 'hashes') ?? [], `${w}.hashes`);
    if (hashes.length > 64) malformed(`${w}.inclusionProof is too long`);
    entry.inclusionProof = {
      logIndex: int64(get(p, 'logIndex'), `${w}.inclusionProof.logIndex`),
      rootHash: b64(get(p, 'rootHash'), `${w}.rootHash`),
      treeSize: asInt(get(p, 'treeSize'), `${w}.treeSize`),
      hashes: hashes.map((h, j) => b64(h, `${w}.hashes[${j}]`)),
      checkpoint: asString(get(asObject(cp, `${w}.checkpoint`), 'envelope'), `${w}.checkpoint.envelope`),
    };
  }
  // Per-version rules (sigstore_bundle.proto, VerificationMaterial.tlog_entries): v0.1 entries carry an inclusion
  // promise; from v0.2 on an inclusion proof is required.
  if (version === '0.1' && !entry.inclusionPromise) malformed(`${w}: a v0.1 bundle requires an inclusion promise`);
  if (version !== '0.1' && !entry.inclusionProof) malformed(`${w}: a v${version} bundle requires an inclusion proof`);
  return entry;
}
