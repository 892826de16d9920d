/**
 * OCI / Docker manifests and descriptors, parsed as hostile input (OCI image-spec v1.1 manifest.md, image-index.md,
 * descriptor.md). Everything here is pure: bytes in, typed values out. The registry client and the local layout
 * readers both feed their bytes through `parseManifest` after checking the digest, so the same rules hold wherever
 * an image comes from.
 */
import { createHash } from 'node:crypto';
import { asArray, asObject, asString, parseStrictJson } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import { parseDigest } from './reference.ts';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  empty: 'application/vnd.oci.empty.v1+json',
  sigstoreBundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  cosignSimpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
} as const;

/** Every manifest media type we accept, in the order sent in Accept headers. Docker schema 1 is not supported. */
export const MANIFEST_MEDIA_TYPES = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest];
const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerList]);
const IMAGE_TYPES = new Set<string>([MEDIA.ociManifest, MEDIA.dockerManifest]);

/** A manifest or index is refused above 4 MiB, the limit the distribution spec lets registries enforce. */
export const MANIFEST_MAX = 4 << 20;

/** The SHA-256 of `{}`, the OCI empty descriptor (image-spec manifest.md, "Guidance for an empty descriptor"). */
export const EMPTY_JSON = Buffer.from('{}');
export const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: MEDIA.empty,
  digest: `sha256:${createHash('sha256').update(EMPTY_JSON).digest('hex')}`,
  size: 2,
};

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

/** An OCI content descriptor (image-spec descriptor.md). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: Platform;
}

export type Manifest =
  | {
      kind: 'image';
      mediaType: string;
      config: Descriptor;
      layers: Descriptor[];
      subject?: Descriptor;
      artifactType?: string;
      annotations?: Record<string, string>;
    }
  | {
      kind: 'index';
      mediaType: string;
      manifests: Descriptor[];
      subject?: Descriptor;
      annotations?: Record<string, string>;
    };

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Digest of `bytes` with the algorithm `expected` names (sha256 or sha512). */
export function digestOf(bytes: Uint8Array, expected: string): string {
  const { algorithm } = parseDigest(expected);
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Bytes fetched for a digest must hash to it (distribution spec, "Content Verification"). */
export function checkContent(bytes: Uint8Array, expected: Descriptor | string, what: string): void {
  const digest = typeof expected === 'string' ? expected : expected.digest;
  if (digestOf(bytes, digest) !== digest) {
    throw new VouchError('IMAGE_MISMATCH', `${what}: content does not hash to ${digest}`);
  }
  if (typeof expected !== 'string' && bytes.length !== expected.size) {
    throw new VouchError('IMAGE_MISMATCH', `${what}: ${bytes.length} bytes where the descriptor says ${expected.size}`);
  }
}

function annotations(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  const o = asObject(v, what, 'IMAGE_INVALID');
  for (const [k, val] of Object.entries(o)) asString(val, `${what}.${k}`, 'IMAGE_INVALID');
  return o as Record<string, string>;
}

export function parseDescriptor(v: unknown, what: string): Descriptor {
  const o = asObject(v, what, 'IMAGE_INVALID');
  const mediaType = asString(o.mediaType, `${what}.mediaType`, 'IMAGE_INVALID');
  const digest = asString(o.digest, `${what}.digest`, 'IMAGE_INVALID');
  try {
    parseDigest(digest);
  } catch (e) {
    throw new VouchError('IMAGE_INVALID', `${what}.digest is not a valid digest`, { cause: e });
  }
  // The size is an int64 in the spec; anything beyond 2^53 cannot be a real blob we would read anyway.
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) {
    throw new VouchError('IMAGE_INVALID', `${what}.size must be a non-negative integer`);
  }
  const d: Descriptor = { mediaType, digest, size: o.size };
  if (o.artifactType !== undefined) d.artifactType = asString(o.artifactType, `${what}.artifactType`, 'IMAGE_INVALID');
  const a = annotations(o.annotations, `${what}.annotations`);
  if (a) d.annotations = a;
  if (o.platform !== undefined) {
    const p = asObject(o.platform, `${what}.platform`, 'IMAGE_INVALID');
    d.platform = {
      architecture: asString(p.architecture, `${what}.platform.architecture`, 'IMAGE_INVALID'),
      os: asString(p.os, `${what}.platform.os`, 'IMAGE_INVALID'),
    };
    if (p.variant !== undefined) d.platform.variant = asString(p.variant, `${what}.platform.variant`, 'IMAGE_INVALID');
  }
  return d;
}

/**
 * Parse manifest bytes. `contentType` is what the server (or the referring descriptor) said; the document's own
 * `mediaType` must agree with it, and a document carrying both `manifests` and `layers`/`config` is refused: a
 * reader that picks the other interpretation would see another image (the ambiguity CVE-2021-41190 fixed in the
 * spec).
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined, what = 'manifest'): Manifest {
  if (bytes.length > MANIFEST_MAX)
    throw new VouchError('IMAGE_INVALID', `${what} is larger than ${MANIFEST_MAX} bytes`);
  const o = asObject(
    parseStrictJson(bytes.toString('utf8'), { code: 'IMAGE_INVALID', what, maxBytes: MANIFEST_MAX }),
    what,
    'IMAGE_INVALID',
  );
  if (o.schemaVersion !== 2) throw new VouchError('IMAGE_INVALID', `${what}: schemaVersion must be 2`);
  const declared = o.mediaType === undefined ? undefined : asString(o.mediaType, `${what}.mediaType`, 'IMAGE_INVALID');
  const header = contentType?.split(';')[0]?.trim();
  const known = (t: string | undefined) => t !== undefined && (INDEX_TYPES.has(t) || IMAGE_TYPES.has(t));
  if (declared !== undefined && known(header) && declared !== header) {
    throw new VouchError('IMAGE_INVALID', `${what}: mediaType ${declared} but served as ${header}`);
  }
  const hasIndex = o.manifests !== undefined;
  const hasImage = o.layers !== undefined || o.config !== undefined;
  if (hasIndex && hasImage) throw new VouchError('IMAGE_INVALID', `${what} is both an index and an image manifest`);
  const mediaType = declared ?? (known(header) ? header! : hasIndex ? MEDIA.ociIndex : MEDIA.ociManifest);
  if (!known(mediaType)) throw new VouchError('IMAGE_INVALID', `${what}: unsupported media type ${mediaType}`);
  const subject = o.subject === undefined ? undefined : parseDescriptor(o.subject, `${what}.subject`);
  const ann = annotations(o.annotations, `${what}.annotations`);
  if (INDEX_TYPES.has(mediaType)) {
    if (hasImage) throw new VouchError('IMAGE_INVALID', `${what}: an index must not have layers or config`);
    const manifests = asArray(o.manifests ?? [], `${what}.manifests`, 'IMAGE_INVALID').map((m, i) =>
      parseDescriptor(m, `${what}.manifests[${i}]`),
    );
    const m: Manifest = { kind: 'index', mediaType, manifests };
    if (subject) m.subject = subject;
    if (ann) m.annotations = ann;
    return m;
  }
  if (hasIndex) throw new VouchError('IMAGE_INVALID', `${what}: an image manifest must not list manifests`);
  const config = parseDescriptor(o.config, `${what}.config`);
  const layers = asArray(o.layers, `${what}.layers`, 'IMAGE_INVALID').map((l, i) =>
    parseDescriptor(l, `${what}.layers[${i}]`),
  );
  const m: Manifest = { kind: 'image', mediaType, config, layers };
  if (subject) m.subject = subject;
  if (o.artifactType !== undefined) m.artifactType = asString(o.artifactType, `${what}.artifactType`, 'IMAGE_INVALID');
  if (ann) m.annotations = ann;
  return m;
}

/** Serialise a descriptor with only the fields that are set (OCI tools compare manifests byte for byte). */
export function descriptorJson(d: Descriptor): Record<string, unknown> {
  const o: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.artifactType) o.artifactType = d.artifactType;
  if (d.annotations) o.annotations = d.annotations;
  if (d.platform) o.platform = d.platform;
  return o;
}
