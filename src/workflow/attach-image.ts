/**
 * `vouch attach`: store a bundle made elsewhere (for an oci-layout or an archive, before the image was pushed) as an
 * OCI referrer of the pushed image, so the image keeps its signature. The bundle is not verified here (that is the
 * customer's `vouch verify`), but it must be a Sigstore bundle whose statement binds exactly this digest and this
 * repository: a bundle for another image, or one the registry's copy would fail anyway, is refused before anything
 * is written. Attaching the same bundle twice changes nothing.
 */
import { attachSignature } from '../artifact/oci/attach.ts';
import { checkImageStatement } from '../artifact/oci/binding.ts';
import { BUNDLE_BLOB_MAX, findSignatures } from '../artifact/oci/discover.ts';
import type { RegistryOptions } from '../artifact/oci/registry.ts';
import { resolveImage } from '../artifact/oci/resolve.ts';
import { describeTarget, type Target } from '../artifact/target.ts';
import { parseStrictJson } from '../core/json.ts';
import { VouchError } from '../errors.ts';
import { parseBundle } from '../verify/bundle.ts';

export interface AttachOptions {
  /** Repositories besides the image's own that the bundle may name (the image was pushed under another name). */
  allowRepositories?: string[];
  registry?: RegistryOptions;
}

export interface AttachResult {
  target: string;
  image: { repository: string; digest: string };
  /** Digest of the referrer manifest holding the bundle. */
  referrer: string;
  /** How it was stored (`api`: the registry indexes referrers, `tag`: the tag index); absent when already there. */
  via?: 'api' | 'tag' | 'layout';
  /** The same bundle was already attached: nothing was written. */
  alreadyAttached: boolean;
}

export async function attachBundle(
  input: Target,
  bundleText: string,
  options: AttachOptions = {},
): Promise<AttachResult> {
  if (input.kind !== 'oci') {
    throw new VouchError('TARGET_UNSUPPORTED', `attach stores a bundle in a registry, not in ${input.kind}`, {
      hint: 'Push the image first (vouch copy keeps a layout or archive signature), then attach to oci:REGISTRY/NAME@DIGEST.',
    });
  }
  const bundle = parseBundle(bundleText, { maxBytes: BUNDLE_BLOB_MAX });
  if (bundle.content.kind !== 'dsse' || !Buffer.isBuffer(bundle.content.payload)) {
    throw new VouchError('IMAGE_MISMATCH', 'the bundle is not an image signature (no DSSE statement)', {
      hint: 'Attach the bundle `vouch sign` wrote for an image (oci-layout:, oci-archive:, docker-archive:).',
    });
  }
  const image = await resolveImage(input, options.registry !== undefined ? { registry: options.registry } : {});
  const statement = parseStrictJson(bundle.content.payload.toString('utf8'), {
    code: 'DSSE_INVALID',
    what: 'the bundle statement',
  });
  checkImageStatement(statement, image, {
    ...(options.allowRepositories !== undefined ? { allowRepositories: options.allowRepositories } : {}),
  });
  const out = { target: describeTarget(input), image: { repository: image.repository, digest: image.digest } };
  const normal = JSON.stringify(JSON.parse(bundleText));
  for (const found of await findSignatures(image, { legacy: false })) {
    if (found.format === 'bundle' && sameJson(found.bundle, normal)) {
      return { ...out, referrer: found.referrer, alreadyAttached: true };
    }
  }
  const { referrer, via } = await attachSignature(image, normal);
  return { ...out, referrer: referrer.digest, via, alreadyAttached: false };
}

function sameJson(text: string, normal: string): boolean {
  try {
    return JSON.stringify(JSON.parse(text)) === normal;
  } catch {
    return false;
  }
}
