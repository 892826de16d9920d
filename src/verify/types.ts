/**
 * The verifier's contract: inputs (artifact, bundle, policy, trust) and the result value. `verify` is pure given
 * these: it does no I/O, so trust material and artifact digests are prepared before it runs (CONVENTIONS: load
 * trust first, then verify purely).
 */
import type { HashAlgorithm } from '../core/digest.ts';
import type { Pattern } from '../core/pattern.ts';

/**
 * What the bundle is checked against. For a message signature the digest (and the bytes when small, so the
 * signature can be verified natively over the message). For a DSSE bundle the verifier checks that the statement's
 * subjects include this digest, unless `kind: 'statement'`, where the caller (directory, image) inspects the
 * verified statement itself and decides what it must contain.
 */
export type ArtifactInput =
  | { kind: 'digest'; algorithm: HashAlgorithm; digest: Buffer; bytes?: Buffer }
  | { kind: 'statement' };

/**
 * Exact identity or regular expression matched against the whole value, as in cosign's
 * --certificate-identity[-regexp]: RE2 syntax (a Pattern from buildPolicy, or a RegExp whose source is compiled as
 * RE2 with its `i` and `s` flags).
 */
export type Matcher = { exact: string } | { regexp: Pattern | RegExp };

export interface IdentityPolicy {
  subject: Matcher;
  issuer: Matcher;
}

/**
 * Verification policy, checked when built (see policy.ts). Either `keys` (key-pair signatures) or `identities`
 * (keyless; any one of them may match) must be given; never neither.
 */
export interface Policy {
  keys?: PublicKeyInput[];
  identities?: IdentityPolicy[];
  /** Minimum number of verified transparency log entries (default: 1 for keyless, 0 for keys). */
  tlogThreshold?: number;
  /** Minimum number of verified RFC 3161 timestamps (default 0; Rekor v2 entries need 1). */
  timestampThreshold?: number;
}

export interface PublicKeyInput {
  /** The public key: SPKI PEM (a string, or the bytes of a .pub file) or SPKI DER bytes. */
  spki: Buffer | string;
}

export interface VerifiedTlogEntry {
  /** Decimal log index as recorded in the bundle. */
  logIndex: string;
  /** Log ID (SHA-256 of the log key, or the C2SP key ID for Rekor v2), lowercase hex. */
  logId: string;
  /** ISO 8601 UTC; only when a verified signed entry timestamp vouches for it (Rekor v1). */
  integratedTime?: string;
  /** "kind/version" of the entry body, e.g. "hashedrekord/0.0.1". */
  kind: string;
}

/** A verified signing time: from a log's signed entry timestamp or an RFC 3161 token (ISO 8601 UTC). */
export interface VerifiedTimestamp {
  source: 'tlog' | 'tsa';
  time: string;
}

/** What a successful verification proves. Printed as is by `vouch verify --json`. */
export interface VerificationResult {
  verified: true;
  mediaType: string;
  artifact?: { digest: string };
  signer:
    | { type: 'key'; fingerprint: string }
    | {
        type: 'certificate';
        identity: string;
        issuer: string;
        /** The Fulcio extensions of the certificate (workflow, repository, ref...), by name. */
        extensions: Record<string, string>;
        localDevelopmentIdentity?: boolean;
      };
  tlogEntries: VerifiedTlogEntry[];
  timestamps: VerifiedTimestamp[];
  /** For DSSE bundles: the verified payload type and statement. */
  statement?: { payloadType: string; payload: unknown };
}
