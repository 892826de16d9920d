/**
 * Rekor entries: the logged body must describe exactly this signature (kind-specific checks below), the entry
 * must be proven in the log by a signed entry timestamp (Rekor v1 SET) and/or an inclusion proof to a checkpoint
 * signed by the log (RFC 9162 §2.1.3.2, C2SP signed-note). Which log is trusted comes only from the trust material.
 */
import type { HashAlgorithm } from '../core/digest.ts';
import { decodeBase64 } from '../core/encoding.ts';
import { asArray, asObject, asString, parseStrictJson } from '../core/json.ts';
import { hashLeaf, verifyInclusion as verifyMerkleInclusion } from '../core/merkle.ts';
import { parseCheckpoint, parseSignedNote } from '../core/note.ts';
import { VouchError } from '../errors.ts';
import type { TlogEntry } from './bundle.ts';
import { type LogAuthority, logVerify, type TrustMaterial, validAt } from './trust.ts';

/** What the body of a log entry must bind. */
export interface SignatureBinding {
  content:
    | { kind: 'message'; digest: { algorithm: string; value: Buffer } }
    | {
        kind: 'dsse';
        payloadType: string;
        /** Digest of the payload bytes; of its DSSE pre-authentication encoding. */
        payloadDigest: (algorithm: HashAlgorithm) => Buffer;
        paeDigest: (algorithm: HashAlgorithm) => Buffer;
      };
  signature: Buffer;
  /** DER of the signing certificate, or of the SPKI for key-pair signatures. */
  keyDer: Buffer;
  keyIsCertificate: boolean;
}

export interface TlogResult {
  log: LogAuthority;
  /** Every trusted-root entry for this log ID (validity windows of the same key). */
  logs: LogAuthority[];
  /** Epoch ms of the integrated time, only when a signed entry timestamp vouches for it. */
  integratedTime: number | undefined;
}

const T = 'TLOG_INVALID' as const;

function fail(msg: string): never {
  throw new VouchError(T, msg);
}

/** A Map: a logged algorithm name such as "constructor" must not find Object.prototype's members. */
const HASH_NAMES = new Map<string, HashAlgorithm>([
  ['SHA2_256', 'sha256'],
  ['SHA2_384', 'sha384'],
  ['SHA2_512', 'sha512'],
]);

export function verifyTlogEntry(entry: TlogEntry, binding: SignatureBinding, trust: TrustMaterial): TlogResult {
  // The index never holds an empty list (indexLogs): a listed ID has at least one log.
  const logs = trust.tlogById.get(entry.logId.toString('hex'));
  if (!logs)
    throw new VouchError('TRUST_ROOT_MISMATCH', 'the log entry comes from a log the trusted root does not list');
  const log = logs[0]!;
  checkBody(entry, binding);

  let integratedTime: number | undefined;
  if (entry.inclusionPromise) {
    // SET = signature over the canonical JSON of {body, integratedTime, logID, logIndex} (Rekor v1 API).
    if (!entry.hasIntegratedTime) fail('an inclusion promise without an integrated time');
    const payload = `{"body":"${entry.canonicalizedBody.toString('base64')}","integratedTime":${entry.integratedTime},"logID":"${entry.logId.toString('hex')}","logIndex":${entry.logIndex}}`;
    if (!logVerify(log, Buffer.from(payload), entry.inclusionPromise))
      fail('the signed entry timestamp does not verify');
    integratedTime = Number(entry.integratedTime) * 1000;
    if (!validAt(logs, integratedTime)) fail('the log key was not valid at the integrated time');
  }
  if (entry.inclusionProof) verifyInclusion(entry, log);
  // Stryker disable next-line ConditionalExpression,LogicalOperator,BlockStatement: parseBundle already requires a promise (v0.1) or a proof (v0.2 on); kept for callers that build entries
  if (!entry.inclusionPromise && !entry.inclusionProof) fail('the log entry has neither a promise nor a proof');
  return { log, logs, integratedTime };
}

function verifyInclusion(entry: TlogEntry, log: LogAuthority): void {
  const proof = entry.inclusionProof!;
  const note = parseSignedNote(proof.checkpoint, T);
  const cp = parseCheckpoint(note.text, T);
  const hint = log.logId.subarray(0, 4);
  const text = Buffer.from(note.text, 'utf8');
  // The log's own signature: key hint = first 4 bytes of its log ID, and the key name is the origin itself (Rekor
  // v2, C2SP) or its first word (Rekor v1 origins are "<name> - <tree ID>"). Witness cosignatures are ignored.
  const signed = note.signatures.some(
    (s) =>
      s.keyHint.equals(hint) &&
      (cp.origin === s.name || cp.origin.startsWith(`${s.name} - `)) &&
      logVerify(log, text, s.signature),
  );
  if (!signed) fail('the checkpoint is not signed by the log');
  if (!cp.rootHash.equals(proof.rootHash) || cp.size !== proof.treeSize) {
    fail('the inclusion proof does not match the signed checkpoint');
  }
  // Rekor v2 indices are global; Rekor v1 proofs use the shard-local index, so only v2 can be cross-checked.
  if (!entry.hasIntegratedTime && entry.logIndex !== proof.logIndex) fail('inclusion proof index differs from entry');
  // An index or size beyond 2^53 - 1 becomes a number that is not a safe integer, which verifyInclusion refuses
  // (no log is near that size).
  const index = Number(proof.logIndex);
  const size = Number(proof.treeSize);
  if (!verifyMerkleInclusion(hashLeaf(entry.canonicalizedBody), index, size, proof.hashes, proof.rootHash)) {
    fail('the inclusion proof does not lead to the checkpoint root');
  }
}

// ---- bodies -------------------------------------------------------------------------------------------------

function checkBody(entry: TlogEntry, b: SignatureBinding): void {
  let body: Record<string, unknown>;
  try {
    body = asObject(
      parseStrictJson(entry.canonicalizedBody.toString('utf8'), { code: T, what: 'log entry body' }),
      'body',
      T,
    );
  } catch (e) {
    throw e instanceof VouchError ? e : new VouchError(T, 'unreadable log entry body', { cause: e });
  }
  if (body.kind !== entry.kind || body.apiVersion !== entry.version)
    fail('the log entry kind/version differs from its body');
  const spec = asObject(body.spec, 'body.spec', T);
  const key = `${entry.kind}/${entry.version}`;
  switch (key) {
    case 'hashedrekord/0.0.1':
      hashedRekordV001(spec, b);
      return;
    case 'hashedrekord/0.0.2':
      hashedRekordV002(spec, b);
      return;
    case 'dsse/0.0.1':
      dsseV001(spec, b);
      return;
    case 'dsse/0.0.2':
      dsseV002(spec, b);
      return;
    case 'intoto/0.0.2':
      intotoV002(spec, b);
      return;
    default:
      throw new VouchError('BUNDLE_UNSUPPORTED', `unsupported log entry kind ${key.slice(0, 60)}`);
  }
}

function sameKey(pemB64: unknown, b: SignatureBinding, what: string): void {
  const pem = decodeBase64(pemB64, what, T).toString('utf8');
  const m = /^-----BEGIN (CERTIFICATE|PUBLIC KEY)-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END \1-----\s*$/.exec(pem);
  if (!m) fail(`${what} is not a PEM certificate or public key`);
  if ((m[1] === 'CERTIFICATE') !== b.keyIsCertificate) fail(`${what} is another kind of key than the bundle's`);
  const der = Buffer.from(m[2]!.replace(/[\r\n]/g, ''), 'base64');
  if (!der.equals(b.keyDer)) fail(`${what} is not the bundle's signing key`);
}

function sameVerifier(v: unknown, b: SignatureBinding, what: string): void {
  const o = asObject(v, what, T);
  const cert = o.x509Certificate;
  const pk = o.publicKey;
  if ((cert === undefined) === (pk === undefined)) fail(`${what} must hold one certificate or key`);
  if ((cert !== undefined) !== b.keyIsCertificate) fail(`${what} is another kind of key than the bundle's`);
  const raw = decodeBase64(asObject(cert ?? pk, what, T).rawBytes, `${what}.rawBytes`, T);
  if (!raw.equals(b.keyDer)) fail(`${what} is not the bundle's signing key`);
}

function hashedRekordV001(spec: Record<string, unknown>, b: SignatureBinding): void {
  if (b.content.kind !== 'message') fail('a hashedrekord/0.0.1 entry for a DSSE bundle');
  const hash = asObject(asObject(spec.data, 'data', T).hash, 'data.hash', T);
  if (asString(hash.algorithm, 'hash.algorithm', T) !== b.content.digest.algorithm)
    fail('logged digest algorithm differs');
  if (asString(hash.value, 'hash.value', T) !== b.content.digest.value.toString('hex')) fail('logged digest differs');
  const sig = asObject(spec.signature, 'signature', T);
  if (!decodeBase64(sig.content, 'signature.content', T).equals(b.signature)) fail('logged signature differs');
  sameKey(asObject(sig.publicKey, 'signature.publicKey', T).content, b, 'signature.publicKey');
}

function hashedRekordV002(spec: Record<string, unknown>, b: SignatureBinding): void {
  const h = asObject(spec.hashedRekordV002, 'hashedRekordV002', T);
  const data = asObject(h.data, 'data', T);
  const alg = HASH_NAMES.get(asString(data.algorithm, 'data.algorithm', T));
  const digest = decodeBase64(data.digest, 'data.digest', T);
  if (b.content.kind === 'message') {
    if (alg !== b.content.digest.algorithm || !digest.equals(b.content.digest.value)) fail('logged digest differs');
  } else {
    // DSSE logged as hashedrekord/0.0.2: the digest is over the PAE of the envelope (Rekor v2).
    if (!alg || !digest.equals(b.content.paeDigest(alg))) fail('logged digest is not the PAE');
  }
  const sig = asObject(h.signature, 'signature', T);
  if (!decodeBase64(sig.content, 'signature.content', T).equals(b.signature)) fail('logged signature differs');
  sameVerifier(sig.verifier, b, 'signature.verifier');
}

function payloadHashMatches(ph: unknown, payloadDigest: (a: HashAlgorithm) => Buffer, hex: boolean): boolean {
  const o = asObject(ph, 'payloadHash', T);
  const alg = hex ? asString(o.algorithm, 'algorithm', T) : HASH_NAMES.get(asString(o.algorithm, 'algorithm', T));
  if (alg !== 'sha256' && alg !== 'sha384' && alg !== 'sha512') return false;
  const want = payloadDigest(alg);
  return hex
    ? asString(o.value, 'value', T) === want.toString('hex')
    : decodeBase64(o.digest, 'digest', T).equals(want);
}

function dsseV001(spec: Record<string, unknown>, b: SignatureBinding): void {
  if (b.content.kind !== 'dsse') fail('a dsse entry for a message signature');
  if (!payloadHashMatches(spec.payloadHash, b.content.payloadDigest, true)) fail('logged payload hash differs');
  const sigs = asArray(spec.signatures, 'signatures', T);
  if (sigs.length !== 1) fail('logged envelope must have exactly one signature');
  const s = asObject(sigs[0], 'signatures[0]', T);
  if (!decodeBase64(s.signature, 'signature', T).equals(b.signature)) fail('logged signature differs');
  sameKey(s.verifier, b, 'signatures[0].verifier');
}

function dsseV002(spec: Record<string, unknown>, b: SignatureBinding): void {
  if (b.content.kind !== 'dsse') fail('a dsse entry for a message signature');
  const d = asObject(spec.dsseV002, 'dsseV002', T);
  if (!payloadHashMatches(d.payloadHash, b.content.payloadDigest, false)) fail('logged payload hash differs');
  const sigs = asArray(d.signatures, 'signatures', T);
  if (sigs.length !== 1) fail('logged envelope must have exactly one signature');
  const s = asObject(sigs[0], 'signatures[0]', T);
  if (!decodeBase64(s.content, 'content', T).equals(b.signature)) fail('logged signature differs');
  sameVerifier(s.verifier, b, 'signatures[0].verifier');
}

function intotoV002(spec: Record<string, unknown>, b: SignatureBinding): void {
  if (b.content.kind !== 'dsse') fail('an intoto entry for a message signature');
  const content = asObject(spec.content, 'content', T);
  if (!payloadHashMatches(content.payloadHash, b.content.payloadDigest, true)) fail('logged payload hash differs');
  const env = asObject(content.envelope, 'envelope', T);
  if (env.payloadType !== undefined && env.payloadType !== b.content.payloadType) fail('logged payload type differs');
  const sigs = asArray(env.signatures, 'signatures', T);
  if (sigs.length !== 1) fail('logged envelope must have exactly one signature');
  const s = asObject(sigs[0], 'signatures[0]', T);
  // intoto/0.0.2 stores the signature base64-encoded twice.
  const inner = decodeBase64(s.sig, 'sig', T).toString('latin1');
  if (!decodeBase64(inner, 'sig', T).equals(b.signature)) fail('logged signature differs');
  sameKey(s.publicKey, b, 'signatures[0].publicKey');
}
