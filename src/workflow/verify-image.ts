/**
 * Verifying container images: resolve the target once; with `platform`, pick that manifest from the index and let a
 * signature on the index cover it; take the signatures attached in the registry or stored in the OCI layout (listed
 * in its index.json), or a bundle file (an archive's, or one kept elsewhere); verify each with the verify layer (passed
 * in as a `BundleVerifier` with policy and trust bound) and bind it to the digest and repository.
 */
import {
  type BundleVerifier,
  type FoundSignature,
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
import { isVouchError } from '../errors.ts';

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
