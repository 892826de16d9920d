/**
 * What a bundle says about itself, read without verifying anything: what it signs (a file digest, a statement's
 * subjects and predicate type), who it claims signed it (certificate identity, OIDC issuer and extensions, or a key
 * hint), its log entries and timestamps, and which trusted roots name the authorities it points at. Every value
 * comes from the bundle as it is, so every value may be a lie until `verify` checks it; `verified: false` is part of
 * the result for that reason, and the result carries the verification policy that would check those very claims.
 */
import { MODEL_SIGNING_PREDICATE, VOUCH_DIRECTORY_PREDICATE } from '../artifact/dir/statement.ts';
import { COSIGN_SIGN_PREDICATE } from '../artifact/oci/binding.ts';
import { IN_TOTO_PAYLOAD_TYPE, VOUCH_FILE_PREDICATE } from '../core/intoto.ts';
import { isVouchError } from '../errors.ts';
import type { Bundle } from '../verify/bundle.ts';
import { type ClaimedSigner, describeSigner, instanceOf, leafOf, type NamedTrust } from '../verify/origin.ts';
import type { TrustMaterial } from '../verify/trust.ts';
import { parseTimestamp } from '../verify/tsa.ts';

/** Predicate types with a meaning to vouch (src/artifact/dir/manifest.ts, src/artifact/oci/binding.ts, src/sign/bundle.ts). */
const DIRECTORY_PREDICATES = new Set([VOUCH_DIRECTORY_PREDICATE, MODEL_SIGNING_PREDICATE]);

/**
 * What the bundle is a signature of: `file` (a message signature over a digest, or vouch's file statement),
 * `directory` (a manifest statement), `image` (cosign's image statement), `attestation` (any other in-toto
 * statement: provenance, SBOM...), `payload` (a DSSE envelope that is not a statement).
 */
export type BundleSubjectKind = 'file' | 'directory' | 'image' | 'attestation' | 'payload';

export interface InspectedSubject {
  name: string;
  /** `algorithm:hex` for each digest the subject lists. */
  digests: string[];
}

export type { NamedTrust };

export interface BundleInspection {
  kind: 'bundle';
  /** Always false: nothing of this was checked. */
  verified: false;
  mediaType: string;
  version: string;
  signs: BundleSubjectKind;
  /** Message signatures: the signed digest, `algorithm:hex`, when the bundle records it. */
  digest?: string;
  /** DSSE envelopes. */
  payloadType?: string;
  statementType?: string;
  predicateType?: string;
  subjects?: InspectedSubject[];
  signer: ClaimedSigner;
  tlogEntries: {
    logIndex: string;
    logId: string;
    kind: string;
    /** As the bundle states it (ISO 8601); vouched for only by a signed entry timestamp that verify checks. */
    integratedTime?: string;
    proof: ('signed entry timestamp' | 'inclusion proof')[];
    /** Names of the trusted roots that list this log. */
    trustedBy: string[];
  }[];
  timestamps: { time?: string; trustedBy: string[]; problem?: string }[];
  /** The roots that name at least one authority of the bundle (its log, its CA, its TSA). */
  trustedRoots: string[];
  /**
   * The `vouch serve` instance the bundle seems to come from: the base URL of its development issuer when the
   * certificate names one (`<base>/oidc`), else the CA URI of a trusted root that names its CA.
   */
  instance?: string;
}

export function inspectBundle(b: Bundle, roots: readonly NamedTrust[]): BundleInspection {
  const content = describeContent(b);
  const signer = describeSigner(b);
  const namesOf = (pick: (t: TrustMaterial) => boolean) => roots.filter((r) => pick(r.trust)).map((r) => r.name);

  const tlogEntries = b.tlogEntries.map((e) => {
    const logId = e.logId.toString('hex');
    const entry: BundleInspection['tlogEntries'][number] = {
      logIndex: e.logIndex.toString(),
      logId,
      kind: `${e.kind}/${e.version}`,
      proof: [
        ...(e.inclusionPromise ? (['signed entry timestamp'] as const) : []),
        ...(e.inclusionProof ? (['inclusion proof'] as const) : []),
      ],
      trustedBy: namesOf((t) => t.tlogById.has(logId)),
    };
    if (e.hasIntegratedTime) entry.integratedTime = isoSeconds(Number(e.integratedTime));
    return entry;
  });

  const timestamps = b.rfc3161Timestamps.map((der) => {
    try {
      const t = parseTimestamp(der);
      const issuer = 'issuer' in t.sid ? t.sid.issuer : undefined;
      return {
        time: new Date(t.genTime).toISOString(),
        // A token names its signer by issuer and serial, or by key id (RFC 5652 SignerIdentifier); the first is
        // matched against the TSAs' names, the second is left to verify.
        trustedBy: issuer
          ? namesOf((trust) => trust.timestampAuthorities.some((tsa) => tsa.certificates[0]!.issuer.equals(issuer)))
          : [],
      };
    } catch (e) {
      if (!isVouchError(e)) throw e;
      return { trustedBy: [], problem: e.message };
    }
  });

  const leaf = leafOf(b);
  const caNames =
    leaf === undefined
      ? []
      : namesOf((t) => t.certificateAuthorities.some((ca) => ca.certificates[0]!.subject.equals(leaf.issuer)));
  const trustedRoots = [
    ...new Set([...tlogEntries.flatMap((e) => e.trustedBy), ...caNames, ...timestamps.flatMap((t) => t.trustedBy)]),
  ];

  const result: BundleInspection = {
    kind: 'bundle',
    verified: false,
    mediaType: b.mediaType,
    version: b.version,
    ...content,
    signer,
    tlogEntries,
    timestamps,
    trustedRoots,
  };
  const instance = instanceOf(signer, leaf, roots);
  if (instance !== undefined) result.instance = instance;
  return result;
}

function isoSeconds(seconds: number): string | undefined {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** What a statement of this predicate type is about. */
export function predicateKind(predicateType: string | undefined): BundleSubjectKind {
  if (predicateType === undefined) return 'payload';
  if (DIRECTORY_PREDICATES.has(predicateType)) return 'directory';
  if (predicateType === COSIGN_SIGN_PREDICATE) return 'image';
  return predicateType === VOUCH_FILE_PREDICATE ? 'file' : 'attestation';
}

/** What `b` claims to sign (read, not verified): a file, a directory, an image, an attestation or a payload. */
export function bundleSigns(b: Bundle): BundleSubjectKind {
  return describeContent(b).signs;
}

function describeContent(
  b: Bundle,
): Pick<BundleInspection, 'signs' | 'digest' | 'payloadType' | 'statementType' | 'predicateType' | 'subjects'> {
  const c = b.content;
  if (c.kind === 'message') {
    return c.digest
      ? { signs: 'file', digest: `${c.digest.algorithm}:${c.digest.value.toString('hex')}` }
      : { signs: 'file' };
  }
  if (c.payloadType !== IN_TOTO_PAYLOAD_TYPE || !Buffer.isBuffer(c.payload)) {
    return { signs: 'payload', payloadType: c.payloadType };
  }
  let statement: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(c.payload.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    statement = parsed as Record<string, unknown>;
  } catch {
    return { signs: 'payload', payloadType: c.payloadType };
  }
  const predicateType = typeof statement.predicateType === 'string' ? statement.predicateType : undefined;
  const subjects: InspectedSubject[] = (Array.isArray(statement.subject) ? statement.subject : []).map((s) => {
    const o = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
    const digest = (typeof o.digest === 'object' && o.digest !== null ? o.digest : {}) as Record<string, unknown>;
    return {
      name: typeof o.name === 'string' ? o.name : '',
      digests: Object.entries(digest).map(([alg, v]) => `${alg}:${String(v)}`),
    };
  });
  const signs = predicateKind(predicateType);
  const out: ReturnType<typeof describeContent> = { signs, payloadType: c.payloadType, subjects };
  if (typeof statement._type === 'string') out.statementType = statement._type;
  if (predicateType !== undefined) out.predicateType = predicateType;
  return out;
}
