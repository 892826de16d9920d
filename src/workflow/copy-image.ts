/**
 * `vouch copy SOURCE DESTINATION`: an image from an OCI layout, an oci-archive or a registry into a registry, with
 * its signatures (src/artifact/oci/copy.ts). An archive's signature lives in a bundle file (archives are never
 * rewritten): `FILE.sigstore.json` beside it, or `--bundle`, is attached to the pushed copy (src/workflow/attach-image.ts).
 */
import { type CopyResult, copyImage } from '../artifact/oci/copy.ts';
import { parseReference } from '../artifact/oci/reference.ts';
import { RegistryClient, type RegistryOptions } from '../artifact/oci/registry.ts';
import { resolveImage } from '../artifact/oci/resolve.ts';
import { describeTarget, type Target } from '../artifact/target.ts';
import { VouchError } from '../errors.ts';
import { type AttachResult, attachBundle } from './attach-image.ts';
import { readBundleFile } from './verify.ts';
import { archiveBundlePath } from './verify-image.ts';

export interface CopyOptions {
  /** A bundle file to attach to the copy as well (default for an oci-archive: `FILE.sigstore.json` when present). */
  bundle?: string;
  /** Repositories besides the destination's that an attached bundle may name. */
  allowRepositories?: string[];
  registry?: RegistryOptions;
}

export interface CopySummary extends CopyResult {
  source: string;
  /** The copy, pinned: `registry/name@digest` is what a customer verifies and deploys. */
  image: { repository: string; digest: string; tag?: string };
  /** The bundle file attached to the copy, if any. */
  attached?: AttachResult & { bundlePath: string };
}

export async function copyTarget(source: Target, destination: Target, options: CopyOptions = {}): Promise<CopySummary> {
  if (destination.kind !== 'oci') {
    throw new VouchError(
      'TARGET_UNSUPPORTED',
      `vouch copy writes to a registry (oci:REGISTRY/NAME:TAG), not ${destination.kind}`,
    );
  }
  if (
    source.kind !== 'oci' &&
    source.kind !== 'oci-layout' &&
    source.kind !== 'oci-archive' &&
    source.kind !== 'docker-archive'
  ) {
    throw new VouchError('TARGET_UNSUPPORTED', `${source.kind} is not an image`);
  }
  const to = parseReference(destination.reference);
  const registry = options.registry ?? {};
  // A local image is resolved for the destination's name: the binding of its signatures is checked by verify.
  const image = await resolveImage(source, { repository: to.name, registry });
  if (to.digest !== undefined && to.digest !== image.digest) {
    throw new VouchError('IMAGE_MISMATCH', `the source is ${image.digest}, not the destination's ${to.digest}`);
  }
  const client = new RegistryClient(to.registry, registry);
  const copied = await copyImage(image, {
    client,
    repository: to.repository,
    ...(to.tag !== undefined ? { tag: to.tag } : {}),
  });
  const summary: CopySummary = {
    source: describeTarget(source),
    image: { repository: to.name, digest: image.digest, ...(to.tag !== undefined ? { tag: to.tag } : {}) },
    ...copied,
  };
  const bundlePath = options.bundle ?? archiveBundlePath(source);
  if (bundlePath !== undefined) {
    const attached = await attachBundle(
      { kind: 'oci', reference: `${to.name}@${image.digest}` },
      await readBundleFile(bundlePath),
      { registry, ...(options.allowRepositories ? { allowRepositories: options.allowRepositories } : {}) },
    );
    summary.attached = { ...attached, bundlePath };
  }
  return summary;
}
