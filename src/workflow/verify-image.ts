/**
 * Verifying container images: resolve the target once; with `platform`, pick that manifest from the index and let a
 * signature on the index cover it; take the signatures attached in the registry or stored in the OCI layout (listed
 * in its index.json), or a bundle file (an archive's, or one kept elsewhere); verify each with the verify layer (passed
 * in as a `BundleVerifier` with policy and trust bound) and bind it to the digest and repository.
 */
import { createHash } from 'node:crypto';
import {
  type BundleVerifier,
  checkImageStatement,
  checkSimpleSigning,
  type FoundSignature,
  findSignatures,
  type ImageCheckOptions,
  type ImageVerification,
  type ResolvedImage,
  resolveImage,
  selectPlatform,
  verifyImage,
  verifyImageSignatures,
} from '../artifact/oci/image.ts';
import type { RegistryOptions } from '../artifact/oci/registry.ts';
import type { Target } from '../artifact/target.ts';
import { isVouchError, VouchError } from '../errors.ts';
import type { VerificationResult } from '../verify/types.ts';

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
  image: { repository: string; digest: string; mediaType: string };
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
    image: { repository: image.repository, digest: image.digest, mediaType: image.descriptor.mediaType },
  };
}

/** One signature of an image for policy verification: verified and bound to the image by `verify`. */
export interface ImageCandidate {
  /** The referrer manifest digest, or the bundle file given. */
  source: string;
  bundle: string;
  /** Verify with the verify layer (policy and trust bound), then bind the verified statement to the image. */
  verify(verifier: BundleVerifier): Promise<VerificationResult>;
}

/**
 * Every signature of the image (registry referrers, legacy `.sig` tags, an OCI layout's), or the bundle texts given,
 * each verified and bound on its own by the caller: with `platform`, the index's signatures are candidates too.
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
  let image: ResolvedImage = resolved;
  const check: ImageCheckOptions = {};
  if (options.allowRepositories !== undefined) check.allowRepositories = options.allowRepositories;
  const sets: { signatures: FoundSignature[]; check: ImageCheckOptions }[] = [];
  if (options.platform !== undefined) image = await selectPlatform(resolved, options.platform);
  if (given) {
    const sigs: FoundSignature[] = given.map((g) => ({ format: 'bundle', bundle: g.text, referrer: g.source }));
    sets.push({ signatures: sigs, check });
    if (options.platform !== undefined) sets.push({ signatures: sigs, check: { ...check, viaIndex: resolved } });
  } else {
    sets.push({ signatures: await findSignatures(image), check });
    if (options.platform !== undefined) {
      sets.push({ signatures: await findSignatures(resolved), check: { ...check, viaIndex: resolved } });
    }
  }
  const candidates: ImageCandidate[] = [];
  for (const set of sets) {
    for (const sig of set.signatures) {
      candidates.push({
        source: set.check.viaIndex ? `${sig.referrer} (index ${resolved.digest})` : sig.referrer,
        bundle: sig.bundle,
        verify: async (verifier) => {
          if (sig.format === 'bundle') {
            const result = await verifier(sig.bundle, { kind: 'statement' });
            if (!result.statement)
              throw new VouchError('IMAGE_MISMATCH', 'an image signature must be a DSSE statement');
            checkImageStatement(result.statement.payload, image, set.check);
            return result;
          }
          if (sig.error) throw sig.error;
          const digest = createHash('sha256').update(sig.payload).digest();
          const result = await verifier(sig.bundle, {
            kind: 'digest',
            algorithm: 'sha256',
            digest,
            bytes: sig.payload,
          });
          checkSimpleSigning(sig.payload, image, set.check);
          return result;
        },
      });
    }
  }
  return {
    candidates,
    image: { repository: image.repository, digest: image.digest, mediaType: image.descriptor.mediaType },
  };
}
