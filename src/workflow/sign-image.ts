/**
 * Signing container images: resolve the target to a digest once, sign the cosign-compatible statement for it (and,
 * with `recursive`, for every platform manifest of an index), and attach each bundle to its manifest in the
 * registry as an OCI referrer. Local images (oci-layout, oci-archive, docker-archive) are signed for the repository
 * they will be pushed to. An OCI layout holds its signature the same way, as a referrer listed in index.json; an
 * archive is a tar that is not rewritten in place, so its bundle is written to a file instead.
 */
import { attachSignature } from '../artifact/oci/attach.ts';
import { buildImageStatement } from '../artifact/oci/binding.ts';
import type { Descriptor } from '../artifact/oci/manifest.ts';
import type { RegistryOptions } from '../artifact/oci/registry.ts';
import { imagesToSign, type ResolvedImage, resolveImage } from '../artifact/oci/resolve.ts';
import type { Target } from '../artifact/target.ts';
import { type SerializedBundle, type SigningContext, signStatement } from '../sign/bundle.ts';

export interface ImageSignOptions {
  /** Repository a local image is signed for (registry/name); registry images use their own. */
  repository?: string;
  /** Sign every platform manifest of an index too. */
  recursive?: boolean;
  /** Store the signatures with the image: in the registry, or in an OCI layout (default; impossible for archives). */
  attach?: boolean;
  registry?: RegistryOptions;
}

export interface SignedImage {
  repository: string;
  digest: string;
  bundle: SerializedBundle;
  /** The referrer manifest holding the bundle, when attached, and how it is discoverable. */
  referrer?: Descriptor;
  via?: 'api' | 'tag' | 'layout';
}

export async function signImage(
  target: Target,
  context: SigningContext,
  options: ImageSignOptions = {},
): Promise<{ image: ResolvedImage; signed: SignedImage[] }> {
  const image = await resolveImage(target, {
    ...(options.repository !== undefined ? { repository: options.repository } : {}),
    ...(options.registry !== undefined ? { registry: options.registry } : {}),
  });
  const attach = options.attach ?? (image.source.kind === 'registry' || image.source.kind === 'oci-layout');
  const signed: SignedImage[] = [];
  for (const one of await imagesToSign(image, { recursive: options.recursive ?? false })) {
    const bundle = await signStatement(context, buildImageStatement(one));
    const entry: SignedImage = { repository: one.repository, digest: one.digest, bundle };
    if (attach) {
      const { referrer, via } = await attachSignature(one, JSON.stringify(bundle));
      entry.referrer = referrer;
      entry.via = via;
    }
    signed.push(entry);
  }
  return { image, signed };
}
