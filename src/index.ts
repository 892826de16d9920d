/**
 * vouch's public API. Everything a program needs to sign and verify; the CLI is built on exactly these.
 */

export { parseTarget, type Target, type TargetKind } from './artifact/target.ts';
export { ERROR_CODES, type ErrorCode, EXIT, isVouchError, VouchError } from './errors.ts';
export { type InTotoStatement, type SigningContext, signDigest, signStatement } from './sign/bundle.ts';
export { fingerprint, generateKeyPair, type KeyType } from './sign/keys.ts';
export { KeyPairSigner, type Signer, type SignPayload } from './sign/signer.ts';
export type { ArtifactInput, Policy, VerificationResult } from './verify/types.ts';
export { type SignOptions, type SignResult, signTarget as sign } from './workflow/sign.ts';
