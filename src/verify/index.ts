/** Public surface of the verifier: parse a bundle, load trust, build a policy, verify. */
export { type Bundle, MAX_BUNDLE_BYTES, parseBundle } from './bundle.ts';
export { anchoredRegExp, buildPolicy, type IdentityOptions, type PolicyOptions } from './policy.ts';
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
