/**
 * Copying an image into a registry with its signatures, so a local image keeps them on the way out. The image's
 * manifests (an index and every manifest it lists) and blobs are copied byte for byte, so the pushed copy has the
 * digest that was signed; then every signature referrer of each copied manifest (a bundle artifact whose subject is
 * that manifest) is copied as it is, and recorded in the destination's referrers tag index when the registry does
 * not index referrers itself (distribution spec v1.1, "Referrers Tag Schema", as cosign and oras do).
 *
 * The source is untrusted like any registry: everything is read by descriptor, hashed and size-checked by the
 * reader (src/artifact/oci/registry.ts, local.ts). Blobs are held in memory one at a time, up to COPY_BLOB_MAX.
 */
import { VouchError } from '../../errors.ts';
import { REFERRER_MANIFEST_MAX } from './discover.ts';
import { type Descriptor, MANIFEST_MAX, MANIFEST_MEDIA_TYPES, MEDIA, parseManifest } from './manifest.ts';
import type { RegistryClient } from './registry.ts';
import { type ResolvedImage, registrySource } from './resolve.ts';

const MANIFEST_TYPES = new Set<string>(MANIFEST_MEDIA_TYPES);

/** The largest blob (layer) copied; larger ones are left to a streaming copier (skopeo --preserve-digests). */
export const COPY_BLOB_MAX = 1 << 30;

/** Where a copy reads from: a registry repository, or an OCI layout (directory or archive). */
interface ImageReader {
  /** Manifest or blob bytes named by `d`, checked against its digest and size. */
  read(d: Descriptor, max: number): Promise<Buffer>;
  /** Descriptors of the signature referrer manifests whose subject is `digest`. */
  referrers(digest: string): Promise<Descriptor[]>;
}

export interface CopyResult {
  /** Every manifest copied (the image, and the manifests of an index), by digest. */
  manifests: string[];
  blobs: { copied: number; present: number; bytes: number };
  /** Signature referrers copied, each with how the destination finds it. */
  signatures: { subject: string; referrer: string; via: 'api' | 'tag' }[];
}

export interface CopyDestination {
  client: RegistryClient;
  repository: string;
  tag?: string;
}

/** Copy `image` (resolved from a registry or an OCI layout or archive) into `to`, with its signature referrers. */
export async function copyImage(image: ResolvedImage, to: CopyDestination): Promise<CopyResult> {
  const reader = readerOf(image);
  const result: CopyResult = { manifests: [], blobs: { copied: 0, present: 0, bytes: 0 }, signatures: [] };
  await copyManifest(reader, to, image.descriptor, result, 0);
  if (to.tag !== undefined) {
    await to.client.putManifest(to.repository, to.tag, image.bytes, image.descriptor.mediaType);
  }
  for (const subject of result.manifests) {
    for (const d of await reader.referrers(subject)) {
      const via = await copyReferrer(reader, to, { ...d, artifactType: MEDIA.sigstoreBundle }, subject, result);
      if (via) result.signatures.push({ subject, referrer: d.digest, via });
    }
  }
  return result;
}

/**
 * Copy a signature referrer of `subject`. A listing is the source's claim: a listed manifest that is not a bundle
 * artifact of this very subject is not copied, so a hostile source cannot plant a referrer of another image in the
 * destination's tag index (where every verifier of the copy would meet it).
 */
async function copyReferrer(
  reader: ImageReader,
  to: CopyDestination,
  d: Descriptor,
  subject: string,
  result: CopyResult,
): Promise<'api' | 'tag' | undefined> {
  if (d.mediaType !== MEDIA.ociManifest || d.size > REFERRER_MANIFEST_MAX) return undefined;
  const bytes = await reader.read(d, REFERRER_MANIFEST_MAX);
  const m = parseManifest(bytes, d.mediaType, `referrer ${d.digest}`);
  if (m.kind !== 'image' || m.subject?.digest !== subject || m.artifactType !== MEDIA.sigstoreBundle) return undefined;
  for (const blob of [m.config, ...m.layers]) await copyBlob(reader, to, blob, result);
  const put = await to.client.putManifest(to.repository, d.digest, bytes, d.mediaType);
  if (put.subjectAccepted) return 'api';
  await to.client.addToReferrersTag(to.repository, subject, d);
  return 'tag';
}

/** Copy one manifest after what it names (blobs, or the manifests of an index). */
async function copyManifest(
  reader: ImageReader,
  to: CopyDestination,
  d: Descriptor,
  result: CopyResult,
  depth: number,
): Promise<void> {
  if (!MANIFEST_TYPES.has(d.mediaType)) {
    throw new VouchError('IMAGE_INVALID', `${d.digest} has media type ${d.mediaType.slice(0, 100)}, not a manifest`);
  }
  // An index listing an index is allowed by the spec; a deeper nesting is a loop or an attack on the copier.
  if (depth > 2) throw new VouchError('IMAGE_INVALID', 'indexes nested more than twice');
  const bytes = await reader.read(d, MANIFEST_MAX);
  const manifest = parseManifest(bytes, d.mediaType, `manifest ${d.digest}`);
  if (manifest.kind === 'index') {
    for (const child of manifest.manifests) await copyManifest(reader, to, child, result, depth + 1);
  } else {
    for (const blob of [manifest.config, ...manifest.layers]) await copyBlob(reader, to, blob, result);
  }
  await to.client.putManifest(to.repository, d.digest, bytes, d.mediaType);
  result.manifests.push(d.digest);
}

async function copyBlob(reader: ImageReader, to: CopyDestination, d: Descriptor, result: CopyResult): Promise<void> {
  if (await to.client.blobExists(to.repository, d.digest)) {
    result.blobs.present++;
    return;
  }
  if (d.size > COPY_BLOB_MAX) {
    throw new VouchError('TARGET_UNSUPPORTED', `blob ${d.digest} has ${d.size} bytes (vouch copies up to 1 GiB)`, {
      hint: 'Copy the image with `skopeo copy --preserve-digests`, then `vouch attach` its bundle.',
    });
  }
  const bytes = await reader.read(d, COPY_BLOB_MAX);
  await to.client.pushBlob(to.repository, bytes, d.mediaType);
  result.blobs.copied++;
  result.blobs.bytes += bytes.length;
}

function readerOf(image: ResolvedImage): ImageReader {
  const source = image.source;
  if (source.kind === 'registry') {
    const { client, repository } = registrySource(image);
    return {
      read: async (d, max) => {
        if (!MANIFEST_TYPES.has(d.mediaType)) return client.getBlob(repository, d, max);
        const got = await client.getManifest(repository, d.digest, d);
        if (!got) throw new VouchError('IMAGE_INVALID', `${repository} lists ${d.digest} but does not hold it`);
        return got.bytes;
      },
      referrers: async (digest) => {
        const { descriptors } = await client.listReferrers(repository, digest, MEDIA.sigstoreBundle);
        return descriptors.filter((d) => d.mediaType === MEDIA.ociManifest);
      },
    };
  }
  if (source.kind === 'docker-archive') {
    throw new VouchError('TARGET_UNSUPPORTED', 'a docker-archive is copied by a tool that keeps its digest', {
      hint: 'Push it with `skopeo copy --preserve-digests docker-archive:FILE docker://...`, then `vouch attach` its bundle.',
    });
  }
  const index = source.index ?? [];
  return {
    read: (d, max) => source.readBlob(d, max),
    // index.json lists the signatures of every image of the layout; copyReferrer keeps those of this subject.
    referrers: async () => index.filter((d) => d.artifactType === MEDIA.sigstoreBundle),
  };
}
