/**
 * Public surface of the verifier: load trust once, build a policy, verify bundles purely.
 *
 *   const trust = loadTrustedRoot(text, { localIssuers });           // or an array of roots (trust store)
 *   const policy = buildPolicy({ identities: [{ identity, issuer }] }); // or { keys: [{ spki: pem }] }
 *   const result = verify(bundleText, artifactFromDigest(fileDigest), policy, trust);
 *
 * Choices where Sigstore clients differ (tested in test/verify/realbundles.test.ts):
 * - a bundle certificate chain holding a root (self-signed) certificate is refused (CHAIN_INVALID); other
 *   certificates after the leaf are ignored, the path is built from the trusted root only;
 * - a checkpoint is bound to the log by key (key hint = log ID prefix, signature), and its signer name must be the
 *   checkpoint origin or its first word ("<name> - <tree id>"); the log's URL is not compared;
 * - a trusted root TimeRange without `start` is refused (TRUST_ROOT_INVALID), never read as unbounded;
 * - an inclusion proof without checkpoint is malformed, even in a v0.1 bundle;
 * - every log entry and timestamp present must verify; thresholds count distinct witnesses: one per log and
 *   entry body (the index a bundle gives is not signed without a SET), one per timestamp token;
 * - a certificate with more than one SAN is refused (sigstore-js reads its first URI, else its first e-mail).
 */
import type { HashAlgorithm } from '../core/digest.ts';
import type { ArtifactInput } from './types.ts';

export { type Bundle, MAX_BUNDLE_BYTES, parseBundle } from './bundle.ts';
export { anchoredPattern, buildPolicy, type IdentityOptions, type PolicyOptions } from './policy.ts';
export { type LoadTrustOptions, loadTrustedRoot, spkiFingerprint, type TrustMaterial } from './trust.ts';
export type {
  ArtifactInput,
  IdentityPolicy,
  Matcher,
  Policy,
  PublicKeyInput,
  VerificationResult,
  VerifiedTimestamp,
  VerifiedTlogEntry,
} from './types.ts';
export { verify } from './verifier.ts';

/**
 * The verifier input for a digest (e.g. core/digest.ts hashFile's result). Pass `bytes` when the artifact is
 * small enough to keep: message signatures are then verified natively over the bytes (required for Ed25519).
 */
export function artifactFromDigest(d: { algorithm: HashAlgorithm; value: Buffer; bytes?: Buffer }): ArtifactInput {
  return d.bytes
    ? { kind: 'digest', algorithm: d.algorithm, digest: d.value, bytes: d.bytes }
    : { kind: 'digest', algorithm: d.algorithm, digest: d.value };
}
