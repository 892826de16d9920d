/**
 * Pinning an image to one manifest digest. The digest is the only identity of an image: a tag is resolved once, by
 * hashing what the registry serves, and everything afterwards (signing, signature lookup, statement checks) uses
 * that digest. Local images (oci-layout, oci-archive, docker-archive) resolve to the digest their pushed copy will
 * have, and are bound to the repository they are signed for.
 */
import { VouchError } from '../../errors.ts';
import type { Target } from '../target.ts';
import { readDockerArchive, readOciArchive, readOciLayout } from './local.ts';
import { type Descriptor, MANIFEST_MAX, type Manifest, MEDIA, type Platform, parseManifest } from './manifest.ts';
import { type ImageReference, parseReference } from './reference.ts';
import { RegistryClient, type RegistryOptions } from './registry.ts';

export type ImageSource =
  | { kind: 'registry'; reference: ImageReference; client: RegistryClient }
  | {
      kind: 'oci-layout' | 'oci-archive' | 'docker-archive';
      path: string;
      /** Reads a blob of the local image by descriptor, digest- and size-checked (platform manifests of an index). */
      readBlob: (d: Descriptor, max: number) => Promise<Buffer>;
      /** The layout's index.json entries (where signatures stored in the layout are listed), if it has one. */
      index?: Descriptor[];
    };

/**
 * An image pinned to one manifest digest. `repository` is the canonical name (registry/path) the signature is
 * bound to; for local images it comes from the caller or, for a docker-archive, from its RepoTags.
 */
export interface ResolvedImage {
  repository: string;
  digest: string;
  descriptor: Descriptor;
  manifest: Manifest;
  /** The exact manifest bytes, already checked against `digest`. */
  bytes: Buffer;
  source: ImageSource;
}

export interface ResolveOptions {
  /** Repository a local image is signed/verified for (e.g. where it will be pushed). */
  repository?: string;
  registry?: RegistryOptions;
  /** Reuse a client (one connection pool and token cache for several images of one registry). */
  client?: RegistryClient;
}

const clients = new WeakMap<RegistryOptions, Map<string, RegistryClient>>();
const DEFAULT_OPTIONS: RegistryOptions = {};

function clientFor(registry: string, options: RegistryOptions = DEFAULT_OPTIONS): RegistryClient {
  let m = clients.get(options);
  if (!m) {
    m = new Map();
    clients.set(options, m);
  }
  let c = m.get(registry);
  if (!c) {
    c = new RegistryClient(registry, options);
    m.set(registry, c);
  }
  return c;
}

/** Pin a target (oci:REF, oci-layout:, oci-archive:, docker-archive:) to a manifest digest. */
export async function resolveImage(target: Target, options: ResolveOptions = {}): Promise<ResolvedImage> {
  switch (target.kind) {
    case 'oci': {
      const reference = parseReference(target.reference);
      const client = options.client ?? clientFor(reference.registry, options.registry);
      // With both a tag and a digest the digest wins, as in docker: the tag is a label, not a constraint.
      const ref = reference.digest ?? reference.tag ?? 'latest';
      const got = await client.getManifest(reference.repository, ref);
      if (!got)
        throw new VouchError('TARGET_INVALID', `image ${target.reference} not found`, {
          hint: 'Check the name and tag.',
        });
      return {
        repository: reference.name,
        digest: got.digest,
        descriptor: got.descriptor,
        manifest: got.manifest,
        bytes: got.bytes,
        source: { kind: 'registry', reference: { ...reference, digest: got.digest }, client },
      };
    }
    case 'oci-layout':
    case 'oci-archive':
    case 'docker-archive': {
      const local =
        target.kind === 'oci-layout'
          ? await readOciLayout(target.path)
          : target.kind === 'oci-archive'
            ? await readOciArchive(target.path)
            : await readDockerArchive(target.path);
      const repo = options.repository ?? local.recordedRepository;
      if (!repo) {
        throw new VouchError('USAGE', `${target.kind} images need the repository they are signed for`, {
          hint: 'Pass --repository REGISTRY/NAME (where the image is or will be pushed).',
        });
      }
      const r = parseReference(repo);
      return {
        repository: r.name,
        digest: local.digest,
        descriptor: local.descriptor,
        manifest: local.manifest,
        bytes: local.bytes,
        source: {
          kind: target.kind,
          path: target.path,
          readBlob: local.readBlob,
          ...(local.index ? { index: local.index } : {}),
        },
      };
    }
    case 'file':
    case 'stdin':
    case 'digest':
    case 'dir':
      throw new VouchError('TARGET_UNSUPPORTED', `${target.kind} is not an image target`);
  }
}

export function registrySource(image: ResolvedImage): { client: RegistryClient; repository: string } {
  if (image.source.kind !== 'registry') {
    throw new VouchError('TARGET_UNSUPPORTED', `${image.source.kind} images carry no attached signatures`, {
      hint: 'Verify a local image with --bundle FILE, or verify the pushed image.',
    });
  }
  return { client: image.source.client, repository: image.source.reference.repository };
}

/** The platform manifests an index lists, resolved (and digest-checked) through the same registry. */
export async function platformManifests(image: ResolvedImage): Promise<(ResolvedImage & { platform?: Platform })[]> {
  if (image.manifest.kind !== 'index') return [];
  const source = image.source;
  const out: (ResolvedImage & { platform?: Platform })[] = [];
  for (const d of image.manifest.manifests) {
    if (d.mediaType !== MEDIA.ociManifest && d.mediaType !== MEDIA.dockerManifest) continue;
    let child: ResolvedImage & { platform?: Platform };
    if (source.kind === 'registry') {
      const got = await source.client.getManifest(source.reference.repository, d.digest, d);
      if (!got) throw new VouchError('IMAGE_INVALID', `index lists ${d.digest}, which the registry does not have`);
      child = {
        repository: image.repository,
        digest: got.digest,
        descriptor: got.descriptor,
        manifest: got.manifest,
        bytes: got.bytes,
        source: { ...source, reference: { ...source.reference, digest: got.digest } },
      };
    } else {
      const bytes = await source.readBlob(d, MANIFEST_MAX);
      const manifest = parseManifest(bytes, d.mediaType, `manifest ${d.digest}`);
      if (manifest.mediaType !== d.mediaType) {
        throw new VouchError('IMAGE_MISMATCH', `manifest ${d.digest}: media type differs from its descriptor`);
      }
      child = {
        repository: image.repository,
        digest: d.digest,
        descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size },
        manifest,
        bytes,
        source,
      };
    }
    if (d.platform) child.platform = d.platform;
    out.push(child);
  }
  return out;
}

/**
 * The platform manifest of an index for `os/arch[/variant]` (e.g. linux/arm64/v8), resolved and digest-checked.
 * To verify it, pass the index as `viaIndex`: a signature on the index covers the manifests it lists.
 */
export async function selectPlatform(index: ResolvedImage, platform: string): Promise<ResolvedImage> {
  const [os, architecture, variant, extra] = platform.split('/');
  if (!os || !architecture || extra !== undefined) {
    throw new VouchError('USAGE', `platform "${platform.slice(0, 40)}" is not os/arch[/variant]`);
  }
  if (index.manifest.kind !== 'index')
    throw new VouchError('USAGE', 'the image is not an index: --platform does not apply');
  const matches = (await platformManifests(index)).filter(
    (m) =>
      m.platform?.os === os &&
      m.platform.architecture === architecture &&
      (variant === undefined || m.platform.variant === variant),
  );
  if (matches.length !== 1) {
    throw new VouchError('TARGET_INVALID', `the index lists ${matches.length} manifests for ${platform}`);
  }
  return matches[0]!;
}

/** The images `sign` must sign: the image itself, and with `recursive` every platform manifest of an index. */
export async function imagesToSign(
  image: ResolvedImage,
  options: { recursive?: boolean } = {},
): Promise<ResolvedImage[]> {
  return options.recursive && image.manifest.kind === 'index' ? [image, ...(await platformManifests(image))] : [image];
}
