/**
 * Verifying container images: resolve the target once (src/artifact/oci/resolve.ts); with `platform`, pick that
 * manifest from the index and let a signature on the index cover it; take the signatures attached in the registry
 * or stored in the OCI layout (src/artifact/oci/discover.ts), or a bundle file (an archive's, or one kept
 * elsewhere); verify each with the verify layer (passed in as a `BundleVerifier` with policy and trust bound) and
 * bind it to the digest and repository (src/artifact/oci/binding.ts). The first signature that passes both wins;
 * when none does, the failure names the reason of each one.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  checkImageStatement,
  checkSimpleSigning,
  type ImageCheckOptions,
  type ImageCheckResult,
} from '../artifact/oci/binding.ts';
import { type FindOptions, type FoundSignature, findSignatures } from '../artifact/oci/discover.ts';
import { splitLocalTarget } from '../artifact/oci/local.ts';
import type { RegistryOptions } from '../artifact/oci/registry.ts';
import { type ResolvedImage, resolveImage, selectPlatform } from '../artifact/oci/resolve.ts';
import type { Target } from '../artifact/target.ts';
import { type ErrorCode, isVouchError, VouchError } from '../errors.ts';
import type { ArtifactInput, VerificationResult } from '../verify/types.ts';

/**
 * The verify layer with policy and trust bound: bundle text + artifact input -> result, or a thrown VouchError.
 * For `src/verify`: `(text, input) => verify(text, input, policy, trust)`. The text is passed as fetched, so the
 * verifier's own strict parser and size cap apply to it.
 */
export type BundleVerifier = (bundle: string, input: ArtifactInput) => Promise<VerificationResult> | VerificationResult;

export interface ImageVerification {
  result: VerificationResult;
  check: ImageCheckResult;
  signature: FoundSignature;
}

/** A signature that did not verify or did not bind to the image, and why (`--json`: `error.details.signatures`). */
export interface RejectedSignature {
  /** The referrer manifest digest (`file` for a bundle given with --bundle). */
  referrer: string;
  format: FoundSignature['format'];
  /** The index whose signature this was, when tried for a platform manifest through its index. */
  viaIndex?: string;
  code: ErrorCode;
  message: string;
}

interface Rejection {
  signature: RejectedSignature;
  error: VouchError;
}

/**
 * Verify `signatures` of the image with `verifier` and bind each to the image. Returns the first that passes both;
 * when none does, raises the one failure, or for several a failure that lists each signature's reason (never
 * SIGNATURE_NOT_FOUND when signatures were there: a bad signature must not read as a missing one).
 */
export async function verifyImageSignatures(
  image: ResolvedImage,
  signatures: FoundSignature[],
  verifier: BundleVerifier,
  options: ImageCheckOptions = {},
): Promise<ImageVerification> {
  const rejected: Rejection[] = [];
  return (await firstAccepted(image, signatures, verifier, options, rejected)) ?? reject(image, rejected);
}

/**
 * Find and verify the signatures of an image (registry or OCI layout). With `viaIndex`, the image's own signatures
 * are tried first, then the index's (checked to list this image); the first that verifies and binds wins.
 */
export async function verifyImage(
  image: ResolvedImage,
  verifier: BundleVerifier,
  options: ImageCheckOptions & FindOptions = {},
): Promise<ImageVerification> {
  const { viaIndex, ...rest } = options;
  const rejected: Rejection[] = [];
  const own = await firstAccepted(image, await findSignatures(image, rest), verifier, rest, rejected);
  if (own) return own;
  if (viaIndex) {
    const signatures = await findSignatures(viaIndex, rest);
    const viaIndexed = await firstAccepted(image, signatures, verifier, options, rejected, viaIndex.digest);
    if (viaIndexed) return viaIndexed;
  }
  return reject(image, rejected);
}

async function firstAccepted(
  image: ResolvedImage,
  signatures: FoundSignature[],
  verifier: BundleVerifier,
  options: ImageCheckOptions,
  rejected: Rejection[],
  viaIndex?: string,
): Promise<ImageVerification | undefined> {
  for (const signature of signatures) {
    try {
      return await verifyOne(image, signature, verifier, options);
    } catch (e) {
      if (!(e instanceof VouchError)) throw e;
      rejected.push({
        error: e,
        signature: {
          referrer: signature.referrer,
          format: signature.format,
          ...(viaIndex ? { viaIndex } : {}),
          code: e.code,
          message: e.message,
        },
      });
    }
  }
  return undefined;
}

async function verifyOne(
  image: ResolvedImage,
  signature: FoundSignature,
  verifier: BundleVerifier,
  options: ImageCheckOptions,
): Promise<ImageVerification> {
  if (signature.format === 'bundle') {
    const result = await verifier(signature.bundle, { kind: 'statement' });
    if (!result.statement) throw new VouchError('IMAGE_MISMATCH', 'an image signature must be a DSSE statement');
    return { result, check: checkImageStatement(result.statement.payload, image, options), signature };
  }
  if (signature.error) throw signature.error;
  const digest = createHash('sha256').update(signature.payload).digest();
  const result = await verifier(signature.bundle, {
    kind: 'digest',
    algorithm: 'sha256',
    digest,
    bytes: signature.payload,
  });
  return { result, check: checkSimpleSigning(signature.payload, image, options), signature };
}

/**
 * How far a signature got before it was refused, in the verifier's order: read, then signature and proofs, then the
 * policy's signer, then the binding to this image. With several failures, the code raised is that of the signature
 * that got furthest (the most specific reason the image is refused); the message and details name every one.
 */
const STAGE: Partial<Record<ErrorCode, number>> = {
  BUNDLE_MALFORMED: 0,
  BUNDLE_TOO_LARGE: 0,
  BUNDLE_UNSUPPORTED: 0,
  DSSE_INVALID: 0,
  IDENTITY_MISMATCH: 2,
  ISSUER_MISMATCH: 2,
  KEY_MISMATCH: 2,
  IMAGE_MISMATCH: 3,
  REPOSITORY_MISMATCH: 3,
};
const stageOf = (code: ErrorCode) => STAGE[code] ?? 1;

function reject(image: ResolvedImage, rejected: Rejection[]): never {
  const name = `${image.repository}@${image.digest}`;
  if (rejected.length === 0) throw new VouchError('SIGNATURE_NOT_FOUND', `no signature for ${name}`);
  if (rejected.length === 1) throw rejected[0]!.error;
  let chosen = rejected[0]!;
  for (const r of rejected) if (stageOf(r.error.code) > stageOf(chosen.error.code)) chosen = r;
  const reasons = rejected.map(
    ({ signature: s }, i) =>
      `[${i + 1}] ${s.referrer === 'file' ? 'bundle file' : `${s.format === 'bundle' ? 'referrer' : 'legacy'} ${short(s.referrer)}`}${s.viaIndex ? ` (index ${short(s.viaIndex)})` : ''}: ${s.code}: ${s.message.slice(0, 200)}`,
  );
  throw new VouchError(
    chosen.error.code,
    `none of the ${rejected.length} signatures of ${name} is accepted: ${reasons.join('; ')}`,
    { cause: chosen.error, hint: chosen.error.hint, details: { signatures: rejected.map((r) => r.signature) } },
  );
}

/** `sha256:` and the first 12 hex digits: enough to tell a handful of referrers apart in one line. */
function short(digest: string): string {
  return digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]+$/, '$1…');
}

/**
 * The bundle `vouch sign` wrote beside an archive (`FILE.sigstore.json`: archives are never rewritten to hold
 * their signature), when it is there; an archive without it is checked for signatures inside (an OCI layout's).
 */
export function archiveBundlePath(target: Target): string | undefined {
  if (target.kind !== 'oci-archive' && target.kind !== 'docker-archive') return undefined;
  const file = `${splitLocalTarget(target.path).path}.sigstore.json`;
  return existsSync(file) ? file : undefined;
}

/**
 * A message signature signs a file's bytes, never an image: an archive signed as a plain file (`vouch sign app.tar`)
 * and checked as an image says so, instead of a bundle-format error. Anything else is left to the verifier.
 */
function refuseFileBundle(text: string, target: Target): void {
  let content: unknown;
  try {
    content = (JSON.parse(text) as { messageSignature?: unknown }).messageSignature;
  } catch {
    return;
  }
  if (content === undefined || content === null) return;
  const file = 'path' in target ? splitLocalTarget(target.path).path : undefined;
  throw new VouchError('IMAGE_MISMATCH', 'the bundle signs a file, not an image', {
    hint: file
      ? `It was made by \`vouch sign ${file}\`: verify it the same way (\`vouch verify ${file}\`), or sign the image as ${target.kind}:${file}.`
      : 'Verify it as the file it was made for.',
  });
}

export interface ImageVerifyOptions {
  /** A bundle (text) to check instead of the attached signatures (registry or OCI layout); needed for archives. */
  bundle?: string;
  /** `os/arch[/variant]`: verify that platform's manifest of an index, accepting a signature on the index. */
  platform?: string;
  /** Local images: the repository the signature must name. */
  repository?: string;
  /** Other repositories whose signatures are accepted for the same digest, or 'any' (unsafe: digest-only). */
  allowRepositories?: string[] | 'any';
  registry?: RegistryOptions;
}

export interface ImageVerifyResult extends ImageVerification {
  /** The image verified: `repository@digest` is what to deploy. `viaIndex`: the signed index that lists it. */
  image: { repository: string; digest: string; mediaType: string; viaIndex?: string };
}

export async function verifyImageTarget(
  target: Target,
  verifier: BundleVerifier,
  options: ImageVerifyOptions = {},
): Promise<ImageVerifyResult> {
  const resolved = await resolveImage(target, {
    ...(options.repository !== undefined ? { repository: options.repository } : {}),
    ...(options.registry !== undefined ? { registry: options.registry } : {}),
  });
  let image: ResolvedImage = resolved;
  const check: ImageCheckOptions = {};
  if (options.allowRepositories !== undefined) check.allowRepositories = options.allowRepositories;
  if (options.platform !== undefined) {
    image = await selectPlatform(resolved, options.platform);
    check.viaIndex = resolved;
  }
  let verification: ImageVerification;
  if (options.bundle !== undefined) {
    refuseFileBundle(options.bundle, target);
    const given: FoundSignature[] = [{ format: 'bundle', bundle: options.bundle, referrer: 'file' }];
    try {
      verification = await verifyImageSignatures(image, given, verifier, { ...check, viaIndex: undefined });
    } catch (e) {
      // A bundle for the index covers the platform manifest it lists; any other failure stands.
      if (!check.viaIndex || !isVouchError(e, 'IMAGE_MISMATCH')) throw e;
      verification = await verifyImageSignatures(image, given, verifier, check);
    }
  } else {
    verification = await verifyImage(image, verifier, check);
  }
  return {
    ...verification,
    image: {
      repository: image.repository,
      digest: image.digest,
      mediaType: image.descriptor.mediaType,
      ...(verification.check.viaIndex ? { viaIndex: verification.check.viaIndex } : {}),
    },
  };
}

/** One signature of an image for policy verification: verified and bound to the image by `verify`. */
export interface ImageCandidate {
  /** The referrer manifest digest (with the index it came from), or the bundle file given. */
  source: string;
  bundle: string;
  /** Verify with the verify layer (policy and trust bound), then bind the verified content to the image. */
  verify(verifier: BundleVerifier): Promise<VerificationResult>;
}

/**
 * Every signature of the image (registry referrers and legacy `.sig` tags, an OCI layout's referrers), or the bundle
 * texts given, each to be verified and bound on its own by the caller (src/workflow/verify-policy.ts); with
 * `platform`, the index's signatures are candidates too, bound through the index that lists the manifest.
 */
export async function imageCandidates(
  target: Target,
  options: Omit<ImageVerifyOptions, 'bundle'>,
  given?: { source: string; text: string }[],
): Promise<{ candidates: ImageCandidate[]; image: ImageVerifyResult['image'] }> {
  const resolved = await resolveImage(target, {
    ...(options.repository !== undefined ? { repository: options.repository } : {}),
    ...(options.registry !== undefined ? { registry: options.registry } : {}),
  });
  const image = options.platform !== undefined ? await selectPlatform(resolved, options.platform) : resolved;
  const check: ImageCheckOptions = {};
  if (options.allowRepositories !== undefined) check.allowRepositories = options.allowRepositories;
  const sets: { signatures: FoundSignature[]; check: ImageCheckOptions }[] = [];
  const viaIndex = { ...check, viaIndex: resolved };
  if (given) {
    const sigs = given.map((g): FoundSignature => ({ format: 'bundle', bundle: g.text, referrer: g.source }));
    sets.push({ signatures: sigs, check });
    if (options.platform !== undefined) sets.push({ signatures: sigs, check: viaIndex });
  } else {
    sets.push({ signatures: await findSignatures(image), check });
    if (options.platform !== undefined) sets.push({ signatures: await findSignatures(resolved), check: viaIndex });
  }
  const candidates = sets.flatMap(({ signatures, check: c }) =>
    signatures.map(
      (signature): ImageCandidate => ({
        source: c.viaIndex ? `${signature.referrer} (index ${resolved.digest})` : signature.referrer,
        bundle: signature.bundle,
        verify: async (verifier) => (await verifyOne(image, signature, verifier, c)).result,
      }),
    ),
  );
  return {
    candidates,
    image: { repository: image.repository, digest: image.digest, mediaType: image.descriptor.mediaType },
  };
}
