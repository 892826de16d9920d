/**
 * Images on disk: an OCI image layout directory, the same layout in a tar (`oci-archive`), and `docker save` output
 * (`docker-archive`). Each resolves to the manifest digest a registry copy has, so one signature covers both:
 *
 * - OCI layouts store the manifest bytes themselves (image-spec image-layout.md): the digest is exact.
 * - A docker-archive made by Docker 25+ also carries an OCI layout (index.json, blobs/), which is used as is.
 * - An older docker-archive holds only manifest.json, the config and uncompressed layer tars. Its registry digest
 *   is that of the Docker schema 2 manifest a push that keeps the layers byte for byte would write; we rebuild
 *   exactly what containers/image writes (`skopeo copy --preserve-digests docker-archive:... docker://...`),
 *   compact JSON with the fields in its order. A push that compresses the layers (docker push, skopeo's default)
 *   makes a new manifest whose digest depends on the gzip implementation, so no tool can predict it: sign such
 *   an image after pushing it.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../../core/atomic.ts';
import { asArray, asObject, asString, parseStrictJson } from '../../core/json.ts';
import { readCapped } from '../../core/read.ts';
import { isVouchError, VouchError } from '../../errors.ts';
import {
  checkContent,
  type Descriptor,
  descriptorJson,
  MANIFEST_MAX,
  type Manifest,
  MEDIA,
  parseManifest,
  sha256Digest,
} from './manifest.ts';
import { parseDigest, parseReference } from './reference.ts';
import { TarIndex } from './tar.ts';

export interface LocalImage {
  digest: string;
  descriptor: Descriptor;
  manifest: Manifest;
  bytes: Buffer;
  /** A repository name the archive itself records (docker-archive RepoTags), if any. */
  recordedRepository?: string;
  /** Read a blob of this image by descriptor (manifests of an index), digest-checked. */
  readBlob(d: Descriptor, max: number): Promise<Buffer>;
  /**
   * The descriptors the layout's index.json lists (images, and the signature referrers vouch or other tools
   * stored beside them); absent for an archive without an OCI layout.
   */
  index?: Descriptor[];
}

type BlobReader = (path: string, max: number) => Promise<Buffer | undefined>;

/** Split `PATH[:tag|@digest]`; a colon belongs to the path when what follows contains a slash. */
export function splitLocalTarget(spec: string): { path: string; tag?: string; digest?: string } {
  const at = spec.lastIndexOf('@');
  if (at > 0 && /^[a-z0-9]+:[0-9a-f]+$/.test(spec.slice(at + 1))) {
    parseDigest(spec.slice(at + 1));
    return { path: spec.slice(0, at), digest: spec.slice(at + 1) };
  }
  const colon = spec.lastIndexOf(':');
  if (colon > 0 && !spec.slice(colon + 1).includes('/') && spec.slice(colon + 1) !== '') {
    return { path: spec.slice(0, colon), tag: spec.slice(colon + 1) };
  }
  return { path: spec };
}

function blobPath(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex}`;
}

async function fromLayout(
  read: BlobReader,
  where: string,
  select: { tag?: string; digest?: string },
): Promise<LocalImage> {
  const indexBytes = await read('index.json', MANIFEST_MAX);
  if (!indexBytes) throw new VouchError('TARGET_INVALID', `${where} has no index.json: not an OCI image layout`);
  const index = parseManifest(indexBytes, MEDIA.ociIndex, `${where}/index.json`);
  if (index.kind !== 'index') throw new VouchError('IMAGE_INVALID', `${where}/index.json is not an index`);
  let chosen: Descriptor | undefined;
  if (select.digest) {
    chosen = index.manifests.find((m) => m.digest === select.digest);
    if (!chosen) throw new VouchError('TARGET_INVALID', `${where} does not list ${select.digest}`);
  } else if (select.tag) {
    const named = index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] === select.tag);
    if (named.length !== 1) {
      throw new VouchError('TARGET_INVALID', `${where} has ${named.length} images named "${select.tag}"`);
    }
    chosen = named[0];
  } else {
    // Signature referrers stored in the layout are not images: a signed single-image layout still needs no tag.
    const images = index.manifests.filter((m) => m.artifactType !== MEDIA.sigstoreBundle);
    if (images.length !== 1) {
      throw new VouchError('TARGET_INVALID', `${where} holds ${images.length} images: name one with :tag or @digest`);
    }
    chosen = images[0];
  }
  const descriptor = chosen!;
  const readBlob = async (d: Descriptor, max: number): Promise<Buffer> => {
    if (d.size > max) throw new VouchError('IMAGE_INVALID', `blob ${d.digest} claims ${d.size} bytes (cap ${max})`);
    const b = await read(blobPath(d.digest), max);
    if (!b) throw new VouchError('IMAGE_INVALID', `${where} is missing blob ${d.digest}`);
    checkContent(b, d, `${where} blob`);
    return b;
  };
  const bytes = await readBlob(descriptor, MANIFEST_MAX);
  const manifest = parseManifest(bytes, descriptor.mediaType, `${where} manifest ${descriptor.digest}`);
  if (manifest.mediaType !== descriptor.mediaType) {
    throw new VouchError('IMAGE_MISMATCH', `${where}: manifest media type differs from its descriptor`);
  }
  const image: LocalImage = {
    digest: descriptor.digest,
    descriptor: { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size },
    manifest,
    bytes,
    readBlob,
    index: index.manifests,
  };
  return image;
}

export async function readOciLayout(spec: string): Promise<LocalImage> {
  const { path, ...select } = splitLocalTarget(spec);
  const read: BlobReader = async (rel, max) => {
    try {
      // Capped while read: a blob file longer than its descriptor (or a FIFO in its place) is never loaded whole.
      return await readCapped(join(path, rel), { maxBytes: max, code: 'IMAGE_INVALID', what: rel });
    } catch (e) {
      if (isVouchError(e, 'FILE_NOT_FOUND')) return undefined;
      throw e;
    }
  };
  const layoutFile = await read('oci-layout', 4096);
  if (!layoutFile) throw new VouchError('TARGET_INVALID', `${path} is not an OCI image layout (no oci-layout file)`);
  return fromLayout(read, path, select);
}

/** Store a blob under blobs/<alg>/<hex> unless an intact copy is already there (a damaged one is replaced). */
async function putLayoutBlob(dir: string, bytes: Buffer): Promise<Descriptor> {
  const digest = sha256Digest(bytes);
  const path = join(dir, blobPath(digest));
  try {
    // A longer file (or a FIFO planted there) is not read past the blob's size: it is damaged, and replaced.
    const current = await readCapped(path, { maxBytes: bytes.length, code: 'IMAGE_INVALID' });
    if (sha256Digest(current) === digest) return { mediaType: '', digest, size: bytes.length };
  } catch (e) {
    if (!isVouchError(e, 'FILE_NOT_FOUND') && !isVouchError(e, 'IMAGE_INVALID')) throw e;
  }
  writeFileAtomic(path, bytes, { fsync: true });
  return { mediaType: '', digest, size: bytes.length };
}

/**
 * Add an artifact (a signature referrer) to an OCI image layout, the way the image-layout spec stores any
 * manifest: its blobs and manifest under blobs/, then its descriptor appended to index.json. Blobs first, so the
 * index never names content that is not there; index.json is replaced atomically (temporary file, fsync, rename),
 * keeping every existing entry and any field we do not know. Listing the same manifest twice is avoided, so a
 * repeated call changes nothing. Two writers racing on one layout can lose an entry (as with the referrers tag of a
 * registry): the layout format has no lock.
 */
export async function addLayoutArtifact(
  spec: string,
  blobs: Buffer[],
  manifest: Buffer,
  descriptor: Descriptor,
): Promise<{ added: boolean }> {
  const { path: dir } = splitLocalTarget(spec);
  const indexPath = join(dir, 'index.json');
  const raw = await readCapped(indexPath, { maxBytes: MANIFEST_MAX, code: 'IMAGE_INVALID' });
  // Checked as an index first (strict JSON, no duplicate keys, no image fields), then edited as plain JSON so
  // unknown fields and the other entries survive untouched.
  const parsed = parseManifest(raw, MEDIA.ociIndex, indexPath);
  if (parsed.kind !== 'index') throw new VouchError('IMAGE_INVALID', `${indexPath} is not an index`);
  if (sha256Digest(manifest) !== descriptor.digest || manifest.length !== descriptor.size) {
    throw new VouchError('INTERNAL', 'artifact descriptor does not describe its manifest');
  }
  for (const b of blobs) await putLayoutBlob(dir, b);
  await putLayoutBlob(dir, manifest);
  if (parsed.manifests.some((m) => m.digest === descriptor.digest)) return { added: false };
  const doc = asObject(
    parseStrictJson(raw.toString('utf8'), { code: 'IMAGE_INVALID', what: indexPath, maxBytes: MANIFEST_MAX }),
    indexPath,
    'IMAGE_INVALID',
  );
  const manifests = doc.manifests === undefined ? [] : asArray(doc.manifests, 'manifests', 'IMAGE_INVALID');
  doc.manifests = [...manifests, descriptorJson(descriptor)];
  writeFileAtomic(indexPath, JSON.stringify(doc), { fsync: true });
  return { added: true };
}

export async function readOciArchive(spec: string): Promise<LocalImage> {
  const { path, ...select } = splitLocalTarget(spec);
  const tar = await TarIndex.open(path);
  return fromLayout((rel, max) => tar.read(rel, max), path, select);
}

/**
 * docker save output. With an OCI layout inside (Docker 25+), that layout decides. Otherwise the schema 2 manifest
 * is rebuilt from manifest.json; every layer is hashed, so this reads the whole archive once.
 */
export async function readDockerArchive(spec: string): Promise<LocalImage> {
  const { path, tag } = splitLocalTarget(spec);
  const tar = await TarIndex.open(path);
  const manifestJson = await tar.read('manifest.json', 1 << 20);
  if (!manifestJson) throw new VouchError('TARGET_INVALID', `${path} has no manifest.json: not a docker save archive`);
  const entries = asArray(
    parseStrictJson(manifestJson.toString('utf8'), { code: 'IMAGE_INVALID', what: 'manifest.json' }),
    'manifest.json',
    'IMAGE_INVALID',
  ).map((e, i) => asObject(e, `manifest.json[${i}]`, 'IMAGE_INVALID'));
  const tagsOf = (e: Record<string, unknown>) =>
    e.RepoTags === undefined || e.RepoTags === null
      ? []
      : asArray(e.RepoTags, 'RepoTags', 'IMAGE_INVALID').map((t) => asString(t, 'RepoTags[]', 'IMAGE_INVALID'));
  const matches = tag ? entries.filter((e) => tagsOf(e).some((t) => t === tag || t.endsWith(`:${tag}`))) : entries;
  if (matches.length !== 1) {
    throw new VouchError('TARGET_INVALID', `${path} holds ${matches.length} matching images: name one with :repo:tag`);
  }
  const entry = matches[0]!;
  const repoTag = tagsOf(entry)[0];
  const recordedRepository = repoTag ? parseReference(repoTag).name : undefined;
  if (tar.entries.has('index.json') && tar.entries.has('oci-layout')) {
    // Docker 25+: find the layout entry whose config is the one manifest.json names.
    const image = await fromLayout((rel, max) => tar.read(rel, max), path, repoTag ? { tag: repoTag } : {}).catch(() =>
      fromLayout((rel, max) => tar.read(rel, max), path, {}),
    );
    if (recordedRepository) image.recordedRepository = recordedRepository;
    return image;
  }
  const configName = asString(entry.Config, 'Config', 'IMAGE_INVALID');
  const config = await tar.read(configName, 4 << 20);
  if (!config) throw new VouchError('IMAGE_INVALID', `${path} lacks its config ${configName}`);
  const configDigest = sha256Digest(config);
  const layers: { mediaType: string; size: number; digest: string }[] = [];
  for (const [i, l] of asArray(entry.Layers, 'Layers', 'IMAGE_INVALID').entries()) {
    const name = asString(l, `Layers[${i}]`, 'IMAGE_INVALID');
    const h = await tar.sha256(name);
    if (!h) throw new VouchError('IMAGE_INVALID', `${path} lacks layer ${name}`);
    // containers/image keeps the schema 2 "tar.gzip" media type even for the uncompressed blob it pushes.
    layers.push({ mediaType: MEDIA.dockerLayer, size: h.size, digest: h.digest });
  }
  // Field order as containers/image serialises schema 2 (mediaType, size, digest): the digest depends on it.
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifest,
      config: { mediaType: MEDIA.dockerConfig, size: config.length, digest: configDigest },
      layers,
    }),
  );
  const manifest = parseManifest(bytes, MEDIA.dockerManifest, `${path} manifest`);
  const digest = sha256Digest(bytes);
  const image: LocalImage = {
    digest,
    descriptor: { mediaType: MEDIA.dockerManifest, digest, size: bytes.length },
    manifest,
    bytes,
    readBlob: async (d) => {
      throw new VouchError('TARGET_UNSUPPORTED', `docker-archive has no blob ${d.digest} by digest`);
    },
  };
  if (recordedRepository) image.recordedRepository = recordedRepository;
  return image;
}
