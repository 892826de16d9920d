/**
 * The verifier: bundle + artifact + policy + trust material -> VerificationResult, or a VouchError. Pure and
 * synchronous. It follows the Sigstore client specification ("Verification using a Bundle"): every element the
 * bundle carries is checked, and anything present that does not verify fails the whole verification (no entry
 * is skipped because another one passed). Checks run cheapest-first; a success is returned in one place only,
 * at the very end.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { HashAlgorithm } from '../core/digest.ts';
import { preAuthEncoding } from '../core/dsse.ts';
import { IN_TOTO_PAYLOAD_TYPE, isInTotoStatementType } from '../core/intoto.ts';
import { asArray, asObject, parseStrictJson } from '../core/json.ts';
import { checkCodeSigningLeaf, parseCertificate, publicKeyOf } from '../core/x509.ts';
import { isVouchError, VouchError } from '../errors.ts';
import { type Bundle, parseBundle } from './bundle.ts';
import { checkIdentity, checkScts, findIssuer } from './certificate.ts';
import { untrustedBundleHint } from './origin.ts';
import { checkPolicy } from './policy.ts';
import { type Signer, safeVerify, selectKey, verifyPrehashed } from './signature.ts';
import { type SignatureBinding, verifyTlogEntry } from './tlog.ts';
import { hashFor, type LogAuthority, type TrustMaterial, validAt } from './trust.ts';
import { verifyTimestamp } from './tsa.ts';
import type { ArtifactInput, Policy, VerificationResult, VerifiedTimestamp } from './types.ts';

/**
 * Verify `bundle` (text or parsed) for `artifact` under `policy` with one trusted root or several. With several,
 * the bundle must verify entirely against one of them (CA, logs and TSAs of the same root, never mixed). When all
 * fail, the error raised is that of the root the bundle claims (it lists the bundle's log, or the CA named as its
 * certificate's issuer), so a trust store reports what `--trusted-root` with that root would; among several such
 * roots, or when none is claimed, that of the root that got furthest.
 */
export function verify(
  bundle: Bundle | string | Buffer,
  artifact: ArtifactInput,
  policy: Policy,
  trust: TrustMaterial | readonly TrustMaterial[],
): VerificationResult {
  const b = typeof bundle === 'string' || Buffer.isBuffer(bundle) ? parseBundle(bundle) : bundle;
  checkPolicy(policy);
  const roots: readonly TrustMaterial[] = Array.isArray(trust) ? trust : [trust as TrustMaterial];
  if (roots.length === 0) throw new VouchError('TRUST_ROOT_INVALID', 'no trusted root given');
  let best: { claim: number; stage: number; error: unknown } | undefined;
  for (const root of roots) {
    const ctx = { stage: 0 };
    try {
      return verifyWithRoot(b, artifact, policy, root, ctx);
    } catch (e) {
      if (!isVouchError(e)) {
        // Unexpected exceptions (a bug, or hostile input reaching a library) never mean "verified".
        throw new VouchError('INTERNAL', `verification failed unexpectedly: ${(e as Error)?.message}`, { cause: e });
      }
      const claim = claimOf(b, root);
      if (!best || claim > best.claim || (claim === best.claim && ctx.stage > best.stage)) {
        best = { claim, stage: ctx.stage, error: e };
      }
    }
  }
  // A bundle that names none of the roots was made by an instance the user does not trust yet: say which, and how.
  const e = best!.error as VouchError;
  if ((e.code === 'TRUST_ROOT_MISMATCH' || e.code === 'CHAIN_INVALID') && best!.claim === 0) {
    throw new VouchError(e.code, e.message, { cause: e.cause, details: e.details, hint: untrustedBundleHint(b) });
  }
  throw e;
}

/**
 * How surely the bundle names `root`: 2 when one of its log entries is from a log of that root (a log ID is the
 * hash of the log's key), 1 when its certificate's issuer is the subject of one of that root's CAs (names are
 * not unique: Sigstore's production and staging CAs share theirs), 0 otherwise.
 */
function claimOf(b: Bundle, root: TrustMaterial): number {
  if (b.tlogEntries.some((e) => root.tlogById.has(e.logId.toString('hex')))) return 2;
  // Stryker disable next-line ConditionalExpression: a key-pair bundle has no certificates: reading the first one throws in the try below, which returns 0 too
  if (b.material.kind !== 'certificate') return 0;
  let issuer: Buffer;
  // A leaf that does not parse here failed verifyWithRoot's parse of the same bytes first (or an earlier check),
  // with the same error at the same stage for every root: no claim can choose between them.
  try {
    issuer = parseCertificate(b.material.certificates[0]!).issuer;
  } catch /* Stryker disable next-line BlockStatement: every root failed alike (above) */ {
    return 0;
  }
  return root.certificateAuthorities.some((ca) => ca.certificates[0]!.subject.equals(issuer)) ? 1 : 0;
}

interface Ctx {
  stage: number;
}

function verifyWithRoot(b: Bundle, artifact: ArtifactInput, policy: Policy, trust: TrustMaterial, ctx: Ctx) {
  // 1. The signed content and the artifact binding.
  const sigBytes = signatureBytes(b);
  const check = prepareSignatureCheck(b, artifact);
  ctx.stage = 1;

  // 2. Who signed: a certificate (keyless) or one of the policy's keys.
  let signer: Signer;
  if (b.material.kind === 'certificate') {
    if (policy.keys) throw new VouchError('KEY_MISMATCH', 'the bundle is signed with a certificate, not a key');
    const leaf = parseCertificate(b.material.certificates[0]!);
    checkCodeSigningLeaf(leaf);
    const key = publicKeyOf(leaf);
    if (!check.verify(key)) throw new VouchError('SIGNATURE_INVALID', 'the signature does not verify');
    signer = { kind: 'certificate', key, keyDer: leaf.der, leaf };
  } else {
    if (!policy.keys) {
      throw new VouchError('IDENTITY_MISMATCH', 'the bundle is signed with a key pair, but an identity is required');
    }
    signer = selectKey(policy.keys, b.material.hint, b, check.verify);
  }
  ctx.stage = 2;

  // 3. Transparency log entries: every one must verify.
  const binding: SignatureBinding = {
    content: check.binding,
    signature: sigBytes,
    keyDer: signer.keyDer,
    keyIsCertificate: signer.kind === 'certificate',
  };
  const tlogTimes: number[] = [];
  const proofOnlyLogs: LogAuthority[][] = [];
  const tlogEntries: VerificationResult['tlogEntries'] = [];
  // Witnesses are counted by what they prove: one body in one log. The bundle's log index is not: only a SET
  // signs it, and a Rekor v1 entry proven by inclusion alone (shard-local proof index) leaves it unchecked.
  const witnesses = new Set<string>();
  for (const entry of b.tlogEntries) {
    const r = verifyTlogEntry(entry, binding, trust);
    witnesses.add(
      `${entry.logId.toString('hex')}/${createHash('sha256').update(entry.canonicalizedBody).digest('hex')}`,
    );
    if (r.integratedTime !== undefined) tlogTimes.push(r.integratedTime);
    else proofOnlyLogs.push(r.logs);
    const v: VerificationResult['tlogEntries'][number] = {
      logIndex: entry.logIndex.toString(),
      logId: entry.logId.toString('hex'),
      kind: `${entry.kind}/${entry.version}`,
    };
    if (r.integratedTime !== undefined) v.integratedTime = new Date(r.integratedTime).toISOString();
    tlogEntries.push(v);
  }
  ctx.stage = 3;

  // 4. RFC 3161 timestamps: every one must verify.
  const tokens = b.rfc3161Timestamps.map((t) => verifyTimestamp(t, sigBytes, trust.timestampAuthorities));
  const tsaTimes = tokens.map((t) => t.time);
  ctx.stage = 4;

  // 5. Thresholds and trusted time.
  const keyless = signer.kind === 'certificate';
  const tlogThreshold = policy.tlogThreshold ?? (keyless ? 1 : 0);
  // A repeated entry (same log, same body, whatever index it claims) or a repeated token is one witness, not two.
  if (witnesses.size < tlogThreshold) {
    throw new VouchError('TLOG_MISSING', `${witnesses.size} verified log entries, ${tlogThreshold} required`);
  }
  // A token is known by the TSTInfo its authority signed, not by its bytes: the same token bare, in a
  // TimeStampResp, or with another status text is still one.
  const distinctTokens = new Set(tokens.map((t) => t.tstInfo.toString('base64'))).size;
  if (distinctTokens < (policy.timestampThreshold ?? 0)) {
    throw new VouchError('TIMESTAMP_MISSING', 'fewer verified RFC 3161 timestamps than the policy requires');
  }
  // An entry proven only by inclusion (Rekor v2, or a v0.3 bundle without promise) carries no trusted time;
  // the signing time must then come from a timestamp authority, and the log key must be valid at it.
  if (proofOnlyLogs.length > 0 && tsaTimes.length === 0) {
    throw new VouchError('TIMESTAMP_MISSING', 'the log entry gives no signed time and there is no RFC 3161 timestamp');
  }
  for (const logs of proofOnlyLogs) {
    if (!tsaTimes.every((t) => validAt(logs, t))) {
      throw new VouchError('TLOG_INVALID', 'the log key was not valid at the timestamped time');
    }
  }
  const times = [...tlogTimes, ...tsaTimes];
  // Stryker disable next-line ConditionalExpression,LogicalOperator,CallExpression: each of the three no-time checks stands in for the others (kept against a reordering)
  if (keyless && times.length === 0) throw new VouchError('TIMESTAMP_MISSING', 'no verified signing time');

  // 6. Certificate: valid at every trusted time, issued by a trusted CA valid then, with a verified SCT.
  let signerResult: VerificationResult['signer'];
  if (signer.kind === 'certificate') {
    const leaf = signer.leaf!;
    // Stryker disable next-line ConditionalExpression,CallExpression: each of the three no-time checks stands in for the others (kept against a reordering)
    if (times.length === 0) throw new VouchError('TIMESTAMP_MISSING', 'no verified signing time');
    for (const t of times) {
      if (t < leaf.notBefore || t > leaf.notAfter) {
        throw new VouchError('CERTIFICATE_INVALID', 'the certificate was not valid at the signing time');
      }
    }
    const ca = findIssuer(leaf, trust.certificateAuthorities, times);
    ctx.stage = 5;
    if (trust.ctlogs.length > 0) checkScts(leaf, ca.certificates[0]!, trust);
    ctx.stage = 6;
    signerResult = checkIdentity(leaf, policy, trust, ca);
  } else {
    signerResult = { type: 'key', fingerprint: signer.fingerprint! };
  }

  const timestamps: VerifiedTimestamp[] = [
    ...tlogTimes.map((t): VerifiedTimestamp => ({ source: 'tlog', time: new Date(t).toISOString() })),
    ...tsaTimes.map((t): VerifiedTimestamp => ({ source: 'tsa', time: new Date(t).toISOString() })),
  ];
  const result: VerificationResult = {
    verified: true,
    mediaType: b.mediaType,
    signer: signerResult,
    tlogEntries,
    timestamps,
  };
  if (check.artifactDigest) result.artifact = { digest: check.artifactDigest };
  if (check.statement) result.statement = check.statement;
  return result;
}

function signatureBytes(b: Bundle): Buffer {
  if (b.content.kind === 'message') return b.content.signature;
  // DSSE envelopes in bundles carry exactly one signature (sigstore_bundle.proto, Bundle.content).
  if (b.content.signatures.length !== 1) {
    throw new VouchError('DSSE_INVALID', `the DSSE envelope has ${b.content.signatures.length} signatures, not one`);
  }
  return b.content.signatures[0]!.sig;
}

// ---- the signature over the content ---------------------------------------------------------------------------

interface SignatureCheck {
  verify: (key: KeyObject) => boolean;
  binding: SignatureBinding['content'];
  artifactDigest?: string;
  statement?: { payloadType: string; payload: unknown };
}

function prepareSignatureCheck(b: Bundle, artifact: ArtifactInput): SignatureCheck {
  const c = b.content;
  if (c.kind === 'message') {
    if (artifact.kind !== 'digest') {
      throw new VouchError(
        'BUNDLE_UNSUPPORTED',
        'a message signature needs the artifact or its digest, not a statement',
      );
    }
    const sig = c.signature;
    const algorithm: HashAlgorithm = c.digest?.algorithm ?? artifact.algorithm;
    let digest: Buffer;
    if (artifact.bytes) {
      digest = createHash(algorithm).update(artifact.bytes).digest();
      // The caller's digest must describe the same bytes (guards against a caller mixing up inputs).
      if (artifact.algorithm === algorithm && !digest.equals(artifact.digest)) {
        throw new VouchError('DIGEST_MISMATCH', 'the artifact bytes and digest disagree');
      }
    } else {
      if (artifact.algorithm !== algorithm) {
        throw new VouchError('DIGEST_MISMATCH', `the bundle signs a ${algorithm} digest; got ${artifact.algorithm}`);
      }
      digest = artifact.digest;
    }
    if (c.digest && !c.digest.value.equals(digest)) {
      throw new VouchError('DIGEST_MISMATCH', 'the artifact differs from the signed one');
    }
    const bytes = artifact.bytes;
    return {
      verify: bytes
        ? (key) => safeVerify(key.asymmetricKeyType === 'ed25519' ? null : algorithm, bytes, key, sig)
        : (key) => verifyPrehashed(key, algorithm, digest, sig),
      binding: { kind: 'message', digest: { algorithm, value: digest } },
      artifactDigest: `${algorithm}:${digest.toString('hex')}`,
    };
  }

  // DSSE: the signature is over PAE(payloadType, payload) (DSSE protocol.md).
  const sig = signatureBytes(b);
  const p = c.payload;
  const pae = preAuthEncoding(c.payloadType, p);
  const check: SignatureCheck = {
    verify: (key) => safeVerify(hashFor(key), pae, key, sig),
    binding: {
      kind: 'dsse',
      payloadType: c.payloadType,
      payloadDigest: memoDigest(p),
      paeDigest: memoDigest(pae),
    },
  };
  if (c.payloadType === IN_TOTO_PAYLOAD_TYPE) {
    const statement = asObject(
      parseStrictJson(p.toString('utf8'), { code: 'DSSE_INVALID', what: 'in-toto statement' }),
      'statement',
      'DSSE_INVALID',
    );
    // in-toto Statement layer (in-toto attestation spec): only the two published statement types are accepted.
    if (!isInTotoStatementType(statement._type)) {
      throw new VouchError('DSSE_INVALID', 'the payload is not an in-toto statement');
    }
    check.statement = { payloadType: c.payloadType, payload: statement };
    if (artifact.kind === 'digest') {
      if (artifact.bytes && !createHash(artifact.algorithm).update(artifact.bytes).digest().equals(artifact.digest)) {
        throw new VouchError('DIGEST_MISMATCH', 'the artifact bytes and digest disagree');
      }
      const want = artifact.digest.toString('hex');
      const subjects = asArray(statement.subject, 'statement.subject', 'DSSE_INVALID');
      const found = subjects.some((s) => {
        const d = asObject(s, 'subject', 'DSSE_INVALID').digest;
        return typeof d === 'object' && d !== null && (d as Record<string, unknown>)[artifact.algorithm] === want;
      });
      if (!found) throw new VouchError('DIGEST_MISMATCH', 'the artifact is not a subject of the signed statement');
      check.artifactDigest = `${artifact.algorithm}:${want}`;
    }
  } else {
    if (artifact.kind === 'digest') {
      // Stryker disable next-line MethodExpression: the length of the message only
      throw new VouchError('DSSE_INVALID', `payload type ${c.payloadType.slice(0, 80)} does not name the artifact`);
    }
    check.statement = { payloadType: c.payloadType, payload: p.toString('base64') };
  }
  return check;
}

/** Digests of `data` computed on first use, once per algorithm. */
function memoDigest(data: Buffer): (algorithm: HashAlgorithm) => Buffer {
  const memo = new Map<HashAlgorithm, Buffer>();
  return (algorithm) => {
    let d = memo.get(algorithm);
    // Stryker disable next-line ConditionalExpression: a cache; computing the value again gives the same one
    if (!d) {
      d = createHash(algorithm).update(data).digest();
      // Stryker disable next-line CallExpression: a cache; computing the value again gives the same one
      memo.set(algorithm, d);
    }
    return d;
  };
}
