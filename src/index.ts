/**
 * vouch's public API. Everything a program needs to sign and verify; the CLI is built on exactly these.
 */

// Container images (docs/formats/oci.md).
export { attachSignature } from './artifact/oci/attach.ts';
export {
  buildImageStatement,
  checkImageStatement,
  checkSimpleSigning,
  type ImageCheckOptions,
} from './artifact/oci/binding.ts';
export { type FoundSignature, findSignatures } from './artifact/oci/discover.ts';
export { type ImageReference, parseReference } from './artifact/oci/reference.ts';
export { RegistryClient, type RegistryOptions } from './artifact/oci/registry.ts';
export { imagesToSign, type ResolvedImage, resolveImage, selectPlatform } from './artifact/oci/resolve.ts';
// PE files and Authenticode (docs/authenticode.md).
export {
  type AuthenticodeReport,
  checkPe,
  handleSource,
  hasMzMagic,
  ImageDigester,
  inspectPeFile,
  PE_ANOMALIES,
  type PeAnomaly,
  type PeCheck,
  type PeInspection,
  type PeSource,
  peFailure,
  refusals,
} from './artifact/pe/index.ts';
export { parseTarget, type Target, type TargetKind } from './artifact/target.ts';
export type { InTotoStatement } from './core/intoto.ts';
export { Pattern, type PatternFlags } from './core/pattern.ts';
// Dependencies (vouch deps): lockfiles, registry signatures, provenance and publisher continuity.
export type { DepsLock, DepsLockEntry } from './deps/lock.ts';
export type { DepsPolicy } from './deps/policy.ts';
export type {
  DepsReport,
  DepsSummary,
  PackageEvidence,
  Problem as DependencyProblem,
  PublisherIdentity,
  TrustLevel,
} from './deps/types.ts';
export {
  type DepsOptions,
  type LockOptions,
  type LockResult,
  lockDependencies,
  verifyDependencies,
} from './deps/verify.ts';
export { ERROR_CODES, type ErrorCode, EXIT, isVouchError, VouchError } from './errors.ts';
export type { KeylessOptions, ProofChoice } from './instance/session.ts';
export {
  type EvaluationContext,
  evaluatePolicy,
  type PolicyEvaluation,
  type RuleReport,
  type SignatureOutcome,
  type SignatureReport,
} from './policy/evaluate.ts';
export { type PolicyDocument, policyFromSignatures } from './policy/init.ts';
export { parsePolicy, policySection } from './policy/load.ts';
export { toSarif } from './policy/sarif.ts';
export type { CompiledPolicy } from './policy/types.ts';
export { type SigningContext, signDigest, signStatement, type Witness } from './sign/bundle.ts';
export { fingerprint, generateKeyPair, type KeyType } from './sign/keys.ts';
export { KeyPairSigner, type Signature, type Signer, type SignPayload } from './sign/signer.ts';
export { buildPolicy, type PolicyOptions } from './verify/policy.ts';
export { loadTrustedRoot, type TrustMaterial } from './verify/trust.ts';
export type { ArtifactInput, Policy, PublicKeyInput, VerificationResult } from './verify/types.ts';
export {
  type KeylessSummary,
  type Proof,
  type SignerSummary,
  type SignOptions,
  type SignResult,
  signTarget as sign,
} from './workflow/sign.ts';
export { type ImageSignOptions, type SignedImage, signImage } from './workflow/sign-image.ts';
export {
  loadDefaultTrust,
  loadTrust,
  type VerifyOptions,
  type VerifyOutcome,
  verifyTarget as verify,
} from './workflow/verify.ts';
export {
  type BundleVerifier,
  type ImageVerification,
  type ImageVerifyOptions,
  type ImageVerifyResult,
  type RejectedSignature,
  verifyImage,
  verifyImageSignatures,
  verifyImageTarget,
} from './workflow/verify-image.ts';
export {
  type NamedTrust,
  type PolicyVerifyFailure,
  type PolicyVerifyOptions,
  type PolicyVerifyOutcome,
  verifyWithPolicy,
} from './workflow/verify-policy.ts';
