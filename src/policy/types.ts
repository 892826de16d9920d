/**
 * A verification policy as vouch evaluates it: compiled from a policy document (./load.ts) once, checked to be
 * satisfiable, then evaluated over the signatures of an artifact (./evaluate.ts), purely.
 */
import type { Pattern } from '../core/pattern.ts';
import type { ExtensionName } from '../core/x509.ts';

/** Where something is in the policy text (1-based), for errors and explanations. */
export interface SourceLocation {
  line: number;
  column: number;
}

/**
 * A compiled value matcher. `exact` is the default (a bare string in the document); `regexp` and `glob` are anchored
 * at both ends; `noneOf` requires the value to be present.
 */
export type ValueMatcher =
  | { kind: 'exact'; value: string }
  | { kind: 'regexp'; source: string; re: Pattern }
  | { kind: 'glob'; source: string; re: Pattern }
  | { kind: 'oneOf'; values: string[] }
  | { kind: 'noneOf'; values: string[] };

/** Conditions on a signature: the claims of its certificate and its verified signing time. */
export interface Conditions {
  trigger?: ValueMatcher;
  ref?: ValueMatcher;
  runner?: ValueMatcher;
  /** Epoch ms. */
  signedAfter?: number;
  signedBefore?: number;
  maxAgeDays?: number;
}

interface SignerBase {
  name: string;
  /** Trusted roots (trust store names), one of which the signature must verify against entirely. */
  roots?: string[];
  conditions?: Conditions;
  location?: SourceLocation;
}

export interface KeylessSigner extends SignerBase {
  kind: 'keyless';
  identity: ValueMatcher;
  issuer: ValueMatcher;
  extensions: { name: ExtensionName; matcher: ValueMatcher }[];
}

export interface KeySigner extends SignerBase {
  kind: 'key';
  /** SHA-256 of the SPKI DER, lowercase hex. */
  fingerprint: string;
  /** SPKI PEM when the policy carries the key itself (else the key comes from `--key`). */
  pem?: string;
}

export type PolicySigner = KeylessSigner | KeySigner;

/**
 * A rule: a signer by name, or `threshold` of a list (anyOf is 1, allOf is all). Every combinator counts distinct
 * signers: the children it counts must be met by different signers.
 */
export type Rule =
  | { kind: 'signer'; id: string; signer: string; location?: SourceLocation }
  | {
      kind: 'anyOf' | 'allOf' | 'threshold';
      id: string;
      threshold: number;
      of: Rule[];
      location?: SourceLocation;
    };

export interface Revocation {
  identity?: ValueMatcher;
  issuer?: ValueMatcher;
  fingerprint?: string;
  /** Epoch ms: signatures made at or after it are refused. */
  since: number;
  reason?: string;
  location?: SourceLocation;
}

export type ArtifactKind = 'file' | 'directory' | 'image';

export interface ArtifactRule {
  id: string;
  kind?: ArtifactKind;
  name?: { source: string; re: Pattern };
  require?: Rule;
  paths: { id: string; pattern: string; re: Pattern; require: Rule; location?: SourceLocation }[];
  location?: SourceLocation;
}

export interface CompiledPolicy {
  /** Where the policy came from (a path or URL), for messages. */
  source: string;
  /** `sha256:<hex>` of the policy text as read. */
  digest: string;
  signers: Map<string, PolicySigner>;
  /**
   * Who must have signed. Absent only in a policy that holds nothing but a `dependencies` section (for `vouch deps`),
   * which verifying an artifact refuses (POLICY_INVALID): no rule is never "any signature will do".
   */
  require?: Rule;
  conditions?: Conditions;
  revoked: Revocation[];
  artifacts: ArtifactRule[];
  /** The `dependencies` section as written, for `vouch deps` (validated by its own schema). */
  dependencies?: unknown;
}
