/**
 * Finding an image's signatures: the referrers of its digest whose artifact type is the Sigstore bundle (in a
 * registry, through the referrers API or the `sha256-<hex>` tag; in an OCI layout, its index.json), plus legacy
 * cosign `.sig` signatures (src/artifact/oci/legacy.ts). Every listing is capped, every manifest and blob
 * size-capped before it is read and digest-checked after; nothing found here is trusted until it is verified.
 */
import { VouchError } from '../../errors.ts';
import { findLegacySignatures } from './legacy.ts';
import { type Descriptor, MEDIA, parseManifest } from './manifest.ts';
import { type ResolvedImage, registrySource } from './resolve.ts';

/** A bundle stored in the registry is refused above this size (a real one is a few KiB). */
export const BUNDLE_BLOB_MAX = 1 << 20;
/** A referrer (artifact) manifest is refused above this size before it is fetched. */
export const REFERRER_MANIFEST_MAX = 64 << 10;

/** A signature found for an image, ready for the verifier. */
export type FoundSignature =
  | { format: 'bundle'; bundle: string; referrer: string }
  | {
      /** A cosign `.sig` signature converted to a message-signature bundle over `payload`. */
      format: 'cosign-legacy';
      bundle: string;
      payload: Buffer;
      referrer: string;
      /** Set when the layer could not be converted: the candidate fails with this error when verified. */
      error?: VouchError;
    };

export interface FindOptions {
  /** At most this many signatures are fetched (default 32); more is refused rather than silently truncated. */
  maxSignatures?: number;
  /** Also read legacy `sha256-<hex>.sig` signatures (default true). */
  legacy?: boolean;
}

/**
 * Every signature attached to the image. Each referrer manifest is fetched by its digest, must name this image as
 * its subject (a referrer whose subject is another digest is a hostile listing: IMAGE_MISMATCH), and its bundle
 * blob is size-capped and digest-checked. Service failures propagate as SERVICE_*; an empty result means the
 * registry answered and holds no signature.
 */
export async function findSignatures(image: ResolvedImage, options: FindOptions = {}): Promise<FoundSignature[]> {
  const max = options.maxSignatures ?? 32;
  if (image.source.kind !== 'registry' && image.source.index) {
    return findLayoutSignatures(image, image.source.index, image.source.readBlob, max);
  }
  const { client, repository } = registrySource(image);
  const { descriptors } = await client.listReferrers(repository, image.digest, MEDIA.sigstoreBundle);
  if (descriptors.length > max) {
    throw new VouchError('IMAGE_INVALID', `${descriptors.length} signature referrers (at most ${max} are read)`, {
      hint: 'Someone attached an unusual number of signatures to this image; inspect its referrers.',
    });
  }
  const found: FoundSignature[] = [];
  for (const d of descriptors) {
    if (!isReferrerCandidate(d)) continue;
    const got = await client.getManifest(repository, d.digest, { ...d, annotations: undefined } as Descriptor);
    if (!got) continue; // listed but deleted since: not a signature
    const m = got.manifest;
    if (m.kind !== 'image') throw new VouchError('IMAGE_INVALID', `referrer ${d.digest} is not an image manifest`);
    if (!m.subject || m.subject.digest !== image.digest) {
      throw new VouchError(
        'IMAGE_MISMATCH',
        `referrer ${d.digest} has subject ${m.subject?.digest ?? 'none'}, not ${image.digest}`,
      );
    }
    if (m.artifactType !== MEDIA.sigstoreBundle) continue;
    const layer = m.layers.find((l) => l.mediaType === MEDIA.sigstoreBundle);
    if (!layer) throw new VouchError('IMAGE_INVALID', `referrer ${d.digest} has no bundle layer`);
    const blob = await client.getBlob(repository, layer, BUNDLE_BLOB_MAX);
    found.push({ format: 'bundle', bundle: blob.toString('utf8'), referrer: d.digest });
  }
  if (options.legacy !== false)
    found.push(...(await findLegacySignatures(image, client, repository, max - found.length)));
  return found;
}

/**
 * Whether a listed descriptor may be a signature referrer: an image manifest (others are skipped) of a sane size. An
 * artifact manifest is a few hundred bytes; 32 listed 4 MiB "manifests" would be 128 MiB read for nothing, so a
 * larger claim is refused before anything is fetched.
 */
function isReferrerCandidate(d: Descriptor): boolean {
  if (d.mediaType !== MEDIA.ociManifest) return false;
  if (d.size > REFERRER_MANIFEST_MAX) {
    throw new VouchError('IMAGE_INVALID', `referrer ${d.digest} claims ${d.size} bytes (cap ${REFERRER_MANIFEST_MAX})`);
  }
  return true;
}

/** Most signature entries a layout's index.json may list (as for a registry's referrers listing). */
const LAYOUT_REFERRERS_MAX = 1000;

/**
 * Signatures stored in an OCI layout (or an archive of one): the index.json entries that say they are bundle
 * artifacts, each manifest read by its digest (size-capped before reading, hashed, size and media type checked),
 * kept when the manifest itself is a bundle artifact whose subject is this image. Unlike a registry's referrers
 * listing, index.json lists the referrers of every image in the layout (an index and its platform manifests signed
 * with --recursive), so a referrer of another digest is skipped, not refused.
 */
async function findLayoutSignatures(
  image: ResolvedImage,
  index: Descriptor[],
  readBlob: (d: Descriptor, max: number) => Promise<Buffer>,
  max: number,
): Promise<FoundSignature[]> {
  const candidates = index.filter((d) => d.artifactType === MEDIA.sigstoreBundle);
  if (candidates.length > LAYOUT_REFERRERS_MAX) {
    throw new VouchError(
      'IMAGE_INVALID',
      `index.json lists ${candidates.length} signatures (cap ${LAYOUT_REFERRERS_MAX})`,
    );
  }
  const found: FoundSignature[] = [];
  for (const d of candidates) {
    if (!isReferrerCandidate(d)) continue;
    const bytes = await readBlob(d, REFERRER_MANIFEST_MAX);
    const m = parseManifest(bytes, d.mediaType, `referrer ${d.digest}`);
    if (m.kind !== 'image' || m.mediaType !== d.mediaType) {
      throw new VouchError('IMAGE_INVALID', `referrer ${d.digest} is not an image manifest`);
    }
    if (m.artifactType !== MEDIA.sigstoreBundle || m.subject?.digest !== image.digest) continue;
    if (found.length >= max) {
      throw new VouchError('IMAGE_INVALID', `more than ${max} signatures for ${image.digest} in the layout`);
    }
    const layer = m.layers.find((l) => l.mediaType === MEDIA.sigstoreBundle);
    if (!layer) throw new VouchError('IMAGE_INVALID', `referrer ${d.digest} has no bundle layer`);
    const blob = await readBlob(layer, BUNDLE_BLOB_MAX);
    found.push({ format: 'bundle', bundle: blob.toString('utf8'), referrer: d.digest });
  }
  return found;
}
